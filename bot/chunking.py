"""Chunking: short blocks under one heading merged, long ones cut at sentences or lines.

Chunk ids are content hashes, so a passage repeated word for word is stored once.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter
from typing import TYPE_CHECKING

from bot.loaders import Block, LoadedDocument
from bot.loaders.base import LAID_OUT
from bot.models import Chunk
from bot.text import jaccard, normalize, sentence_spans, shingles

if TYPE_CHECKING:
    from bot.settings import Settings

# The version of what the loaders and the chunker make of a file, and of the text a passage
# is searched by (its heading path): a change to either that alters passages or
# their vectors raises it, and ingest then redoes every file stored under the old one.
PASSAGE_VERSION = 5
# Longest repeated block that is merged anyway: a label, not a paragraph worth citing alone.
_SCRAP = 80
# What may lie between two merged blocks: space, and the fences of a Markdown code block.
_SEPARATOR = re.compile(r"(?:\s|(?:`{3,}|~{3,})[\w+#.-]*)*")


def chunk_id(text: str) -> str:
    """Stable id of a passage: the hash of its normalised text."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()[:32]


def chunk_document(
    doc: LoadedDocument, source: str, chunk_size: int, chunk_overlap: int,
    near_duplicate: float | None = None,
) -> list[Chunk]:
    """Cut a loaded document into chunks that never cross a heading.

    Consecutive short blocks under one heading are merged up to ``chunk_size``, so lists
    and short paragraphs do not become a crowd of tiny passages. A block that occurs more
    than once in the document is never merged: it stays a chunk of its own, with the same
    text (and id) each time, so it is stored and cited once. Spreadsheet rows stay one a
    chunk. A block longer than ``chunk_size`` is split between sentences (code, tables and
    lists between lines), each piece repeating up to ``chunk_overlap`` characters of the
    one before. With ``near_duplicate``, blocks at least that similar (word-shingle Jaccard)
    never share a passage: a paragraph repeated with a word changed is kept apart, as an
    exact repeat is, and search collapses the two.
    """
    places = _Places(doc)
    counts = Counter(
        normalize(doc.text[b.start:b.end]) for b in doc.blocks if b.kind != "heading"
    )
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    run: list[Block] = []

    def emit(start: int, end: int, blocks: list[Block]) -> None:
        text = doc.text[start:end]
        if text.strip():
            code = ",".join(f"{max(b.start, start) - start}-{min(b.end, end) - start}"
                            for b in blocks if b.kind == "code" and b.start < end
                            and b.end > start)
            chunks.append(Chunk(
                id=chunk_id(text), text=text, source=source, title=doc.title, start=start,
                end=end, page=blocks[0].page, heading=" > ".join(t for _, t in headings),
                place=places.of(start, end, blocks, headed=bool(headings)), code=code,
            ))

    def flush() -> None:
        if run:
            emit(run[0].start, run[-1].end, run)
            run.clear()

    for block in doc.blocks:
        if block.kind == "heading":
            flush()
            title = " ".join(doc.text[block.start:block.end].lstrip("#").split())
            headings = [(lvl, t) for lvl, t in headings if lvl < block.level]
            headings.append((block.level, title))
            continue
        size = block.end - block.start
        body = doc.text[block.start:block.end]
        alone = block.kind == "row" or size > chunk_size or (size > _SCRAP and (
            # A repeated paragraph stays a chunk of its own; a repeated scrap ("Returns:
            # {string}") is no passage by itself and joins its neighbours.
            counts[normalize(body)] > 1
        ))
        if not alone and run and (
            block.end - run[0].start <= chunk_size
            and not _repeats(body, run, doc.text, near_duplicate)
            and block.place == run[-1].place
            and _SEPARATOR.fullmatch(doc.text[run[-1].end:block.start])
        ):
            run.append(block)
            continue
        flush()
        if not alone:
            run.append(block)
            continue
        if block.kind in LAID_OUT:
            spans = _line_spans(doc.text, block.start, block.end)
        else:
            spans = [(block.start + s, block.start + e)
                     for s, e in sentence_spans(doc.text[block.start:block.end])]
        for start, end in _windows(doc.text, spans, chunk_size, chunk_overlap):
            emit(start, end, [block])
    flush()
    return chunks


