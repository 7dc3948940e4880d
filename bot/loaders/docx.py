"""Word documents (.docx): headings by paragraph style, paragraphs, tables as rows."""

from __future__ import annotations

from pathlib import Path

from bot.loaders.base import Builder, LoadedDocument, LoaderError, check_zip, table_lines


def read_docx(path: Path) -> LoadedDocument:
    """A ``.docx`` file: heading styles as headings, body paragraphs, then its tables."""
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise LoaderError("reading .docx needs python-docx: pip install python-docx") from exc
    check_zip(path, ".docx", "Word document")
    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise LoaderError(f".docx is corrupt or not a Word document: {exc}") from exc
    builder = Builder()
    title = document.core_properties.title or ""
    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            digits = "".join(ch for ch in style if ch.isdigit())
            builder.add(para.text, kind="heading", level=int(digits) if digits else 1)
            if style == "Title" and not title:
                title = para.text.strip()
        else:
            builder.add(para.text)
    for table in document.tables:
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        builder.add("\n".join(table_lines(rows)), kind="table")
    return builder.build(title)
