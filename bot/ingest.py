"""Ingest: find files, skip unchanged ones by content hash, embed new passages, commit.

Each file is committed on its own (its catalog record is the commit point), so a file that
fails leaves its previous version in place and never blocks the others. Every write happens
under the data folder's :class:`~bot.writelock.WriteLock`, one commit group at a time, so two
processes ingesting at once take turns instead of sweeping away each other's passages.

Only regular files are read (a FIFO would block the run forever), and each file is bounded:
its size, the text it yields and the passages it is cut into all have a limit.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.chunking import chunk_with, recipe
from bot.guard import addresses_the_bot
from bot.ledger import Chain, Ledger, store_fingerprint
from bot.loaders import SUPPORTED_SUFFIXES, EmptyFile, LoaderError, UnsupportedType, load
from bot.models import Chunk, FileReport, IngestReport, SourceInfo
from bot.settings import Settings
from bot.store import FileCatalog, FileRecord, StoreError, VectorIndex, store_folder
from bot.writelock import WriteLock

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

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
    note: str = ""


def file_sha256(path: Path) -> str:
    """Content hash of a regular file, read in blocks."""
    digest = hashlib.sha256()
    # Non-blocking open: a FIFO put in the file's place since it was listed must not hang.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LoaderError(_not_regular(os.fstat(fd).st_mode))
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _not_regular(mode: int) -> str:
    kind = (
        "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
    )
    return f"{kind}, not a regular file; not read"


def _check_file(path: Path) -> str:
    """Why ``path`` cannot be read as a document (a loop, a FIFO...), or "" when it can."""
    try:
        mode = path.stat().st_mode
    except RuntimeError:
        return "symbolic link loop; not followed"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop; not followed"
        if path.is_symlink():
            return "broken symbolic link; not followed"
        return _message(exc)
    return "" if stat.S_ISREG(mode) else _not_regular(mode)


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
                    why = _check_file(candidate)
                    if why:
                        skipped.append(FileReport(str(candidate), "skipped", message=why))
                        continue
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
        elif path.exists() or path.is_symlink():
            skipped.append(FileReport(str(path), "skipped", message=_check_file(path)))
        else:
            skipped.append(FileReport(str(path), "failed", message="no such file or folder"))
    return files, skipped


def unchanged_report(
    settings: Settings, paths: Sequence[Path | str], prune: bool = False,
    progress: Progress | None = None,
) -> IngestReport | None:
    """The report of ingesting ``paths`` when the ingest ledger shows that every file is
    stored unchanged and nothing was written to the store since; ``None`` whenever the full
    ingest has anything to check or do. Opens neither the store nor the embedder."""
    if settings.chroma_host:
        return None
    ledger = Ledger.read(settings.data_dir)
    if ledger is None or ledger.collection != settings.collection \
            or ledger.model != settings.embedding_identity:
        return None
    try:
        if ledger.fingerprint != store_fingerprint(store_folder(settings), settings.collection):
            return None
    except StoreError:
        return None
    files, skipped = discover(Path(p) for p in paths)
    report = IngestReport(list(skipped))
    made_by = recipe(settings)
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    for done, path in enumerate(files):
        if progress:
            progress(done, len(files), str(path))
        source = str(path.resolve())
        entry = ledger.files.get(source)
        try:
            if entry is None or path.stat().st_size > max_bytes \
                    or (entry[0], entry[1]) != (file_sha256(path), made_by):
                return None
        except (LoaderError, OSError):
            return None
        report.files.append(FileReport(source, "unchanged", entry[2]))
    stale = {
        str(p): sum(1 for s in ledger.sources
                    if Path(s).is_relative_to(Path(p).resolve()) and not Path(s).exists())
        for p in paths if prune or Path(p).is_dir()
    }
    if prune and any(stale.values()):
        return None
    if not prune:
        report.gone = {p: n for p, n in stale.items() if n}
    if progress:
        progress(len(files), len(files), "")
    return report


class Ingester:
    """Adds, updates and removes documents in a vector index and its file catalog."""

    def __init__(
        self, settings: Settings, embedder: Embeddings, index: VectorIndex, catalog: FileCatalog,
        lock: WriteLock | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.catalog = catalog
        self.lock = lock or WriteLock(settings.data_dir, settings.write_lock_timeout)
        # Recorded with every file this ingester commits; a stored file made otherwise is
        # not unchanged.
        self.recipe = recipe(settings)
        # Passages this run replaced or failed to publish: the ones the sweep checks.
        self._replaced: set[str] = set()
        # This run's writes, from which it leaves the ingest ledger (None: it leaves none).
        self._run: Chain | None = None

    def ingest(
        self, paths: Sequence[Path | str], prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Add, update (and with ``prune``, remove) documents; unchanged files cost nothing."""
        files, skipped = discover(Path(p) for p in paths)
        report = IngestReport(list(skipped))
        self._run = self._start_run()
        pending: list[_Pending] = []
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        try:
            # One batched read instead of one round trip per file (it adds up on a server).
            known: dict[str, FileRecord] | None = self.catalog.file_records(
                [str(p.resolve()) for p in files]
            )
        except StoreError:
            known = None
        lost = self._without_vectors(known.values()) if known else set()
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
                if known is None and record is not None:
                    lost = self._without_vectors([record])
                # A file whose passages lost their vectors is not unchanged: it is embedded
                # again, or dense search would never find it.
                if record is not None and record.sha256 == sha and record.recipe == self.recipe \
                        and not any(c.id in lost for c in record.chunks):
                    report.files.append(FileReport(source, "unchanged", len(record.chunks)))
                    if self._run:
                        self._run.verified[source] = (sha, self.recipe, len(record.chunks))
                    continue
                doc = load(path, max_bytes=max_bytes)
                self._check_text(len(doc.text))
                chunks = chunk_with(doc, source, self.settings)
                self._check_passages(len(chunks))
            except (UnsupportedType, EmptyFile) as exc:
                # Nothing to read is no failure; a stored version of the file stays as it was.
                report.files.append(FileReport(source, "skipped", message=str(exc)))
                continue
            except (LoaderError, OSError) as exc:
                report.files.append(FileReport(source, "failed", message=_message(exc)))
                continue
            except StoreError as exc:
                report.files.append(FileReport(source, "failed", message=str(exc), stage="store"))
                continue
            status = "updated" if record is not None else "added"
            if record is not None:
                self._replaced.update(c.id for c in record.chunks)
            pending.append(_Pending(path, source, sha, doc.title, chunks, status, _planted(chunks)))
            if sum(len(p.chunks) for p in pending) >= EMBED_GROUP:
                report.files.extend(self._commit(pending))
                pending = []
        report.files.extend(self._commit(pending))
        if progress:
            progress(len(files), len(files), "")
        if prune:
            with self.lock.held():
                report.files.extend(self._prune(paths))
        else:
            report.gone = self._gone(paths)
        try:
            with self.lock.held():
                self.index.sweep(self._replaced)
        except StoreError as exc:
            log.warning("could not sweep unused passages: %s", exc)
        self._leave_ledger()
        return report

    def remove(self, source: str) -> bool:
        """Remove one document (by its stored source path) and its passages."""
        self._run = self._start_run()
        with self.lock.held():
            record = self.catalog.file_record(source)
            removed = self.catalog.remove_file(source)
            if removed:
                self._wrote([source])
                self.index.sweep([c.id for c in record.chunks] if record else None)
        self._leave_ledger()
        return removed

    def _start_run(self) -> Chain | None:
        """This run's account, carrying the ledger's files when the ledger is the store's
        current one; ``None`` when the store cannot say where it stands."""
        try:
            generation, seq = self.catalog.commit_state()
            folder = self.catalog.local_folder()
        except StoreError:
            return None
        ledger = Ledger.read(self.settings.data_dir)
        current = (
            ledger is not None and folder is not None and (ledger.generation, ledger.seq) == (
                generation, seq)
            and (ledger.collection, ledger.model) == (
                self.settings.collection, self.settings.embedding_identity)
            and ledger.fingerprint == store_fingerprint(folder, self.settings.collection)
        )
        return Chain(seq, ledger.files if current and ledger else {})

    def _wrote(self, sources: Iterable[str]) -> None:
        if self._run:
            self._run.wrote(sources)

    def _unsure(self, sources: Iterable[str]) -> None:
        """``sources`` may have been written by a commit that failed half-way."""
        if self._run:
            self._run.touched.update(sources)

    def _leave_ledger(self) -> None:
        """Write the ledger for the next run, or remove it when this run cannot vouch for
        the store (another writer committed meanwhile, a server store, an error)."""
        data_dir = self.settings.data_dir
        run, self._run = self._run, None
        try:
            with self.lock.held():
                folder = self.catalog.local_folder()
                generation, seq = self.catalog.commit_state()
                fingerprint = (
                    store_fingerprint(folder, self.settings.collection) if folder else None)
                if run is None or fingerprint is None or seq != run.seq + run.commits:
                    Ledger.forget(data_dir)
                    return
                Ledger(
                    self.settings.collection, self.settings.embedding_identity, generation,
                    seq, fingerprint, run.entries(), [s.source for s in self.catalog.sources()],
                ).write(data_dir)
        except (StoreError, OSError) as exc:
            log.warning("could not leave the ingest ledger: %s", exc)
            with contextlib.suppress(OSError):
                Ledger.forget(data_dir)

    def _without_vectors(self, records: Iterable[FileRecord]) -> set[str]:
        """Passages of committed ``records`` that have no stored vector."""
        try:
            return self.index.missing_ids(c.id for r in records for c in r.chunks)
        except StoreError:
            return set()

    def _check_text(self, chars: int) -> None:
        limit = self.settings.max_text_mb * 1_000_000
        if chars > limit:
            raise LoaderError(
                f"file yields {chars / 1e6:.1f} MB of text, over the "
                f"{self.settings.max_text_mb:g} MB limit (setting BOT_MAX_TEXT_MB)"
            )

    def _check_passages(self, count: int) -> None:
        if count > self.settings.max_passages_per_file:
            raise LoaderError(
                f"file makes {count:,} passages, over the limit of "
                f"{self.settings.max_passages_per_file:,} (setting BOT_MAX_PASSAGES_PER_FILE)"
            )

    def _commit(self, pending: list[_Pending]) -> list[FileReport]:
        if not pending:
            return []
        try:
            wanted = {c.id: c for p in pending for c in p.chunks}
            # Embedding is the slow part: done before the lock, so other writers wait less.
            missing = self.index.missing_ids(wanted)
            vectors = self._embed([wanted[cid] for cid in wanted if cid in missing])
            with self.lock.held():
                self.index.check_model(self.settings.embedding_identity, claim=True)
                # Another writer may have swept passages that were stored a moment ago.
                gone = self.index.missing_ids(wanted) - set(vectors)
                vectors.update(self._embed([wanted[cid] for cid in gone]))
                missing |= gone
                new = [wanted[cid] for cid in vectors]
                self.index.add_vectors(new, [vectors[c.id] for c in new])
                return self._publish(pending, missing)
        except Exception as exc:
            self._replaced.update(c.id for p in pending for c in p.chunks)
            self._unsure(p.source for p in pending)
            return [FileReport(p.source, "failed", message=_message(exc), stage="store")
                    for p in pending]

    def _embed(self, chunks: list[Chunk]) -> dict[str, list[float]]:
        if not chunks:
            return {}
        vectors = self.embedder.embed_documents([c.searched_text for c in chunks])
        return {c.id: v for c, v in zip(chunks, vectors, strict=True)}

    def _publish(self, pending: list[_Pending], missing: set[str]) -> list[FileReport]:
        embedded_by_file = _attribute(pending, missing)
        done = {
            p.source: FileReport(
                p.source, p.status, len(p.chunks), embedded_by_file[p.source], p.note
            )
            for p in pending
        }
        try:
            self.catalog.commit_files(
                [self._record(p) for p in pending])
            self._wrote(p.source for p in pending)
            self._vouch(pending)
            return list(done.values())
        except StoreError:
            self._unsure(p.source for p in pending)
        # The group write failed: commit file by file, so each file gets its own verdict.
        reports = []
        for p in pending:
            try:
                self.catalog.commit_files([self._record(p)])
            except StoreError as exc:
                self._replaced.update(c.id for c in p.chunks)
                reports.append(FileReport(p.source, "failed", message=str(exc), stage="store"))
                continue
            self._wrote([p.source])
            self._vouch([p])
            reports.append(done[p.source])
        return reports

    def _vouch(self, committed: Iterable[_Pending]) -> None:
        """Files just committed, with every passage's vector stored, go in the ledger."""
        if self._run:
            self._run.verified.update(
                (p.source, (p.sha256, self.recipe, len(p.chunks))) for p in committed)

    def _record(self, p: _Pending) -> FileRecord:
        return FileRecord(p.source, p.sha256, p.title, tuple(p.chunks), self.recipe)

    def _stale(self, paths: Sequence[Path | str]) -> dict[str, list[SourceInfo]]:
        """Stored files under each of ``paths`` (keyed as given) that no longer exist."""
        infos = self.catalog.sources()
        stale = {}
        for path in paths:
            root = Path(path).resolve()
            stale[str(path)] = [
                i for i in infos
                if Path(i.source).is_relative_to(root) and not Path(i.source).exists()
            ]
        return stale

    def _gone(self, paths: Sequence[Path | str]) -> dict[str, int]:
        folders = [p for p in paths if Path(p).is_dir()]
        try:
            return {path: len(infos) for path, infos in self._stale(folders).items() if infos}
        except StoreError:
            return {}  # only a hint: the ingest itself went through

    def _prune(self, paths: Sequence[Path | str]) -> list[FileReport]:
        reports = []
        seen: set[str] = set()
        for info in (i for infos in self._stale(paths).values() for i in infos):
            record = self.catalog.file_record(info.source)
            if record is not None:
                self._replaced.update(c.id for c in record.chunks)
            if info.source not in seen and self.catalog.remove_file(info.source):
                self._wrote([info.source])
                reports.append(FileReport(info.source, "removed", info.chunks))
            seen.add(info.source)
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


def _planted(chunks: Sequence[Chunk]) -> str:
    """A warning naming how many passages hold instructions addressed to an AI reader."""
    count = sum(1 for c in chunks if addresses_the_bot(c.text))
    if not count:
        return ""
    return (
        f"{count} passage(s) hold instructions addressed to an AI or to the bot; their "
        "sentences are never quoted nor accepted as support"
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read file: {exc.strerror}"
    return str(exc) or type(exc).__name__
