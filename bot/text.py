"""The one text layer: sentence boundaries (pysbd), word tokens, stopwords, stems and names."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd
import Stemmer

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t don shall may might must upon
    """.split()
)


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


@lru_cache(maxsize=8192)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Offsets ``(start, end)`` of each sentence of ``text``, trailing spaces excluded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for seg in _segmenter().segment(text):
        # pysbd's spans can drift on repeated substrings; re-anchor each sentence by search.
        piece = seg.sent.strip()
        if not piece:
            continue
        start = text.find(piece, pos)
        if start < 0:
            start = text.find(piece)
            if start < 0:
                continue
        end = start + len(piece)
        spans.append((start, end))
        pos = end
    if not spans and text.strip():
        lead = len(text) - len(text.lstrip())
        spans.append((lead, len(text.rstrip())))
    return tuple(spans)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``."""
    return [text[s:e] for s, e in sentence_spans(text)]


def words(text: str) -> list[str]:
    """Lower-cased word and number tokens."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Tokens that carry meaning: no stopwords, no possessive endings."""
    out = []
    for w in words(text):
        if w.endswith("'s"):
            w = w[:-2]
        if w and w not in STOPWORDS:
            out.append(w)
    return out


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """Snowball stem, so that 'meets', 'meeting' and 'meet' match."""
    return str(_stemmer().stemWord(word))


def normalize(text: str) -> str:
    """Whitespace-folded, case-folded text: two passages equal here are the same passage."""
    return " ".join(text.split()).casefold()
