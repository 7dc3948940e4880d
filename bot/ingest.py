"""Ingest: find files, skip unchanged ones by content hash, embed new passages, commit.

Each file is committed on its own (its catalog record is the commit point), so a file that
fails leaves its previous version in place and never blocks the others.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from bot.chunking import chunk_document
from bot.loaders import SUPPORTED_SUFFIXES, LoaderError, UnsupportedType, load
from bot.models import Chunk, FileReport, IngestReport
from bot.settings import Settings
from bot.store import FileCatalog, FileRecord, StoreError, VectorIndex

log = logging.getLogger(__name__)

# ``progress(done, total, current file)``; called once more with ``current == ""`` at the end.
Progress = Callable[[int, int, str], None]

# New passages gathered across files before one embedding call: large batches keep the
# model busy, and each file is still committed on its own.
EMBED_GROUP = 256


@dataclass
class _Pending:
    """A file read and chunked, waiting for its new passages to be embedded."""

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


class Ingester:
    """Adds, updates and removes documents in a vector index and its file catalog."""

    def __init__(
        self, settings: Settings, embedder: Embeddings, index: VectorIndex, catalog: FileCatalog
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.catalog = catalog

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
            known: dict[str, FileRecord] | None = self.catalog.file_records(
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
                record = self.catalog.file_record(source) if known is None else known.get(source)
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
            self.index.sweep()
        except StoreError as exc:
            log.warning("could not sweep unused passages: %s", exc)
        return report

    def remove(self, source: str) -> bool:
        """Remove one document (by its stored source path) and its passages."""
        removed = self.catalog.remove_file(source)
        if removed:
            self.index.sweep()
        return removed

    def _commit(self, pending: list[_Pending]) -> list[FileReport]:
        if not pending:
            return []
        try:
            wanted = {c.id: c for p in pending for c in p.chunks}
            missing = self.index.missing_ids(wanted)
            new = [wanted[cid] for cid in wanted if cid in missing]
            vectors = self.embedder.embed_documents([c.text for c in new])
            self.index.add_vectors(new, vectors)
        except Exception as exc:
            return [FileReport(p.source, "failed", message=_message(exc)) for p in pending]
        embedded_by_file = _attribute(pending, missing)
        done = {
            p.source: FileReport(p.source, p.status, len(p.chunks), embedded_by_file[p.source])
            for p in pending
        }
        try:
            self.catalog.commit_files(
                [FileRecord(p.source, p.sha256, p.title, tuple(p.chunks)) for p in pending]
            )
            return list(done.values())
        except StoreError:
            pass
        # The group write failed: commit file by file, so each file gets its own verdict.
        reports = []
        for p in pending:
            try:
                self.catalog.commit_file(p.source, p.sha256, p.title, p.chunks)
            except StoreError as exc:
                reports.append(FileReport(p.source, "failed", message=str(exc)))
                continue
            reports.append(done[p.source])
        return reports

    def _prune(self, paths: Sequence[Path | str]) -> list[FileReport]:
        roots = [Path(p).resolve() for p in paths]
        reports = []
        for info in self.catalog.sources():
            src = Path(info.source)
            under = any(src == r or src.is_relative_to(r) for r in roots)
            if under and not src.exists() and self.catalog.remove_file(info.source):
                reports.append(FileReport(info.source, "removed", info.chunks))
        return reports


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
