"""Turn files into text blocks (headings, paragraphs, code, tables, lists, rows) with their
place in the source. One module per format; :func:`load` picks the reader by suffix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.loaders.base import Block, EmptyFile, LoadedDocument, LoaderError, UnsupportedType
from bot.loaders.docx import read_docx
from bot.loaders.epub import read_epub
from bot.loaders.html import read_html
from bot.loaders.markdown import read_markdown
from bot.loaders.pdf import read_pdf
from bot.loaders.plain import blocks_from_plain_text, decode_text, read_text
from bot.loaders.pptx import read_pptx
from bot.loaders.rst import read_rst
from bot.loaders.sheets import read_csv, read_xlsx

__all__ = [
    "SUPPORTED_SUFFIXES", "Block", "EmptyFile", "LoadedDocument", "LoaderError",
    "UnsupportedType", "blocks_from_plain_text", "decode_text", "load",
]

_READERS: dict[str, Callable[[Path], LoadedDocument]] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".rst": read_rst,
    ".pdf": read_pdf,
    ".html": read_html,
    ".htm": read_html,
    ".xhtml": read_html,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".csv": read_csv,
    ".xlsx": read_xlsx,
    ".epub": read_epub,
}
SUPPORTED_SUFFIXES = tuple(_READERS)


def load(path: Path, max_bytes: int | None = None) -> LoadedDocument:
    """Read ``path`` into a :class:`LoadedDocument`, or raise :class:`LoaderError`."""
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
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
    doc = reader(path)
    if not doc.text.strip() or not any(b.kind != "heading" for b in doc.blocks):
        raise LoaderError("no text found in file")
    if not doc.title:
        doc.title = path.stem
    return doc
