"""Plain text: charset detection and paragraphs, headings and wrapped lines of a text file."""

from __future__ import annotations

import re
from pathlib import Path

from bot.loaders.base import Block, LoadedDocument, LoaderError, TitleLevels

# How much of a file is looked at to tell text from binary.
_SNIFF = 8192


def decode_text(data: bytes) -> str:
    """Decode text in UTF-8, UTF-16 with a byte-order mark or a detected legacy charset.

    Only what is really binary (NUL bytes, control characters, no charset that fits) is
    refused.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoaderError("file has a UTF-16 byte-order mark but is not valid UTF-16") from exc
    if b"\x00" in data[:_SNIFF]:
        raise LoaderError("file looks binary (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    control = sum(1 for ch in text[:_SNIFF] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > 0.05 * min(len(text), _SNIFF):
        raise LoaderError("file looks binary (many control characters), not text")
    return text


def _decode_legacy(data: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoaderError(
            "file looks binary: it is not UTF-8 and no text encoding fits it"
        )
    # Keep the least garbled readings, then the most coherent of those.
    least = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= least + 0.01]
    best = max(m.coherence for m in tied)
    tied = [m for m in tied if m.coherence >= best - 0.01]
    # Short Western text decodes cleanly in several single-byte code pages (é is č in
    # cp1250), which the detector cannot tell apart; Windows-1252, a superset of Latin-1's
    # printable range, is by far the commonest of them.
    if any("cp1252" in m.could_be_from_charset for m in tied):
        return data.decode("cp1252")
    return str(tied[0])


TERMINAL = tuple(".!?:;,\"'’”)]")
_SMALL_WORDS = {"a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with", "vs"}
# A line of one repeated character: a title's underline (or overline), or a separator.
_RULE = re.compile(r"([-=~*_+#^\"'`:.])\1{2,}")
# What opens an FAQ entry or a list item: "Q:", "1.", "2.1.", "3)", "*", "-".
_MARKER = re.compile(r"(?:Q[:.]|Question:|\d{1,3}(?:\.\d{1,3})*[.)]|[*•+-])\s+", re.IGNORECASE)
_SECTION_NUMBER = re.compile(r"\d{1,3}(?:\.\d{1,3})+\.?\s+")
_ANSWER = re.compile(r"A[:.]\s")
# A sentence ends inside the line: prose, not a title.
_INNER_END = re.compile(r"[a-z)\]'\"]{2}[.!?]\s+[A-Z]")
# How long the question or label a passage sits under may be.
_LABEL_CHARS = 400
_LABEL_LINES = 5


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    if not (0 < len(words) <= 10 and len(line) <= 80 and line.lstrip()[:1].isupper()):
        return False
    # A line that ends on "the" or "in", or holds a sentence's end, is wrapped prose.
    if (_INNER_END.search(line) or _ANSWER.match(line)
            or (words[-1].lower() in _SMALL_WORDS and len(words) > 1)):
        return False
    if not line.rstrip().endswith(TERMINAL):
        return True
    # A short title-case question ("A New Paradigm?") is a heading, not a sentence.
    return (
        line.rstrip().endswith("?") and len(words) <= 6
        and all(w[:1].isupper() or w.lower() in _SMALL_WORDS for w in words)
    )


class _Lines:
    """The lines of a text with their offsets and indentation."""

    def __init__(self, text: str) -> None:
        self.raw = text.splitlines(keepends=True)
        self.starts: list[int] = []
        pos = 0
        for raw in self.raw:
            self.starts.append(pos)
            pos += len(raw)
        self.text = [r.rstrip("\r\n") for r in self.raw]
        self.stripped = [t.strip() for t in self.text]

    def __len__(self) -> int:
        return len(self.raw)

    def blank(self, i: int) -> bool:
        return i >= len(self.raw) or i < 0 or not self.stripped[i]

    def rule(self, i: int) -> str | None:
        """The character of a rule line (``=====``), else None."""
        if self.blank(i):
            return None
        m = _RULE.fullmatch(self.stripped[i])
        return m.group(1) if m else None

    def indent(self, i: int) -> int:
        line = self.text[i].expandtabs(8)
        return len(line) - len(line.lstrip())

    def lead(self, i: int) -> int:
        return self.starts[i] + len(self.text[i]) - len(self.text[i].lstrip())

    def end(self, i: int) -> int:
        return self.starts[i] + len(self.text[i].rstrip())

    def next_text(self, i: int) -> int | None:
        """The first non-blank line after line ``i``."""
        j = i + 1
        while j < len(self.raw) and self.blank(j):
            j += 1
        return j if j < len(self.raw) else None


def _label(lines: _Lines, i: int) -> int | None:
    """The last line of an FAQ question or entry label opening at line ``i``, if one does.

    A question ("Q: Why is ...?", "1.1. How do you ...?", or a line ending in "?" set apart
    from its answer by a blank line or by the answer's deeper indentation) heads the answer
    under it, and so does a numbered entry whose body is indented under it ("4. compress()
    returns Z_BUF_ERROR.") or a section-numbered one ("3.1. Programs ... die with a
    segmentation fault."), and a short bulleted label with its body indented under it.
    """
    first = lines.stripped[i]
    marker = _MARKER.match(first)
    if not (marker or first[:1].isupper() or first[:1] in "\"'“"):
        return None
    bullet = marker is not None and marker.group()[:1] in "*•+-"
    stop = min(i + _LABEL_LINES, len(lines))
    last = None
    for j in range(i, stop):
        if lines.blank(j) or lines.rule(j) or (j > i and lines.indent(j) > lines.indent(i)
                                               and not lines.stripped[j].endswith("?")):
            break
        if lines.stripped[j].endswith("?"):
            last = j
            # A question may run on over a second line that is a question too.
            while (last + 1 < stop and not lines.blank(last + 1)
                   and lines.stripped[last + 1].endswith("?")):
                last += 1
            break
    after = lines.next_text(last if last is not None else i)
    if after is None:
        return None
    if last is not None:
        question = " ".join(lines.stripped[i:last + 1])
        apart = lines.blank(last + 1) or lines.indent(last + 1) > lines.indent(i)
        if len(question) <= _LABEL_CHARS and (
            (marker and not bullet) or (
                apart and not _INNER_END.search(question))):
            return last
        return None
    if not marker or marker.group()[:1] in "qQ":
        return None
    # A statement: its paragraph, up to the first line indented under it.
    last = i
    while (last + 1 < stop and not lines.blank(last + 1)
           and lines.indent(last + 1) <= lines.indent(i)):
        last += 1
    label = " ".join(lines.stripped[i:last + 1])
    section = _SECTION_NUMBER.match(first) is not None
    # "Run it like this:" leads in to what follows, unless it is a numbered section's title.
    if len(label) > _LABEL_CHARS or (label.endswith(":") and not section):
        return None
    indented = lines.indent(after) > lines.indent(i)
    if bullet:
        words = label[marker.end():].split()
        return last if (indented and lines.blank(last + 1) and len(words) <= 6
                        and not label.endswith(TERMINAL)) else None
    if indented or (section and (lines.blank(last + 1)
                                 or lines.indent(last + 1) > lines.indent(i))):
        return last
    return None


def blocks_from_plain_text(text: str) -> list[Block]:
    """Split text into paragraph and heading blocks whose offsets index ``text``.

    A blank line ends a paragraph. Inside a run of lines, a line that ends a sentence
    or looks like a heading ends its block too, so both one-paragraph-per-line files and
    hard-wrapped files come out as paragraphs. An underlined (or over- and underlined)
    title is a heading whose level follows the order its underline style is first met, as
    in reStructuredText; rule lines themselves are no text. An FAQ question, or a numbered
    or bulleted entry label, heads the text under it one level below the last title.
    """
    lines = _Lines(text)
    blocks: list[Block] = []
    levels = TitleLevels()
    base = 0  # level of the last title: FAQ entries sit one below it
    start: int | None = None
    end = 0

    def close() -> None:
        nonlocal start
        if start is not None:
            blocks.append(Block(start, end))
            start = None

    i = 0
    while i < len(lines):
        stripped = lines.stripped[i]
        if not stripped:
            close()
            i += 1
            continue
        if lines.rule(i) is not None:
            close()
            i += 1
            continue
        # Titles and FAQ entries open a paragraph of their own.
        opens = start is None and (lines.blank(i - 1) or lines.rule(i - 1) is not None)
        under = lines.rule(i + 1) if opens else None
        if under is not None and len(stripped) <= 80 and not stripped.endswith(
                tuple(".!:;,")):
            base = levels(under, lines.rule(i - 1) == under)
            blocks.append(Block(lines.lead(i), lines.end(i), kind="heading", level=base))
            i += 2
            continue
        last = _label(lines, i) if opens else None
        if last is not None:
            blocks.append(Block(lines.lead(i), lines.end(last), kind="heading", level=base + 1))
            i = last + 1
            continue
        following = lines.stripped[i + 1] if i + 1 < len(lines) else ""
        if (start is None and following != ""
                # A following line in lower case continues a hard-wrapped sentence, and one
                # indented under it is the body of a lead-in ("See", then a list).
                and not following[:1].islower() and lines.indent(i + 1) <= lines.indent(i)
                and _looks_like_heading(stripped)):
            base = 1
            blocks.append(Block(lines.lead(i), lines.end(i), kind="heading", level=1))
            i += 1
            continue
        if start is None:
            start = lines.lead(i)
        end = lines.end(i)
        if stripped.endswith(TERMINAL) or not following:
            close()
        i += 1
    close()
    return blocks


def read_text(path: Path) -> LoadedDocument:
    """A ``.txt`` file: paragraphs and heading-like lines."""
    text = decode_text(path.read_bytes())
    return LoadedDocument(text=text, title="", blocks=blocks_from_plain_text(text), lines=True)
