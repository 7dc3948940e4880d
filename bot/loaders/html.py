"""HTML: visible text only, as headings, paragraphs, and code, tables and lists kept whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

from bot.loaders.base import Builder, LoadedDocument, LoaderError, table_lines
from bot.loaders.plain import decode_text

_HEADINGS = {f"h{i}": i for i in range(1, 7)}
# Elements whose content is never shown as text.
_NOT_SHOWN = {
    "script", "style", "noscript", "template", "head", "svg", "iframe", "object", "button",
    "select", "input", "textarea", "math",
}
# Elements that start a new line of text; anything else flows inline.
_BLOCKS = {
    "p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "li", "dt",
    "dd", "dl", "blockquote", "figure", "figcaption", "caption", "td", "th", "tr", "br", "hr",
    "address", "details", "summary", "form", "fieldset", "center",
}
# Inline styles that make an element invisible: display:none, visibility:hidden, a zero font
# size or full transparency. Stylesheet classes are not evaluated.
_INVISIBLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
    r"|font-size\s*:\s*0*\.?0+(?:px|pt|em|rem|%|vw|vh)?\s*(?:!important)?\s*(?:;|$)"
    r"|opacity\s*:\s*0*\.?0+\s*(?:!important)?\s*(?:;|$))",
    re.IGNORECASE,
)
# Anchor characters that documentation generators append to headings ("Install¶").
_ANCHORS = "¶#§ \u00a0"
_FLUSH = object()
# Between a defined term and the first line of its definition, which are read as one
# ("cleandead — remove files produced by previous builds ..."): a definition's sentences
# then have their term beside them, not two pieces away.
TERM_JOIN = " — "
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml\b[^>]*\?>")


def read_html(path: Path) -> LoadedDocument:
    """An ``.html`` file: what a reader of the page sees, with its structure."""
    builder = Builder()
    title = add_html(builder, decode_text(path.read_bytes()))
    return builder.build(title)


def add_html(builder: Builder, markup: str) -> str:
    """Append the visible blocks of ``markup`` to ``builder``; returns the page title."""
    try:
        # The declaration of an XHTML page (or EPUB chapter) says only how its bytes were
        # encoded, and they are decoded already; left in, it makes Beautiful Soup warn on
        # stderr that XML is parsed as HTML, which is what a browser does with the page.
        soup = BeautifulSoup(_XML_DECLARATION.sub("", markup, count=1), "lxml")
    except Exception as exc:
        raise LoaderError(f"HTML could not be parsed: {exc}") from exc
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    pending: list[str] = []
    # A defined term waiting for the first line of its definition.
    term: list[str] = []
    term_tables: dict[int, bool] = {}

    def flush() -> None:
        # Inline pieces are joined as they are: "call <code>f()</code>." stays "call f().".
        line = " ".join("".join(pending).split())
        pending.clear()
        if line and term:
            line = f"{term.pop()}{TERM_JOIN}{line}"
        builder.add(line)

    def release_term() -> None:
        if term:
            builder.add(term.pop())

    # Iterative walk: deeply nested markup must not exhaust the Python stack.
    stack: list[object] = [_content_root(soup)]
    while stack:
        node = stack.pop()
        if node is _FLUSH:
            flush()
        elif isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a comment, doctype or CDATA
                pending.append(str(node))
        elif isinstance(node, Tag) and not hidden(node):
            name = (node.name or "").lower()
            cell = _term_cell(node, term_tables) if name == "tr" else None
            if name == "dt" or cell is not None:
                flush()
                release_term()
                said = inline_text(cell if cell is not None else node).rstrip(_ANCHORS)
                if said:
                    term.append(said)
                if cell is not None:
                    stack.append(_FLUSH)
                    stack.extend(reversed([c for c in node.children if c is not cell]))
                continue
            unit = _unit(node, name)
            if unit is not None:
                flush()
                release_term()
                kind, text = unit
                level = _HEADINGS.get(name, 1)
                builder.add(text.rstrip(_ANCHORS) if kind == "heading" else text, kind, level)
                continue
            block = name in _BLOCKS
            if block:
                stack.append(_FLUSH)
            stack.extend(reversed(list(node.children)))
            if block:
                stack.append(_FLUSH)
    flush()
    release_term()
    return title


def _term_cell(row: Tag, term_tables: dict[int, bool]) -> Tag | None:
    """The first cell of a row of a two-column table that lays out terms and what they are
    (DocBook's "horizontal" lists: a tool's name, then what it does), when every row of its
    table has two cells. ``term_tables`` keeps what each table was found to be, so a long
    table is looked over once, not once a row."""
    table = row.find_parent("table")
    if table is None:
        return None
    if id(table) not in term_tables:
        rows = table_rows(table)
        term_tables[id(table)] = (not is_data_table(table) and bool(rows)
                                  and all(len(cells) == 2 for _, cells in rows))
    if not term_tables[id(table)]:
        return None
    cells = row.find_all(["td", "th"], recursive=False)
    return cells[0] if len(cells) == 2 else None


def _content_root(soup: BeautifulSoup) -> Tag | BeautifulSoup:
    """What is read of the page: its main region when it marks one (a ``<main>`` element or
    ``role="main"``, as documentation generators do) that holds text, leaving out the
    navigation, sidebars and footer around it that every page of a site repeats; else the
    whole body."""
    marked = soup.find_all(
        lambda t: t.name == "main" or str(t.get("role", "")).strip().lower() == "main")
    outer = [t for t in marked if not any(p in marked for p in t.parents)]
    if len(outer) == 1 and not hidden(outer[0]) and outer[0].get_text(strip=True):
        return outer[0]
    return soup.body or soup


def hidden(tag: Tag) -> bool:
    """Whether ``tag`` is something the reader of the page cannot see."""
    name = (tag.name or "").lower()
    if name in _NOT_SHOWN or tag.get("hidden") is not None:
        return True
    if str(tag.get("aria-hidden", "")).strip().lower() == "true":
        return True
    style = tag.get("style")
    return isinstance(style, str) and bool(_INVISIBLE.search(style))


def _unit(tag: Tag, name: str) -> tuple[str, str] | None:
    """A heading, code block, data table or list: the kind and text of the whole element."""
    if name in _HEADINGS:
        return "heading", inline_text(tag)
    if name == "pre":
        return "code", "".join(_strings(tag, blocks=False))
    if name == "table" and is_data_table(tag):
        rows = [[inline_text(cell) for cell in cells] for _, cells in table_rows(tag)]
        return "table", "\n".join(table_lines(rows))
    if name in {"ul", "ol"} and not _holds(tag, {"table", "pre", "p", "div", *_HEADINGS}):
        return "list", "\n".join(_list_lines(tag, 0))
    return None


def is_data_table(tag: Tag) -> bool:
    """Whether a ``<table>`` holds data, read as rows, rather than laying out a page (a
    table holding tables, code or headings)."""
    return not _holds(tag, {"table", "pre", *_HEADINGS})


def table_rows(table: Tag) -> list[tuple[Tag, list[Tag]]]:
    """The visible rows of ``table`` (nested ``<tbody>`` included), each with its cells."""
    return [(row, row.find_all(["td", "th"], recursive=False))
            for row in table.find_all("tr") if not hidden(row)]


def _holds(tag: Tag, names: set[str]) -> bool:
    return tag.find(list(names)) is not None


def _list_lines(tag: Tag, depth: int) -> list[str]:
    """Items of a list, one a line, marked as they are shown ("- ", "1. "), nested indented."""
    lines: list[str] = []
    number = 0
    for item in tag.find_all("li", recursive=False):
        if hidden(item):
            continue
        number += 1
        marker = f"{number}. " if tag.name == "ol" else "- "
        nested = [c for c in item.children if isinstance(c, Tag) and c.name in {"ul", "ol"}]
        pieces: list[str] = []
        for child in item.children:
            if isinstance(child, Tag) and all(child is not n for n in nested):
                pieces.extend(_strings(child, blocks=True))
            elif type(child) is NavigableString:
                pieces.append(str(child))
        own = " ".join("".join(pieces).split())
        if own:
            lines.append("  " * depth + marker + own)
        for sub in nested:
            if not hidden(sub):
                lines.extend(_list_lines(sub, depth + 1))
    return lines


def inline_text(tag: Tag) -> str:
    """The visible text of ``tag`` on one line, spaces collapsed."""
    return " ".join("".join(_strings(tag, blocks=True)).split())


def _strings(tag: Tag, blocks: bool) -> Iterator[str]:
    """Visible text pieces of ``tag`` in order; with ``blocks``, a space between blocks."""
    if hidden(tag):
        return
    stack: list[object] = [tag]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            yield node
        elif isinstance(node, NavigableString):
            if type(node) is NavigableString:
                yield str(node)
        elif isinstance(node, Tag) and (node is tag or not hidden(node)):
            is_block = blocks and (node.name or "").lower() in _BLOCKS
            if is_block:
                stack.append(" ")
            stack.extend(reversed(list(node.children)))
            if is_block:
                stack.append(" ")
