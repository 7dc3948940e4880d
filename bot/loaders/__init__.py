"""Turn files into text blocks (headings, paragraphs, code, tables, lists, rows) with their
place in the source. One module per format; :func:`load` picks the reader by suffix."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from bot.loaders.base import Block, EmptyFile, LoadedDocument, LoaderError, UnsupportedType
from bot.loaders.plain import blocks_from_plain_text, decode_text

__all__ = [
    "SUPPORTED_SUFFIXES", "Block", "EmptyFile", "LoadedDocument", "LoaderError",
    "UnsupportedType", "blocks_from_plain_text", "decode_text", "load",
]

# Each reader's module and function, imported on first use: a run that reads no PDF never
# loads the PDF library, and a re-ingest of unchanged files loads none of them.
_READERS: dict[str, tuple[str, str]] = {
    ".txt": ("plain", "read_text"),
    ".md": ("markdown", "read_markdown"),
    ".markdown": ("markdown", "read_markdown"),
    ".rst": ("rst", "read_rst"),
    ".pdf": ("pdf", "read_pdf"),
    ".html": ("html", "read_html"),
    ".htm": ("html", "read_html"),
    ".xhtml": ("html", "read_html"),
    ".docx": ("docx", "read_docx"),
    ".pptx": ("pptx", "read_pptx"),
    ".csv": ("sheets", "read_csv"),
    ".xlsx": ("sheets", "read_xlsx"),
    ".epub": ("epub", "read_epub"),
}
SUPPORTED_SUFFIXES = tuple(_READERS)


def load(path: Path, max_bytes: int | None = None) -> LoadedDocument:
    """Read ``path`` into a :class:`LoadedDocument`, or raise :class:`LoaderError`."""
    suffix = path.suffix.lower()
    where = _READERS.get(suffix)
    if where is None:
        raise UnsupportedType(f"unsupported file type {suffix or '(none)'!r}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror}") from exc
    if size == 0:
        raise EmptyFile("empty file")
    if max_bytes is not None and size > max_bytes:
        raise LoaderError(
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit "
            "(setting BOT_MAX_FILE_MB)"
        )
    module, name = where
    reader: Callable[[Path], LoadedDocument] = getattr(
        importlib.import_module(f"bot.loaders.{module}"), name)
    doc = reader(path)
    if not doc.text.strip() or not any(b.kind != "heading" for b in doc.blocks):
        raise LoaderError("no text found in file")
    if not doc.title:
        doc.title = path.stem
    return doc
