"""Plain text: charset detection and paragraphs, headings and wrapped lines of a text file."""

from __future__ import annotations

import re
from pathlib import Path

from bot.loaders.base import Block, LoadedDocument, LoaderError

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


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TERMINAL = tuple(".!?:;,\"'’”)]")
_SMALL_WORDS = {"a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with", "vs"}


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    if not (0 < len(words) <= 10 and len(line) <= 80 and line.lstrip()[:1].isupper()):
        return False
    if not line.rstrip().endswith(TERMINAL):
        return True
    # A short title-case question ("A New Paradigm?") is a heading, not a sentence.
    return (
        line.rstrip().endswith("?") and len(words) <= 6
        and all(w[:1].isupper() or w.lower() in _SMALL_WORDS for w in words)
    )


def blocks_from_plain_text(text: str, markdown: bool = False) -> list[Block]:
    """Split text into paragraph and heading blocks whose offsets index ``text``.

    A blank line ends a paragraph. Inside a run of lines, a line that ends a sentence
    or looks like a heading ends its block too, so both one-paragraph-per-line files and
    hard-wrapped files come out as paragraphs. With ``markdown``, only ``#`` lines are
    headings.
    """
    blocks: list[Block] = []
    start: int | None = None
    end = 0
    pos = 0
    lines = text.splitlines(keepends=True)
    for i, raw in enumerate(lines):
        line_start, pos = pos, pos + len(raw)
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            if start is not None:
                blocks.append(Block(start, end))
                start = None
            continue
        lead = line_start + (len(line) - len(line.lstrip()))
        line_end = line_start + len(line.rstrip())
        md = _MD_HEADING.match(stripped) if markdown else None
        next_line = lines[i + 1].strip() if i + 1 < len(lines) else ""
        is_heading = md is not None or (
            not markdown and start is None and next_line != ""
            # A following line in lower case continues a hard-wrapped sentence.
            and not next_line[:1].islower() and _looks_like_heading(stripped)
        )
        if is_heading:
            if start is not None:
                blocks.append(Block(start, end))
                start = None
            level = len(md.group(1)) if md else 1
            blocks.append(Block(lead, line_end, kind="heading", level=level))
            continue
        if start is None:
            start = lead
        end = line_end
        if stripped.endswith(TERMINAL) or not next_line:
            blocks.append(Block(start, end))
            start = None
    if start is not None:
        blocks.append(Block(start, end))
    return blocks


def read_text(path: Path) -> LoadedDocument:
    """A ``.txt`` file: paragraphs and heading-like lines."""
    text = decode_text(path.read_bytes())
    return LoadedDocument(text=text, title="", blocks=blocks_from_plain_text(text), lines=True)
