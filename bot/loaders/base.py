"""What every reader produces: blocks of text with their place in the source."""

from __future__ import annotations

import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# Uncompressed size a zipped format (.docx, .pptx, .xlsx, .epub) may claim before it is
# treated as a zip bomb.
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024

# Kinds of block. "code", "table" and "list" are laid-out units that chunking keeps whole
# (split only at line breaks when too long); a "row" of a spreadsheet is a passage of its own.
LAID_OUT = frozenset({"code", "table", "list"})


class LoaderError(Exception):
    """A file that cannot be read; the message is meant for the user."""


class UnsupportedType(LoaderError):
    """A file whose type the bot does not read."""


class EmptyFile(LoaderError):
    """A file of zero bytes: nothing to read, so it is skipped rather than failed."""


@dataclass(frozen=True)
class Block:
    """A paragraph, heading, code block, table, list or row: ``text == doc.text[start:end]``.

    ``page`` and ``last_page`` are the PDF pages it spans; ``place`` names any other position
    a reader can find ("slide 7", "Sheet1 row 12").
    """

    start: int
    end: int
    kind: str = "para"  # "para", "heading", "code", "table", "list" or "row"
    level: int = 1
    page: int | None = None
    last_page: int | None = None
    place: str = ""


@dataclass
class LoadedDocument:
    """Extracted text of one file and the blocks it is made of.

    ``lines`` is true when ``text`` is the file's own text, so a line number in it is a line
    number a reader can look up.
    """

    text: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    lines: bool = False


class TitleLevels:
    """Levels of underlined titles: each underline style (its character, and whether the
    title is overlined too) gets the next level the first time it is met, as in
    reStructuredText."""

    def __init__(self) -> None:
        self._styles: list[tuple[str, bool]] = []

    def __call__(self, char: str, overlined: bool) -> int:
        style = (char, overlined)
        if style not in self._styles:
            self._styles.append(style)
        return self._styles.index(style) + 1


class Builder:
    """Accumulates extracted pieces into one text, blank-line separated, with block offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.blocks: list[Block] = []
        self.length = 0

    def add(
        self, piece: str, kind: str = "para", level: int = 1, page: int | None = None,
        last_page: int | None = None, place: str = "",
    ) -> None:
        """Append one block; empty pieces are dropped."""
        # Code keeps its indentation relative to its least indented line.
        piece = textwrap.dedent(piece).strip() if kind == "code" else piece.strip()
        if not piece:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        end = self.length + len(piece)
        self.blocks.append(Block(self.length, end, kind, level, page, last_page, place))
        self.parts.append(piece)
        self.length = end

    def build(self, title: str) -> LoadedDocument:
        """The document made of everything added."""
        return LoadedDocument(text="".join(self.parts), title=title, blocks=self.blocks)


def row_text(header: list[str], cells: list[str]) -> str:
    """One table row as a self-contained line: ``Header: value; Header: value``.

    Each row repeats its column names so that a row quoted or retrieved alone still says
    what its values are.
    """
    pairs = []
    for i, cell in enumerate(cells):
        cell = " ".join(cell.split())
        if not cell:
            continue
        name = " ".join(header[i].split()) if i < len(header) else ""
        pairs.append(f"{name}: {cell}" if name and name != cell else cell)
    return "; ".join(pairs)


def table_lines(rows: list[list[str]]) -> list[str]:
    """Rows of a table, the first taken as its header, each as :func:`row_text`."""
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    if len(rows) == 1:
        return [" | ".join(" ".join(c.split()) for c in rows[0] if c.strip())]
    header = rows[0]
    return [line for r in rows[1:] if (line := row_text(header, r))]


def check_zip(path: Path, what: str, kind: str) -> None:
    """Refuse a zip container that is not one or that claims an absurd uncompressed size.

    ``what`` names the format (".docx") and ``kind`` the document it should hold.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoaderError(f"{what} is corrupt or not a {kind}: {exc}") from exc
    if total > MAX_ZIP_UNCOMPRESSED:
        raise LoaderError(
            f"{what} expands to {total / 1e6:.0f} MB (zip bomb?); refusing to open it"
        )
