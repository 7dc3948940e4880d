"""Sentence-aware chunking with overlap; chunk ids are content hashes, so repeats collapse."""

from __future__ import annotations

import hashlib

from bot.loaders import LoadedDocument
from bot.models import Chunk
from bot.text import normalize, sentence_spans


def chunk_id(text: str) -> str:
    """Stable id of a passage: the hash of its normalised text."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()[:32]


def chunk_document(
    doc: LoadedDocument, source: str, chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """Cut a loaded document into chunks that never cross a paragraph boundary.

    Paragraphs are the unit of repetition in real documents, so keeping chunks inside
    them lets a paragraph that appears twice produce the same chunk (and id) twice.
    Paragraphs longer than ``chunk_size`` are split between sentences, and each piece
    repeats up to ``chunk_overlap`` characters of trailing sentences from the one before.
    """
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    for block in doc.blocks:
        if block.kind == "heading":
            title = " ".join(doc.text[block.start:block.end].lstrip("#").split())
            headings = [(lvl, t) for lvl, t in headings if lvl < block.level]
            headings.append((block.level, title))
            continue
        heading = " > ".join(t for _, t in headings)
        for start, end in _windows(doc.text, block.start, block.end, chunk_size, chunk_overlap):
            text = doc.text[start:end]
            if not text.strip():
                continue
            chunks.append(
                Chunk(
                    id=chunk_id(text), text=text, source=source, title=doc.title,
                    start=start, end=end, page=block.page, heading=heading,
                )
            )
    return chunks


def _windows(
    text: str, start: int, end: int, size: int, overlap: int
) -> list[tuple[int, int]]:
    if end - start <= size:
        return [(start, end)]
    spans = [(start + s, start + e) for s, e in sentence_spans(text[start:end])]
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
        # Step back over trailing sentences that fit in the overlap, but always advance.
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
