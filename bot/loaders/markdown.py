"""Markdown, parsed with markdown-it-py: headings, paragraphs, and code, lists and tables whole.

Blocks are spans of the file's own text (line ranges from the parser), so a quoted passage
is exactly what the file says.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.loaders.base import Block, LoadedDocument
from bot.loaders.plain import decode_text

# Token types that open a unit kept whole, with the block kind it becomes.
_UNITS = {"bullet_list_open": "list", "ordered_list_open": "list", "table_open": "table"}


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
            # A comment is not shown to the reader of the rendered page.
            kind = "" if tok.content.strip().startswith("<!--") else "para"
        elif tok.type == "fence":
            kind = "code"
            first += 1
            closed = last - 1 > first and text[starts[last - 1]:starts[last]].strip().startswith(
                tok.markup
            )
            last = last - 1 if closed else last
        elif tok.type == "code_block":
            kind = "code"
        elif tok.type in _UNITS:
            kind = _UNITS[tok.type]
            skip_to = _closing(tokens, i)
        if not kind:
            continue
        start, end = span(first, last)
        if start < end:
            blocks.append(Block(start, end, kind=kind, level=level))
    blocks.sort(key=lambda b: b.start)
    return LoadedDocument(text=text, title=title, blocks=_no_overlap(blocks), lines=True)


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
