"""reStructuredText read as text: underlined titles as headings, literal blocks as code."""

from __future__ import annotations

import re
from pathlib import Path

from bot.loaders.base import Block, LoadedDocument, TitleLevels
from bot.loaders.plain import decode_text
from bot.text import starts_like_item

# A title's underline (or overline): one punctuation character repeated.
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")
# Directives whose indented body is code.
_CODE_DIRECTIVE = re.compile(r"^\.\.\s+(code-block|code|sourcecode|literalinclude)::")
_DIRECTIVE = re.compile(r"^\.\.\s")


def read_rst(path: Path) -> LoadedDocument:
    """A ``.rst`` file: section titles with their levels, paragraphs, lists and code."""
    text = decode_text(path.read_bytes())
    return rst_document(text)


def rst_document(text: str) -> LoadedDocument:
    """The blocks of reStructuredText ``text``, as spans of ``text`` itself."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for raw in lines:
        offsets.append(offsets[-1] + len(raw))

    def span(first: int, last: int) -> tuple[int, int]:
        piece = text[offsets[first]:offsets[last]]
        return (offsets[first] + len(piece) - len(piece.lstrip()),
                offsets[first] + len(piece.rstrip()))

    levels = TitleLevels()
    blocks: list[Block] = []
    title = ""
    code_next = False  # the previous paragraph ended in "::" or was a code directive
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].rstrip("\r\n")
        if not line.strip():
            i += 1
            continue
        indented = line[:1].isspace()
        if indented:
            # An indented run: a literal block after "::", otherwise quoted text.
            j = i
            while j < n and (not lines[j].strip() or lines[j][:1].isspace()):
                j += 1
            start, end = span(i, j)
            blocks.append(Block(start, end, kind="code" if code_next else "para"))
            code_next = False
            i = j
            continue
        over = _ADORNMENT.match(line)
        if over and i + 2 < n and _ADORNMENT.match(lines[i + 2].rstrip()) and lines[i + 1].strip():
            style = (over.group(1), True)
            first = i + 1
            i += 3
        elif (i + 1 < n and not over and _ADORNMENT.match(lines[i + 1].rstrip())
              and len(lines[i + 1].strip()) >= len(line.strip())):
            style = (lines[i + 1].strip()[0], False)
            first = i
            i += 2
        else:
            style = None
        if style is not None:
            start, end = span(first, first + 1)
            level = levels(*style)
            blocks.append(Block(start, end, kind="heading", level=level))
            if level == 1 and not title:
                title = text[start:end]
            code_next = False
            continue
        if over:  # a transition line
            i += 1
            continue
        j = i
        while j < n and lines[j].strip() and not lines[j][:1].isspace():
            j += 1
        if _DIRECTIVE.match(line):
            # The directive line itself is markup; its indented body follows.
            code_next = bool(_CODE_DIRECTIVE.match(line))
            i = j
            continue
        start, end = span(i, j)
        items = all(starts_like_item(lines[k]) for k in range(i, j))
        blocks.append(Block(start, end, kind="list" if items and j - i > 1 else "para"))
        code_next = text[start:end].endswith("::")
        i = j
    return LoadedDocument(text=text, title=title, blocks=blocks, lines=True)
