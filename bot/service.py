"""The core every front end calls: :meth:`Bot.ingest` and :meth:`Bot.ask`."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langchain_core.embeddings import Embeddings

from bot.answer import Draft, ExtractiveAnswerer, check_reply, refusal
from bot.chunking import chunk_document
from bot.conversation import Turn, condense
from bot.guard import addresses_the_bot, clean_question, is_steering
from bot.llm import NOT_IN_DOCUMENTS, LLMError, OpenAIChat
from bot.loaders import SUPPORTED_SUFFIXES, LoaderError, UnsupportedType, load
from bot.models import Answer, Chunk, FileReport, IngestReport, Scored, SourceInfo
from bot.retrieval import Retriever
from bot.settings import Settings
from bot.store import ChunkStore, FileRecord, Snapshot, StoreError

log = logging.getLogger(__name__)

Backend = Literal["extractive", "openai"]
Progress = Callable[[int, int, str], None]

# New passages gathered across files before one embedding call: large batches keep the
# model busy, and each file is still committed on its own.
EMBED_GROUP = 256


@dataclass
class _Pending:
    path: Path
    source: str
    sha256: str
    title: str
    chunks: list[Chunk]
    status: str


def file_sha256(path: Path) -> str:
    """Content hash of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[FileReport]]:
    """Files to ingest under ``paths``, and reports for what was skipped on the way.

    Directories are walked recursively; symbolic links that lead outside the folder being
    walked are not followed.
    """
    files: list[Path] = []
    skipped: list[FileReport] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root = path.resolve()
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    candidate = Path(dirpath) / name
                    if candidate.is_symlink() and not candidate.resolve().is_relative_to(root):
                        skipped.append(FileReport(str(candidate), "skipped", message=(
                            "symbolic link to a file outside the folder; not followed")))
                        continue
                    if candidate.suffix.lower() not in SUPPORTED_SUFFIXES:
                        skipped.append(FileReport(str(candidate), "skipped", message=(
                            f"unsupported file type {candidate.suffix or '(none)'!r}")))
                        continue
                    files.append(candidate)
        elif path.is_file():
            files.append(path)
        else:
            skipped.append(FileReport(str(path), "failed", message="no such file or folder"))
    return files, skipped