def chunk_with(doc: LoadedDocument, source: str, settings: Settings) -> list[Chunk]:
    """:func:`chunk_document` with the chunk size, overlap and near-duplicate threshold of
    ``settings``: the passages ingest makes of ``doc``."""
    return chunk_document(doc, source, settings.chunk_size, settings.chunk_overlap,
                          near_duplicate=settings.near_duplicate_threshold)


def recipe(settings: Settings) -> str:
    """How ingest makes passages under ``settings``, recorded with each committed file: a
    stored file made by another recipe is not unchanged, even when its bytes are."""
    return (f"passages v{PASSAGE_VERSION}, size {settings.chunk_size}, "
            f"overlap {settings.chunk_overlap}, near-duplicate "
            f"{settings.near_duplicate_threshold}")


def _repeats(body: str, run: list[Block], text: str, threshold: float | None) -> bool:
    """Whether ``body`` nearly repeats a paragraph of ``run``."""
    if threshold is None or len(body) <= _SCRAP:
        return False
    mine = shingles(body)
    return any(jaccard(mine, shingles(text[b.start:b.end])) >= threshold for b in run)


class _Places:
    """Where a span of a document is, as a reader would look it up."""

    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc
        self.newlines = [i for i, ch in enumerate(doc.text) if ch == "\n"] if doc.lines else []
        self.order = {
            id(b): n
            for n, b in enumerate((b for b in doc.blocks if b.kind != "heading"), start=1)
        }

    def of(self, start: int, end: int, blocks: list[Block], headed: bool) -> str:
        """"slide 7", "Sheet1 row 12", "p. 3-4", "lines 12-14", or "paragraph 5" where
        the passage has no heading to be found by."""
        if blocks[0].place:
            return blocks[0].place
        pages = [p for b in blocks for p in (b.page, b.last_page) if p is not None]
        if pages:
            first, last = min(pages), max(pages)
            return f"p. {first}" if first == last else f"p. {first}-{last}"
        if self.doc.lines:
            first = bisect_right(self.newlines, start) + 1
            last = bisect_right(self.newlines, max(start, end - 1)) + 1
            return f"line {first}" if first == last else f"lines {first}-{last}"
        n = self.order.get(id(blocks[0]))
        return f"paragraph {n}" if n and not headed else ""


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank lines of ``text[start:end]``, as offsets without surrounding space."""
    spans = []
    pos = start
    for line in text[start:end].split("\n"):
        stripped = line.strip()
        if stripped:
            lead = pos + len(line) - len(line.lstrip())
            spans.append((lead, lead + len(stripped)))
        pos += len(line) + 1
    return spans


def _windows(
    text: str, spans: list[tuple[int, int]], size: int, overlap: int
) -> list[tuple[int, int]]:
    """Pack consecutive spans (sentences or lines) into windows of at most ``size``."""
    if not spans:
        return []
    if spans[-1][1] - spans[0][0] <= size:
        return [(spans[0][0], spans[-1][1])]
    spans = [piece for s, e in spans for piece in _hard_split(text, s, e, size)]
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= size:
            j += 1
        windows.append((spans[i][0], spans[j][1]))
        if j + 1 >= len(spans):
            break
        # Step back over trailing spans that fit in the overlap, but always advance.
        k = j + 1
        while k - 1 > i and spans[j][1] - spans[k - 1][0] <= overlap:
            k -= 1
        i = k
    return windows


def _hard_split(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Split a single over-long sentence at spaces (or anywhere, as a last resort)."""
    pieces = []
    while end - start > size:
        cut = text.rfind(" ", start + 1, start + size)
        if cut <= start:
            cut = start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces
