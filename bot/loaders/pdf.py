"""PDF, read with pdfplumber: paragraphs rebuilt from laid-out lines, headings, tables as rows.

A page of PDF is a set of positioned lines. Lines are joined into paragraphs by their
spacing (hyphenation at line ends undone), lines repeated at the top or bottom of most pages
(running headers, footers, page numbers) are dropped, lines set larger, bold or numbered as
sections ("2.1 Directory layout") become headings, and ruled tables are read row by row.
A paragraph that runs onto the next page keeps both page numbers.
"""

from __future__ import annotations

import bisect
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from bot.loaders.base import Builder, LoadedDocument, LoaderError, table_lines
from bot.text import starts_like_item

# Share of the page height, at the top and at the bottom, where running headers and
# footers sit.
_EDGE = 0.12
# A bare page number, alone on its line: "7", "- 7 -", "Page 7 of 20", "vii".
_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:page\s+)?(?:\d+|[ivxlcdm]+)(?:\s*(?:of|/)\s*\d+)?[-–—\s]*$", re.IGNORECASE
)
# A numbered section title: "2", "2.1", "A.3", optionally followed by a dot.
# A section number, or an appendix letter before a capitalised title ("A Glossary"; never the
# article of "A novel method ...").
_SECTION = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S|^([A-Z](?:\.\d+)*)\.?\s+[A-Z\d]")
_HEADING_WORDS = 14
# Fixed-width fonts, in which code is set.
_MONO = re.compile(r"mono|nimbusmon|courier|code|consol|menlo|typewriter|fixed|cmtt|sftt",
                   re.IGNORECASE)
# Dot leaders of a table of contents ("2.1. NAME ........ 2").
_LEADER = re.compile(r"(?:\.\s*){4,}\d*\s*$")
# A title does not end like a sentence or a clause (a question may be a title).
_NOT_TITLE_END = (".", ",", ";", ":")
_SENTENCE_END = (".", "!", "?", ":", "…", '."', ".”", "?”", "!”")


@dataclass
class _Line:
    text: str
    top: float
    bottom: float
    x0: float
    size: float
    bold: bool
    mono: bool


@dataclass
class _Table:
    top: float
    lines: list[str]


@dataclass
class _Para:
    kind: str
    page: int
    last_page: int
    level: int = 1
    lines: list[str] = field(default_factory=list)


def read_pdf(path: Path) -> LoadedDocument:
    """A ``.pdf`` file: paragraphs, headings and table rows with the pages they are on."""
    try:
        import pdfplumber
        from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
        from pdfplumber.utils.exceptions import PdfminerException
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise LoaderError("reading PDF needs pdfplumber: pip install pdfplumber") from exc
    try:
        with pdfplumber.open(str(path)) as pdf:
            meta_title = str((pdf.metadata or {}).get("Title") or "").strip()
            pages = [_page_items(page) for page in pdf.pages]
    except LoaderError:
        raise
    except Exception as exc:
        cause = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect):
            raise LoaderError("PDF is password-protected; remove the password first") from exc
        if isinstance(cause, PDFEncryptionError):
            raise LoaderError("PDF is encrypted and cannot be opened") from exc
        if isinstance(exc, PdfminerException | ValueError | KeyError | TypeError | OSError
                      | AttributeError | IndexError | AssertionError):
            raise LoaderError(f"PDF is corrupt or truncated: {cause}") from exc
        raise LoaderError(f"PDF could not be read: {type(exc).__name__}: {exc}") from exc
    _drop_running_lines(pages)
    builder = Builder()
    for para in _paragraphs(pages):
        text = _join(para.lines) if para.kind in {"para", "heading"} else "\n".join(para.lines)
        last = para.last_page if para.last_page != para.page else None
        builder.add(text, para.kind, para.level, page=para.page, last_page=last)
    return builder.build(meta_title)


def _page_items(page: Any) -> tuple[float, list[_Line | _Table]]:
    """The page height and its lines and tables, top to bottom."""
    from pdfplumber.utils import chars_to_textmap

    page = page.dedupe_chars()
    # A "table" of one column is a box drawn around text (a page background, a shaded
    # code block), not rows of data: its text is read as lines.
    extracted = [(t, t.extract()) for t in page.find_tables()]
    tables = [(t, rows) for t, rows in extracted
              if any(sum(1 for cell in row if cell and cell.strip()) >= 2 for row in rows)]
    boxes = [t.bbox for t, _ in tables]

    def outside(obj: dict[str, Any]) -> bool:
        return not any(
            x0 <= obj.get("x0", 0) and obj.get("x1", 0) <= x1
            and top <= obj.get("top", 0) and obj.get("bottom", 0) <= bottom
            for x0, top, x1, bottom in boxes
        )

    text_page = page.filter(outside) if boxes else page
    items: list[_Line | _Table] = []
    drawn = _drawn_underscores(text_page.chars, text_page.lines + text_page.rects)
    # A word gap relative to the font size: tightly set text still gets its spaces.
    lines = chars_to_textmap(
        text_page.chars + drawn, layout_bbox=page.bbox, layout_width=page.width,
        layout_height=page.height, x_tolerance_ratio=0.15,
    ).extract_text_lines(strip=True, return_chars=True)
    for line in lines:
        chars = [c for c in line["chars"] if c["text"].strip()]
        if not chars or not line["text"].strip():
            continue
        items.append(_Line(
            text=_margin_label(_font_breaks(line["text"].strip(), chars), chars),
            top=line["top"],
            bottom=line["bottom"], x0=line["x0"],
            size=statistics.median(c["size"] for c in chars),
            bold=all("bold" in str(c.get("fontname", "")).lower() for c in chars),
            mono=all(_mono(c) for c in chars),
        ))
    for table, cells in tables:
        rows = [[cell or "" for cell in row] for row in cells]
        if table_text := table_lines(rows):
            items.append(_Table(top=table.bbox[1], lines=table_text))
    items.sort(key=lambda item: item.top)
    return float(page.height), items


def _drawn_underscores(
    chars: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """An ``_`` character for each underscore drawn as a short rule between two letters.

    TeX draws ``size_t`` in a font without an underscore glyph as ``size``, a rule of about
    a third of an em on the baseline, and ``t``: the text alone reads ``size t``. A rule
    that long, lying in the gap between two characters of one line at their baseline, is
    such an underscore; an underline, a strike-through or a table border is longer or
    crosses the characters.
    """
    found: list[dict[str, Any]] = []
    rules = [r for r in rules if r["height"] <= 0.6 and r["width"]]
    if not rules or not chars:
        return found
    chars = sorted(chars, key=lambda c: c["bottom"])
    bottoms = [c["bottom"] for c in chars]
    tallest = max(c["size"] for c in chars)
    for rule in rules:
        y = (rule["top"] + rule["bottom"]) / 2
        near = chars[bisect.bisect_left(bottoms, y):bisect.bisect_right(bottoms, y + tallest)]
        line = [c for c in near if c["top"] + 0.5 * c["size"] < y and c["text"].strip()]
        before = [c for c in line if c["x1"] <= rule["x0"] + 0.5]
        after = [c for c in line if c["x0"] >= rule["x1"] - 0.5]
        if len(before) + len(after) != len(line) or not before or not after:
            continue  # crosses a character: an underline or strike-through
        left = max(before, key=lambda c: c["x1"])
        right = min(after, key=lambda c: c["x0"])
        em = left["size"]
        if not 0.15 * em <= rule["width"] <= 0.6 * em:
            continue
        if rule["x0"] - left["x1"] > 0.25 * em or right["x0"] - rule["x1"] > 0.25 * em:
            continue
        found.append({**left, "text": "_", "x0": rule["x0"], "x1": rule["x1"],
                      "width": rule["width"]})
    return found


def _margin_label(text: str, chars: list[dict[str, Any]]) -> str:
    """``text`` with a bracketed label set apart at the right margin moved to its front.

    Texinfo sets the category of a definition ("[Function]", "[Macro]") flush right on the
    definition's first line, so a prototype that runs onto a second line would read with
    the label in its middle: "f (int a, [Function] int b)".
    """
    if not text.endswith("]") or "[" not in text:
        return text
    opening = max((i for i, c in enumerate(chars) if c["text"] == "["), default=0)
    if opening == 0:
        return text
    gap = chars[opening]["x0"] - chars[opening - 1]["x1"]
    label = text[text.rindex("["):]
    if gap < 2 * chars[opening]["size"] or "]" in label[:-1]:
        return text
    return f"{label} {text[: -len(label)].rstrip()}"


# Punctuation that follows a word with no space before it.
_CLOSING = frozenset(",.;:!?)]")


def _mono(char: dict[str, Any]) -> bool:
    """Whether ``char`` is set in a fixed-width (code) font."""
    return bool(_MONO.search(str(char.get("fontname", ""))))


def _font_breaks(text: str, chars: list[dict[str, Any]]) -> str:
    """``text`` (the line as extracted from its non-blank ``chars``) with a space where a
    letter in a code font touches one in a text font.

    TeX sets ``@code{SIZE} respectively`` with the space lost at the font change, so the
    two words come out as one (``SIZErespectively``). A word does not change between code
    and text type in its middle; punctuation does (``ctx``, then a full stop), and stays.
    """
    starts: list[int] = []
    pos = 0
    for char in chars:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        # A ligature is spelled out in the text ("ﬁ" as "fi"), hence NFKC.
        glyph = unicodedata.normalize("NFKC", char["text"])
        if not text.startswith(glyph, pos):
            return text  # the text was assembled otherwise: leave it as it came
        starts.append(pos)
        pos += len(glyph)
    # Runs of letters and digits set in one kind of type (code or text), by char index.
    mono = [_mono(c) for c in chars]
    joined = [False] + [
        not text[starts[i] - 1].isspace() and chars[i - 1]["text"].isalnum()
        and chars[i]["text"].isalnum() for i in range(1, len(chars))]
    run = [0] * len(chars)
    for i in range(1, len(chars)):
        run[i] = run[i - 1] + (not joined[i] or mono[i] != mono[i - 1])
    # Only between words of plain ASCII, two characters or more on each side: a glyph from
    # a fallback font ("lÃaers") or a one-letter variable is no word boundary.
    members: dict[int, list[str]] = {}
    for c, r in zip(chars, run, strict=True):
        members.setdefault(r, []).append(c["text"])
    plain = {r: len(m) > 1 and all(t.isascii() for t in m) for r, m in members.items()}
    cuts = [starts[i] for i in range(1, len(chars))
            if joined[i] and mono[i] != mono[i - 1] and plain[run[i]] and plain[run[i - 1]]]
    # The box a browser draws around inline code leaves a gap that reads as a space
    # ("missing_docs , these lints"): none stands before punctuation that closes a clause.
    gaps = [starts[i] - 1 for i in range(1, len(chars))
            if mono[i - 1] and not mono[i] and chars[i]["text"] in _CLOSING
            and text[starts[i] - 1].isspace()]
    for at in sorted(cuts + gaps, reverse=True):
        text = f"{text[:at]} {text[at:]}" if at in cuts else text[:at] + text[at + 1:]
    return text


def _edge_lines(height: float, items: list[_Line | _Table]) -> list[_Line]:
    """The first two and last two lines of a page when they sit near its top or bottom."""
    lines = [i for i in items if isinstance(i, _Line)]
    ends = lines[:2] + [line for line in lines[-2:] if all(line is not e for e in lines[:2])]
    return [
        line for line in ends
        if line.top < _EDGE * height or line.bottom > (1 - _EDGE) * height
    ]


def _drop_running_lines(pages: list[tuple[float, list[_Line | _Table]]]) -> None:
    """Remove page numbers and lines repeated at the top or bottom of most pages."""

    def key(line: _Line) -> str:
        # Page numbers inside a running header differ from page to page.
        return re.sub(r"\d+", "#", " ".join(line.text.lower().split()))

    seen: Counter[str] = Counter()
    for height, items in pages:
        seen.update({key(line) for line in _edge_lines(height, items)})
    # Three pages suffice in a long document: chapter titles run over a chapter's pages only.
    repeated = {k for k, n in seen.items() if n >= min(3, max(2, 0.5 * len(pages)))}
    for height, items in pages:
        drop = [
            line for line in _edge_lines(height, items)
            if key(line) in repeated or _PAGE_NUMBER.match(line.text)
        ]
        items[:] = [i for i in items if all(i is not d for d in drop)]


def _paragraphs(pages: list[tuple[float, list[_Line | _Table]]]) -> list[_Para]:
    lines = [i for _, items in pages for i in items if isinstance(i, _Line)]
    if not lines:
        return []
    # The body text size: the size most of the prose is set in. Code is left out: a manual
    # of examples may hold more code than prose, set smaller, and its prose would then
    # all look like headings.
    prose = [ln for ln in lines if not ln.mono] or lines
    weights: Counter[float] = Counter()
    for line in prose:
        weights[round(line.size * 2) / 2] += len(line.text)
    body = weights.most_common(1)[0][0]
    bigger = sorted({round(ln.size * 2) / 2 for ln in lines if ln.size >= body * 1.12},
                    reverse=True)
    # The usual space between two lines of a paragraph, from the whole document (a page may
    # hold only a few lines); never more than fits double-spaced text.
    gaps = [
        b.top - a.bottom for _, items in pages for a, b in pairwise(items)
        if isinstance(a, _Line) and isinstance(b, _Line) and 0 <= b.top - a.bottom < 3 * body
    ]
    usual = min(statistics.median(gaps), 0.6 * body) if gaps else 0.3 * body
    paras: list[_Para] = []
    for number, (_, items) in enumerate(pages, start=1):
        margin = min((i.x0 for i in items if isinstance(i, _Line)), default=0.0)
        prev: _Line | _Table | None = None
        for k, item in enumerate(items):
            if isinstance(item, _Table):
                paras.append(_Para("table", number, number, lines=item.lines))
                prev = item
                continue
            after = items[k + 1] if k + 1 < len(items) else None
            # A line whose sentence runs on into the next is the start of a paragraph or an
            # item ("2. Modern CPUs have multiple ALUs and may execute 3-4 instructions"),
            # however it is numbered or set.
            continued = (
                isinstance(after, _Line) and not after.mono
                and not _breaks(item, after, usual, body, margin)
                and (after.text[:1].islower() or item.text.endswith("-"))
            )
            # A line in a monospaced face is code, unless it is set in a heading's size
            # (an API reference titles each entry with its identifier).
            code = item.mono and round(item.size * 2) / 2 not in bigger
            level = 0 if code else _heading_level(item, body, bigger, continued)
            current = paras[-1] if paras else None
            if code:
                # Lines of code stay lines, one block for a run of them.
                if current is not None and current.kind == "code" and (
                    (current.last_page == number - 1 and prev is None)
                    or (isinstance(prev, _Line) and prev.mono)
                ):
                    current.lines.append(item.text)
                    current.last_page = number
                else:
                    paras.append(_Para("code", number, number, lines=[item.text]))
            elif level and (
                # A title set over two lines continues the heading above it.
                isinstance(prev, _Line) and current is not None and current.kind == "heading"
                and current.level == level and current.last_page == number
                and item.top - prev.bottom < 0.5 * item.size
            ):
                current.lines.append(item.text)
            elif level:
                paras.append(_Para("heading", number, number, level, [item.text]))
            elif (
                isinstance(prev, _Line) and current is not None and current.kind == "para"
                and current.last_page == number
                and not _breaks(prev, item, usual, body, margin)
            ) or (
                # The first line of a page continues a paragraph the last page left open.
                prev is None and current is not None and current.kind == "para"
                and current.last_page == number - 1 and _open(current.lines[-1])
                and not starts_like_item(item.text)
            ):
                current.lines.append(item.text)
                current.last_page = number
            else:
                paras.append(_Para("para", number, number, lines=[item.text]))
            prev = item
    return paras


def _heading_level(line: _Line, body: float, bigger: list[float], continued: bool) -> int:
    """The heading level of ``line``, or 0 when it is body text; a line ``continued`` by
    the next is a heading only when set in a size of its own."""
    text = line.text
    if len(text.split()) > _HEADING_WORDS or text.endswith(_NOT_TITLE_END) or _LEADER.search(text):
        return 0
    if not any(ch.isalpha() for ch in text):
        return 0
    size = round(line.size * 2) / 2
    numbered = _SECTION.match(text)
    if size in bigger:
        return bigger.index(size) + 1
    if continued:
        return 0
    if numbered and (line.bold or size >= body):
        return min((numbered.group(1) or numbered.group(2)).count(".") + 1 + len(bigger), 6)
    if line.bold and text[:1].isupper():
        return min(len(bigger) + 1, 6)
    return 0


def _breaks(prev: _Line, line: _Line, usual: float, body: float, margin: float) -> bool:
    """Whether ``line`` starts a new paragraph rather than continuing ``prev``'s."""
    gap = line.top - prev.bottom
    if gap > usual + 0.45 * body or gap < -0.5 * body:
        return True
    if abs(line.size - prev.size) > 0.15 * body:
        return True
    if starts_like_item(line.text):
        return True
    # An indented first line after a finished sentence opens a paragraph.
    indented = line.x0 > margin + 1.0 * body and line.x0 > prev.x0 + 1.0 * body
    return indented and not _open(prev.text)


def _open(text: str) -> bool:
    """Whether a line leaves its sentence unfinished."""
    return not text.rstrip().endswith(_SENTENCE_END)


def _join(lines: list[str]) -> str:
    """Lines of one paragraph as one line of text, hyphenation at line ends undone and
    identifiers broken after an underscore rejoined."""
    out = ""
    for line in lines:
        if not out:
            out = line
        elif out.endswith("-") and out[-2:-1].isalpha() and line[:1].islower():
            # "end-of-" + "stream" is a compound broken at its own hyphen, which stays.
            compound = "-" in out[:-1].rsplit(" ", 1)[-1]
            out = out + line if compound else out[:-1] + line
        elif out.endswith("_") and out[-2:-1].isalnum() and line[:1].isalnum():
            # An identifier broken after its underscore ("gcm_" + "set_key") is one word.
            out += line
        else:
            out = f"{out} {line}"
    return out
