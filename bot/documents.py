"""Indexed documents as a citation opens them: found by id in the store's catalogue, checked
against the content hash taken at ingest, then read as they were indexed.

Nothing here takes a path from outside: an id is a hash of a committed file's stored source,
looked up among the committed files, so only a file the index holds can be opened, and only
while it is the file that was indexed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.chunking import chunk_id
from bot.index import FileRecord
from bot.loaders import LoaderError, load
from bot.models import Chunk
from bot.store import ChunkStore

PDF_SUFFIX = ".pdf"


def document_id(source: str) -> str:
    """The id a stored source is opened by: a hash, so no path shows in a link."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


class NotIndexed(LookupError):
    """No committed file has this id."""


class Gone(LookupError):
    """The file is indexed but no longer where, or what, it was at ingest."""


@dataclass(frozen=True)
class Opened:
    """One indexed document ready to show: a PDF's bytes, or the text the loaders read
    from it with the span of the cited passage (``start == end`` when none is marked)."""

    name: str
    title: str
    pdf: bytes | None = None
    text: str = ""
    start: int = 0
    end: int = 0
    cited: Chunk | None = None
    note: str = ""


class Documents:
    """Opens the committed files of ``store`` by id."""

    def __init__(self, store: ChunkStore, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._ids: tuple[str, dict[str, str]] = ("", {})
        self._lock = threading.Lock()

    def _source(self, doc_id: str) -> tuple[FileRecord, str]:
        snap = self.store.snapshot()
        with self._lock:
            # Rebuilt once per store generation: a link names a file by hash, the catalogue
            # by path.
            if self._ids[0] != snap.generation or not snap.generation:
                self._ids = (snap.generation, {document_id(s): s for s in snap.files})
            source = self._ids[1].get(doc_id)
        record = snap.files.get(source) if source else None
        if record is None:
            raise NotIndexed(doc_id)
        return record, snap.names.get(source or "", "") or Path(record.source).name

    def open(self, doc_id: str, passage: str = "") -> Opened:
        """The document ``doc_id``, with ``passage`` (a passage id) marked in a text view.

        Raises :class:`NotIndexed` for an id no committed file has, :class:`Gone` when the
        file was moved, deleted or changed since it was indexed.
        """
        record, name = self._source(doc_id)
        path = Path(record.source)
        data = _read(path, self.max_bytes, name)
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise Gone(f"{name} has changed since it was indexed; ingest it again to open it")
        if path.suffix.lower() == PDF_SUFFIX:
            return Opened(name, record.title, pdf=data)
        try:
            doc = load(path, max_bytes=self.max_bytes)
        except (LoaderError, OSError) as exc:
            raise Gone(f"{name} can no longer be read ({exc})") from exc
        cited = next((c for c in record.chunks if c.id == passage), None) if passage else None
        if cited is None:
            note = ("The cited passage is no longer in this document: it changed after the "
                    "answer was given." if passage else "")
            return Opened(name, record.title, text=doc.text, note=note)
        start, end = cited.start, cited.end
        if chunk_id(doc.text[start:end]) != cited.id:
            # The file is unchanged, so the reader changed since ingest: the offsets are
            # not to be trusted, and nothing is marked rather than the wrong words.
            return Opened(name, record.title, text=doc.text, cited=cited,
                          note="The cited passage could not be located in this reading of "
                               "the file.")
        return Opened(name, record.title, text=doc.text, start=start, end=end, cited=cited)


def _read(path: Path, max_bytes: int, name: str) -> bytes:
    """The bytes of the regular file at ``path``; a larger file than ingest takes is not
    the one that was indexed."""
    try:
        # Non-blocking: a FIFO put in the file's place must not hang the request.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise Gone(f"{name} is no longer where it was indexed") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            raise Gone(f"{name} has changed since it was indexed; ingest it again to open it")
        return fh.read()