class Bot:
    """Grounded, cited question answering over the documents in one store."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embeddings,
        store: ChunkStore,
        chat: OpenAIChat | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.chat = chat
        self.retriever = Retriever(store, embedder, settings)
        self.extractive = ExtractiveAnswerer(
            embedder, settings.min_answer_score, settings.max_answer_sentences
        )

    @property
    def backends(self) -> list[Backend]:
        """Answer backends available in this configuration."""
        return ["extractive", "openai"] if self.chat is not None else ["extractive"]

    # ----- documents -------------------------------------------------------------------

    def ingest(
        self, paths: Sequence[Path | str], prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Add, update (and with ``prune``, remove) documents; unchanged files cost nothing."""
        files, skipped = discover(Path(p) for p in paths)
        report = IngestReport(list(skipped))
        pending: list[_Pending] = []
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        try:
            # One batched read instead of one round trip per file (it adds up on a server).
            known: dict[str, FileRecord] | None = self.store.file_records(
                [str(p.resolve()) for p in files]
            )
        except StoreError:
            known = None
        for done, path in enumerate(files, start=1):
            if progress:
                progress(done - 1, len(files), str(path))
            source = str(path.resolve())
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise LoaderError(
                        f"file is {size / 1e6:.1f} MB, over the {self.settings.max_file_mb:g} "
                        "MB limit (setting BOT_MAX_FILE_MB)"
                    )
                sha = file_sha256(path)
                record = self.store.file_record(source) if known is None else known.get(source)
                if record is not None and record.sha256 == sha:
                    report.files.append(FileReport(source, "unchanged", len(record.chunks)))
                    continue
                doc = load(path, max_bytes=max_bytes)
                chunks = chunk_document(
                    doc, source, self.settings.chunk_size, self.settings.chunk_overlap
                )
            except UnsupportedType as exc:
                report.files.append(FileReport(source, "skipped", message=str(exc)))
                continue
            except (LoaderError, OSError) as exc:
                report.files.append(FileReport(source, "failed", message=_message(exc)))
                continue
            except StoreError as exc:
                report.files.append(FileReport(source, "failed", message=str(exc)))
                continue
            status = "updated" if record is not None else "added"
            pending.append(_Pending(path, source, sha, doc.title, chunks, status))
            if sum(len(p.chunks) for p in pending) >= EMBED_GROUP:
                report.files.extend(self._commit(pending))
                pending = []
        report.files.extend(self._commit(pending))
        if progress:
            progress(len(files), len(files), "")
        if prune:
            report.files.extend(self._prune(paths))
        try:
            self.store.sweep()
        except StoreError as exc:
            log.warning("could not sweep unused passages: %s", exc)
        return report

    def _commit(self, pending: list[_Pending]) -> list[FileReport]:
        if not pending:
            return []
        try:
            wanted = {c.id: c for p in pending for c in p.chunks}
            missing = self.store.missing_ids(wanted)
            new = [wanted[cid] for cid in wanted if cid in missing]
            vectors = self.embedder.embed_documents([c.text for c in new])
            self.store.add_vectors(new, vectors)
        except Exception as exc:
            return [FileReport(p.source, "failed", message=_message(exc)) for p in pending]
        embedded_by_file = _attribute(pending, missing)
        done = {
            p.source: FileReport(p.source, p.status, len(p.chunks), embedded_by_file[p.source])
            for p in pending
        }
        try:
            self.store.commit_files(
                [FileRecord(p.source, p.sha256, p.title, tuple(p.chunks)) for p in pending]
            )
            return list(done.values())
        except StoreError:
            pass
        # The group write failed: commit file by file, so each file gets its own verdict.
        reports = []
        for p in pending:
            try:
                self.store.commit_file(p.source, p.sha256, p.title, p.chunks)
            except StoreError as exc:
                reports.append(FileReport(p.source, "failed", message=str(exc)))
                continue
            reports.append(done[p.source])
        return reports

    def _prune(self, paths: Sequence[Path | str]) -> list[FileReport]:
        roots = [Path(p).resolve() for p in paths]
        reports = []
        for info in self.store.sources():
            src = Path(info.source)
            under = any(src == r or src.is_relative_to(r) for r in roots)
            if under and not src.exists() and self.store.remove_file(info.source):
                reports.append(FileReport(info.source, "removed", info.chunks))
        return reports

    def remove(self, source: str) -> bool:
        """Remove one document (by its stored source path) and its passages."""
        removed = self.store.remove_file(source)
        if removed:
            self.store.sweep()
        return removed

    def sources(self) -> list[SourceInfo]:
        """The documents in the store."""
        return self.store.sources()

    # ----- questions -------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
    ) -> Answer:
        """Answer ``question`` (a follow-up to ``history``) from the documents, with citations."""
        final: Answer | None = None
        for event in self.ask_stream(question, history, backend=backend, top_k=top_k):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, but first yields the generated text as it streams (LLM backend).

        The last item is always the checked :class:`Answer`; streamed text is a preview and
        may differ from it, since unsupported sentences are removed after the check.
        """
        started = time.perf_counter()
        backend = backend or self.settings.answer_backend
        if backend == "openai" and self.chat is None:
            raise ValueError("the openai backend is not configured (set OPENAI_BASE_URL)")
        text = clean_question(question, self.settings.max_question_chars)
        notes: list[str] = []
        standalone = self._standalone(text, history, backend, notes)
        if is_steering(text):
            draft = refusal("The question asks the bot to step outside its documents.")
            yield self._finish(text, standalone, draft, [], backend, notes, started)
            return
        snap = self.store.snapshot()
        retrieved = self.retriever.retrieve(standalone, top_k, snap)
        # Documents are data: a passage that tries to instruct the model is never evidence.
        trusted = [s for s in retrieved if not addresses_the_bot(s.chunk.text)]
        if len(trusted) < len(retrieved):
            notes.append(
                f"{len(retrieved) - len(trusted)} passage(s) were set aside: they hold "
                "instructions addressed to the bot, not information."
            )
            retrieved = trusted
        if backend == "openai" and self.chat is not None:
            draft = yield from self._generate(standalone, retrieved, snap, notes)
        else:
            draft = self.extractive.answer(standalone, retrieved, snap)
        yield self._finish(text, standalone, draft, retrieved, backend, notes, started)

    def _standalone(
        self, text: str, history: Sequence[Turn], backend: str, notes: list[str]
    ) -> str:
        if not history:
            return text
        if backend == "openai" and self.chat is not None:
            try:
                return self.chat.rewrite(text, history)
            except LLMError as exc:
                notes.append(f"The language model could not rewrite the question ({exc}).")
        return condense(text, history)

    def _generate(
        self, question: str, retrieved: list[Scored], snap: Snapshot, notes: list[str]
    ) -> Generator[str, None, Draft]:
        # Evidence gate before any generation: a prompt alone does not decide refusals.
        candidates = self.extractive.score_sentences(question, retrieved, snap)
        if not candidates or candidates[0].score < 0.75 * self.settings.min_answer_score:
            return refusal()
        assert self.chat is not None
        parts: list[str] = []
        # The client's timeout bounds each read; a reply trickling in must not run past
        # BOT_LLM_TIMEOUT in total either.
        deadline = time.monotonic() + self.settings.llm_timeout
        stream = self.chat.stream_answer(question, retrieved)
        try:
            for delta in stream:
                if time.monotonic() > deadline:
                    raise LLMError(f"no complete reply within {self.settings.llm_timeout:g} s")
                parts.append(delta)
                yield delta
        except LLMError as exc:
            notes.append(
                f"The language model was unavailable ({exc}); this is the extractive answer."
            )
            return self.extractive.answer(question, retrieved, snap)
        finally:
            stream.close()
        reply = "".join(parts).strip()
        if reply and NOT_IN_DOCUMENTS in reply:
            return refusal()
        checked = check_reply(reply, retrieved, self.embedder) if reply else refusal()
        if checked.refused:
            notes.append(
                "The language model's reply had no sentence cited and supported by the "
                "documents; this is the extractive answer."
            )
            return self.extractive.answer(question, retrieved, snap)
        return checked

    def _finish(
        self, question: str, standalone: str, draft: Draft, retrieved: list[Scored],
        backend: str, notes: list[str], started: float,
    ) -> Answer:
        return Answer(
            question=question, standalone_question=standalone, text=draft.text,
            refused=draft.refused, citations=draft.citations, retrieved=retrieved,
            backend=backend, notes=notes + draft.notes,
            latency_s=time.perf_counter() - started, confidence=draft.confidence,
        )


def _attribute(pending: list[_Pending], missing: set[str]) -> dict[str, int]:
    """How many newly embedded passages each file brought (first file to need one wins)."""
    counted: set[str] = set()
    out = {}
    for p in pending:
        ids = {c.id for c in p.chunks if c.id in missing and c.id not in counted}
        counted |= ids
        out[p.source] = len(ids)
    return out


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read file: {exc.strerror}"
    return str(exc) or type(exc).__name__


def build_bot(
    settings: Settings,
    *,
    embedder: Embeddings | None = None,
    store: ChunkStore | None = None,
    chat: OpenAIChat | None = None,
) -> Bot:
    """Wire a :class:`Bot`: the one place where its parts are built.

    Parts passed in are used as given (a test's shared embedder, an eval's private store);
    the rest come from ``settings``: the embedder, the store, and the LLM when one is set.
    """
    if embedder is None:
        from bot.embeddings import build_embedder

        embedder = build_embedder(settings)
    if store is None:
        from bot.store import make_client

        store = ChunkStore(make_client(settings), settings.collection)
    if chat is None and settings.llm_configured:
        from bot.llm import build_chat_model

        chat = OpenAIChat(build_chat_model(settings))
    return Bot(settings, embedder, store, chat)
