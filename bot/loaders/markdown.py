"""Markdown, parsed with markdown-it-py: headings, paragraphs, and code, lists and tables whole.

Blocks are spans of the file's own text (line ranges from the parser), so a quoted passage
is exactly what the file says. HTML blocks and pipe tables are the exception: they are shown
as a reader of the rendered page sees them (a table as its rows, each naming its columns),
each in place of its markup and followed by blank lines up to the markup's line count, so
every other line number stays the one of the file. A pipe table's rows keep their own lines.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.loaders.base import Block, Builder, LoadedDocument, row_text, table_lines
from bot.loaders.html import add_html, hidden, inline_text, is_data_table, table_rows
from bot.loaders.plain import decode_text

# Token types that open a unit kept whole, with the block kind it becomes.
_UNITS = {"bullet_list_open": "list", "ordered_list_open": "list"}


def read_markdown(path: Path) -> LoadedDocument:
    """A ``.md`` file: headings with their levels, paragraphs, code, lists and tables."""
    text = decode_text(path.read_bytes())
    return markdown_document(text)


def markdown_document(text: str) -> LoadedDocument:
    """The blocks of Markdown ``text``, as spans of ``text`` itself."""
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    starts.append(len(text))

    def span(first: int, last: int) -> tuple[int, int]:
        """Offsets of lines ``first`` to ``last`` (exclusive), surrounding space trimmed."""
        a, b = starts[min(first, len(starts) - 1)], starts[min(last, len(starts) - 1)]
        piece = text[a:b]
        return a + len(piece) - len(piece.lstrip()), a + len(piece.rstrip())

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    rendered: list[tuple[int, int, LoadedDocument]] = []
    title = ""
    skip_to = -1
    for i, tok in enumerate(tokens):
        if i <= skip_to or tok.map is None:
            continue
        first, last = tok.map
        kind = ""
        level = 1
        if tok.type == "heading_open":
            kind, level = "heading", int(tok.tag[1])
            last = first + 1  # a setext title's underline is not part of its text
            if level == 1 and not title:
                title = tokens[i + 1].content.strip()
        elif tok.type == "paragraph_open":
            kind = "para"
        elif tok.type == "html_block":
            start, end = span(first, last)
            rendered.append((start, end, _shown(text[start:end])))
        elif tok.type == "fence":
            kind = "code"
            first += 1
            closed = last - 1 > first and text[starts[last - 1]:starts[last]].strip().startswith(
                tok.markup
            )
            last = last - 1 if closed else last
        elif tok.type == "code_block":
            kind = "code"
        elif tok.type == "table_open":
            skip_to = _closing(tokens, i)
            start, end = span(first, last)
            rendered.append((start, end, _rows(tokens[i:skip_to], first, text[start:end])))
        elif tok.type in _UNITS:
            kind = _UNITS[tok.type]
            skip_to = _closing(tokens, i)
        if not kind:
            continue
        start, end = span(first, last)
        if start < end:
            blocks.append(Block(start, end, kind=kind, level=level))
    blocks.sort(key=lambda b: b.start)
    if rendered:
        text, blocks = _splice(text, blocks, rendered)
    if not title:
        title = next((text[b.start:b.end] for b in blocks
                      if b.kind == "heading" and b.level == 1), "")
    return LoadedDocument(text=text, title=title, blocks=_no_overlap(blocks), lines=True)


def _shown(markup: str) -> LoadedDocument:
    """What a reader sees of an HTML block, in no more lines than its markup takes."""
    # Only a block that holds a table is parsed a second time for its rows' lines.
    table = _html_table(markup) if "<table" in markup.lower() else None
    if table is not None:
        return table
    builder = Builder()
    add_html(builder, markup)
    shown = builder.build("")
    if shown.text.count("\n") <= markup.count("\n"):
        return shown
    # Compact markup ("<details><summary>Notes</summary>Only on POSIX.</details>" on one
    # line) shows as one paragraph, so that the lines after it keep their numbers.
    flat = " ".join(shown.text.split())
    return LoadedDocument(text=flat, title="", blocks=[Block(0, len(flat))] if flat else [])


def _rows(tokens: list[Token], first: int, markup: str) -> LoadedDocument:
    """A pipe table as its rendered rows (:func:`row_text`), each on the line of the
    file it is written on: the header and the delimiter row become blank lines."""
    rows: list[tuple[int, list[str]]] = []
    for tok in tokens:
        if tok.type == "tr_open" and tok.map is not None:
            rows.append((tok.map[0] - first, []))
        elif tok.type == "inline" and rows:
            rows[-1][1].append(_visible(tok))
    return _rows_on_lines(rows, markup)


def _html_table(markup: str) -> LoadedDocument | None:
    """An HTML block that is one data table, as its rows (:func:`row_text`), each on the
    line of the file where its first cell is written, so that a row is cited by its own
    line. None for any other block, or a table whose rows share a line."""
    soup = BeautifulSoup(markup, "html.parser")
    tables = soup.find_all("table")
    if len(tables) != 1 or hidden(tables[0]) or not is_data_table(tables[0]):
        return None
    table = tables[0]
    table.extract()
    if soup.get_text().strip():  # text beside the table: rendered as a whole below
        return None
    rows: list[tuple[int, list[str]]] = []
    for tr, cells in table_rows(table):
        if not cells:
            continue
        where = next((c for c in cells if c.get_text().strip()), tr).sourceline
        if where is None or (rows and where - 1 <= rows[-1][0]):
            return None
        rows.append((where - 1, [inline_text(cell) for cell in cells]))
    return _rows_on_lines(rows, markup) if rows else None


def _rows_on_lines(rows: list[tuple[int, list[str]]], markup: str) -> LoadedDocument:
    """Table ``rows``, each ``(line index in markup, cells)``, the first the header, laid
    out on the lines of ``markup``: blank lines between them."""
    header = rows[0][1] if rows else []
    lines = [""] * (markup.count("\n") + 1)
    for n, cells in rows[1:]:
        lines[n] = row_text(header, cells)
    if rows and not any(lines):  # a header without a body
        lines[rows[0][0]] = "".join(table_lines([header]))
    text = "\n".join(lines)
    body = text.strip()
    if not body:
        return LoadedDocument(text=text, title="", blocks=[], lines=True)
    start = text.index(body)
    return LoadedDocument(text=text, title="", blocks=[Block(start, start + len(body),
                                                             kind="table")], lines=True)


def _visible(inline: Token) -> str:
    """The text a reader sees of a table cell: no link targets, emphasis or code marks."""
    seen = []
    for child in inline.children or []:
        if child.type in {"text", "code_inline", "image"}:
            seen.append(child.content)
        elif child.type in {"softbreak", "hardbreak", "html_inline"}:
            seen.append(" ")
    return " ".join("".join(seen).split())


def _splice(
    text: str, blocks: list[Block], rendered: list[tuple[int, int, LoadedDocument]]
) -> tuple[str, list[Block]]:
    """``text`` with each rendered span in place of its markup, padded to the same number
    of lines, and the blocks (in order) moved to match. Rendered lines that keep the lines
    of their markup (``lines`` set) keep their own line numbers too."""
    out: list[str] = []
    moved: list[Block] = []
    pos = shift = 0
    line = 1  # the file's line number at ``pos``
    pending = iter(blocks)
    block = next(pending, None)
    for start, end, shown in rendered:
        while block is not None and block.start < start:
            moved.append(replace(block, start=block.start + shift, end=block.end + shift))
            block = next(pending, None)
        out.append(text[pos:start])
        at = start + shift
        # A rendered line has no line of its own in the file: its passages are found by the
        # lines of the whole markup.
        first = line + text.count("\n", pos, start)
        spanned = text.count("\n", start, end)
        place = f"line {first}" if not spanned else f"lines {first}-{first + spanned}"
        moved.extend(replace(b, start=b.start + at, end=b.end + at,
                             place="" if shown.lines else place)
                     for b in shown.blocks)
        body = shown.text + "\n" * (spanned - shown.text.count("\n"))
        out.append(body)
        shift += len(body) - (end - start)
        pos, line = end, first + spanned
    while block is not None:
        moved.append(replace(block, start=block.start + shift, end=block.end + shift))
        block = next(pending, None)
    out.append(text[pos:])
    return "".join(out), moved


def _closing(tokens: list[Token], i: int) -> int:
    """Index of the token that closes the one opened at ``i``."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _no_overlap(blocks: list[Block]) -> list[Block]:
    """Drop blocks nested inside an earlier one (a paragraph inside a quoted list)."""
    out: list[Block] = []
    for b in blocks:
        if out and b.start < out[-1].end:
            continue
        out.append(b)
    return out
