"""PowerPoint (.pptx): each slide's title as a heading, its text, tables and notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.loaders.base import Builder, LoadedDocument, LoaderError, check_zip, table_lines


def read_pptx(path: Path) -> LoadedDocument:
    """A ``.pptx`` file: one heading per slide, then its text boxes, tables and notes."""
    try:
        from pptx import Presentation
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise LoaderError("reading .pptx needs python-pptx: pip install python-pptx") from exc
    check_zip(path, ".pptx", "PowerPoint presentation")
    try:
        deck = Presentation(str(path))
    except Exception as exc:
        raise LoaderError(f".pptx is corrupt or not a PowerPoint presentation: {exc}") from exc
    builder = Builder()
    for number, slide in enumerate(deck.slides, start=1):
        place = f"slide {number}"
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        # Every slide opens a heading, so text of an untitled slide is not filed under the
        # title of the one before.
        builder.add(title or f"Slide {number}", kind="heading", place=place)
        for shape in _shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if getattr(shape, "has_table", False):
                rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
                builder.add("\n".join(table_lines(rows)), kind="table", place=place)
            elif getattr(shape, "has_text_frame", False):
                _add_text(builder, shape.text_frame, place)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            _add_text(builder, slide.notes_slide.notes_text_frame, place)
    return builder.build(str(deck.core_properties.title or ""))


def _shapes(shapes: Any) -> list[Any]:
    """Shapes in reading order (top to bottom, then left to right), groups opened."""
    out = []
    for shape in shapes:
        if getattr(shape, "shape_type", None) is not None and hasattr(shape, "shapes"):
            out.extend(_shapes(shape.shapes))
        else:
            out.append(shape)
    return sorted(out, key=lambda s: (s.top or 0, s.left or 0))


def _add_text(builder: Builder, frame: Any, place: str) -> None:
    """A text box: bullet points as one list, other text as paragraphs."""
    paragraphs = [(p.level, " ".join(p.text.split())) for p in frame.paragraphs]
    paragraphs = [(level, text) for level, text in paragraphs if text]
    if len(paragraphs) > 1:
        lines = ["  " * level + "- " + text for level, text in paragraphs]
        builder.add("\n".join(lines), kind="list", place=place)
    elif paragraphs:
        builder.add(paragraphs[0][1], place=place)
