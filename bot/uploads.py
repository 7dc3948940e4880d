"""Uploaded files: checked, copied into the data directory and ingested, all or nothing per file.

A file that replaces an earlier upload of the same name keeps a backup of the old copy until
the new one is ingested: a rejected or failed upload puts the old copy back, so the folder
always holds what the index holds. Only the session that uploaded a file replaces it: another
session's different file of the same name is kept under a numbered name instead.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.ingest import Progress
from bot.loaders import SUPPORTED_SUFFIXES
from bot.models import IngestReport
from bot.store import StoreError

_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]+,&']+", re.UNICODE)

# How an ingest result is told to the person who uploaded the file.
_VERBS = {"added": "added", "updated": "updated", "unchanged": "already indexed"}


def safe_name(name: str) -> str:
    """A file name for an upload: no folders, control characters or hidden-file dot."""
    base = Path(name.replace("\\", "/").replace("\x00", "")).name
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .") or "upload"
    stem, suffix = Path(cleaned).stem, Path(cleaned).suffix
    if len(suffix) > 10:
        stem, suffix = cleaned, ""
    return (stem[: 120] or "upload") + suffix


class Ingest(Protocol):
    """``Bot.ingest``, as uploads call it."""

    def __call__(
        self, paths: Sequence[Path | str], *, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest ``paths`` and report on each file."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What became of one uploaded file, in a sentence that names it."""

    name: str
    ok: bool
    text: str


@dataclass(frozen=True)
class _Staged:
    path: Path
    backup: Path | None
    asked_for: str = ""

    def keep(self) -> None:
        if self.backup is not None:
            self.backup.unlink(missing_ok=True)

    def undo(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.backup is not None:
            self.backup.replace(self.path)


@dataclass
class Batch:
    """Uploads copied into the folder but not yet ingested, and those refused at the door."""

    staged: list[_Staged] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)

    def ingest(
        self, ingest: Ingest, progress: Progress | None = None
    ) -> list[Outcome]:
        """Ingest the staged files with ``ingest`` (``Bot.ingest``); keep or undo each one.

        When the store cannot be reached every file is put back as it was and the
        :class:`StoreError` propagates.
        """
        try:
            report = ingest([s.path for s in self.staged], progress=progress)
        except StoreError:
            for staged in self.staged:
                staged.undo()
            raise
        by_source = {f.source: f for f in report.files}
        outcomes = []
        for staged in self.staged:
            name = staged.path.name
            result = by_source.get(str(staged.path.resolve()))
            if result is None or result.status in ("failed", "skipped"):
                staged.undo()
                why = result.message if result else "it could not be read"
                outcomes.append(Outcome(name, False, f"{name}: not added: {why}."))
                continue
            staged.keep()
            verb = _VERBS.get(result.status, result.status)
            renamed = (f" as {name}, since another file of that name is already indexed"
                       if staged.asked_for else "")
            shown = staged.asked_for or name
            outcomes.append(Outcome(
                shown, True, f"{shown}: {verb}{renamed} ({result.chunks} chunks)."))
        return outcomes


class UploadFolder:
    """The folder uploaded documents are kept in, with a size limit per file."""

    def __init__(self, folder: Path, max_mb: float) -> None:
        self.folder = folder
        self.max_mb = max_mb
        # Which session uploaded each file name, while this process runs.
        self._owners: dict[str, str] = {}
        # Sessions upload at the same time: choosing a free name and copying into it is one
        # step, or two sessions could pick the same numbered name.
        self._naming = threading.Lock()

    def stage(self, files: Iterable[Path], session: str = "") -> Batch:
        """Check each file and copy the acceptable ones in, under a safe name; a different
        file of a name another session uploaded gets a numbered name."""
        batch = Batch()
        for src in files:
            name = safe_name(src.name)
            suffix = Path(name).suffix.lower()
            if suffix not in SUPPORTED_SUFFIXES:
                batch.rejected.append(Outcome(name, False, (
                    f"{name}: {suffix or 'files without an extension'} is not supported; "
                    "upload .txt, .md, .pdf, .html or .docx.")))
                continue
            size = src.stat().st_size
            if size > self.max_mb * 1024 * 1024:
                batch.rejected.append(Outcome(name, False, (
                    f"{name}: {size / 1e6:.1f} MB is over the upload limit of "
                    f"{self.max_mb:g} MB; nothing was changed.")))
                continue
            with self._naming:
                free = self._name_for(src, name, session)
                staged = self._copy(src, free)
                self._owners[free] = session
            batch.staged.append(_Staged(staged.path, staged.backup, "" if free == name else name))
        return batch

    def _name_for(self, src: Path, name: str, session: str) -> str:
        """``name``, unless another session's different file already has it."""
        target = self.folder / name
        if not target.exists() or self._owners.get(name) == session:
            return name
        if filecmp.cmp(src, target, shallow=False):
            return name
        stem, suffix = Path(name).stem, Path(name).suffix
        n = 2
        while (self.folder / f"{stem} ({n}){suffix}").exists():
            n += 1
        return f"{stem} ({n}){suffix}"

    def discard(self, source: str) -> None:
        """Delete the uploaded copy of ``source``, when it is one of this folder's files."""
        path = Path(source)
        if path.parent == self.folder.resolve():
            path.unlink(missing_ok=True)
            self._owners.pop(path.name, None)

    def _copy(self, src: Path, name: str) -> _Staged:
        # The old copy steps aside as a backup until the new version is ingested, and the
        # new one arrives under a temporary name, so the folder never holds half a file.
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / name
        backup = None
        if target.exists():
            backup = target.with_name(f".{target.name}.previous")
            target.replace(backup)
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(src, tmp)
        tmp.replace(target)
        return _Staged(target, backup)
