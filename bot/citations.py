"""``[n]`` citation markers: the one place that parses, strips and renumbers them."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.text import split_sentences

# One marker: "[1]" or "[1, 2]". Citations are numbered from 1, so a bracketed list holding
# a 0 is text the answer quotes (a return value "[0, 0, 0]"), never a marker.
_NUMBER = r"[1-9]\d*"
MARKER = re.compile(rf"\[({_NUMBER}(?:\s*,\s*{_NUMBER})*)\]")
# A run of markers with the space before it: "text [1][2]" or "text [1, 3]".
_RUN = re.compile(rf"(?:\s*\[{_NUMBER}(?:\s*,\s*{_NUMBER})*\])+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_TRAILING_PUNCT = re.compile(r"[.,;:!?]+")


def numbers(text: str) -> list[int]:
    """Every number cited in ``text``, in order of first appearance."""
    return list(dict.fromkeys(
        int(n) for group in MARKER.findall(text) for n in group.split(",")
    ))


def markers(text: str) -> Iterator[tuple[re.Match[str], list[int]]]:
    """Each single marker of ``text`` with the numbers it cites."""
    for match in MARKER.finditer(text):
        yield match, [int(n) for n in match.group(1).split(",")]


def strip(text: str) -> str:
    """``text`` without markers, and without the space they leave before punctuation."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _RUN.sub("", text)).strip()


def is_only_markers(text: str) -> bool:
    """True for a piece that holds markers and nothing else (e.g. "[1]")."""
    return bool(text.strip()) and not _RUN.sub("", text).strip()


def claims(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences of an answer with the ``[n]`` numbers that cite them.

    A run of markers cites the text before it back to the previous run, so "A. B [1]"
    cites both sentences; a trailing sentence without markers cites nothing.
    """
    out: list[tuple[str, list[int]]] = []
    pos = 0
    for match in _RUN.finditer(answer):
        cited = sorted(set(numbers(match.group(0))))
        segment = answer[pos:match.start()]
        # Punctuation right after the markers ("... 1987 [2].") belongs to the sentence.
        end = match.end()
        tail = _TRAILING_PUNCT.match(answer[end:])
        if tail:
            segment += tail.group(0)
            end += tail.end()
        pos = end
        out.extend((s, cited) for s in split_sentences(segment.strip()) if _has_words(s))
    rest = answer[pos:].strip()
    out.extend((s, []) for s in split_sentences(rest) if _has_words(s))
    return out


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class Numbering:
    """Assigns answer-local numbers 1, 2, ... to cited items in order of first citation."""

    def __init__(self) -> None:
        self._numbers: dict[object, int] = {}

    def __call__(self, key: object) -> tuple[int, bool]:
        """The number of ``key``, and whether this is its first citation."""
        if key in self._numbers:
            return self._numbers[key], False
        self._numbers[key] = len(self._numbers) + 1
        return self._numbers[key], True

    @staticmethod
    def label(numbers: list[int]) -> str:
        """Markers for ``numbers``: "[1][3]"."""
        return "".join(f"[{n}]" for n in numbers)
