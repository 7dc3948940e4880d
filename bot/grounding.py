"""The support scorer: is a sentence backed by the passages it cites?

Used at answer time, to drop unsupported sentences of an LLM reply. The eval harness
reports its verdict as ``runtime_support`` only: groundedness is judged there by an
independent checker (:mod:`bot.evals.independent`). Offline and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.text import STOPWORDS, content_words, names, split_sentences, stem, words

_NUMBER = re.compile(r"^\d")

MAX_NOVEL_WORDS = 2
MIN_COVERAGE = 0.75
MIN_PARAPHRASE_COVERAGE = 0.5
MIN_PARAPHRASE_SIMILARITY = 0.7


@dataclass(frozen=True)
class Support:
    """Verdict of the support scorer for one sentence."""

    supported: bool
    score: float
    reason: str
    coverage: float = 0.0
    similarity: float | None = None


def critical_terms(sentence: str) -> list[str]:
    """Numbers, dates and names: the words a supporting passage must contain verbatim."""
    out: list[str] = [t for t in words(sentence) if _NUMBER.match(t)]
    for name in names(sentence):
        out += [w.removesuffix("'s") for w in words(name) if w not in STOPWORDS]
    return list(dict.fromkeys(out))


# Reporting frames that attribute a claim to the documents without adding to it.
_FRAME = re.compile(
    r"^\s*(?:according to (?:the |this )?(?:document|documents|source|sources|passage|"
    r"passages|text|article)s?(?: \[\d+\])?,?|(?:the |this )?(?:document|source|passage|text|"
    r"article)s? (?:says|say|states|state|notes|note|mentions|mention|reports|report|"
    r"explains|explain)(?: that)?,?)\s+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Window:
    """One sentence of a cited passage, or two adjacent ones (a name, then "he ...")."""

    text: str
    words: frozenset[str]
    stems: frozenset[str]
    tokens: tuple[str, ...]


def _windows(cited: Sequence[str]) -> list[_Window]:
    out: list[_Window] = []
    for passage in cited:
        sents = split_sentences(passage) or [passage]
        spans = [(i, i + 1) for i in range(len(sents))]
        spans += [(i, i + 2) for i in range(len(sents) - 1)]
        for a, b in spans:
            text = " ".join(sents[a:b])
            tokens = _tokens(text)
            out.append(_Window(text, frozenset(tokens),
                               frozenset(stem(w) for w in content_words(text)), tokens))
    return out


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(w[:-2] if w.endswith("'s") else w for w in words(text))


def _context(tokens: Sequence[str], i: int) -> set[str]:
    """What surrounds token ``i``: its direct neighbours and content words two away."""
    near = {tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)}
    near |= {tokens[j] for j in (i - 2, i + 2)
             if 0 <= j < len(tokens) and tokens[j] not in STOPWORDS}
    return near


def _in_context(term: str, claim: Sequence[str], window: _Window) -> bool:
    """Whether ``term`` occurs in ``window`` next to something it is next to in the claim.

    This is what tells "Babbage served as president" from a passage where Babbage and the
    president are both named, but in different places.
    """
    if term not in window.words:
        return False
    if term not in claim:
        return True
    around = _context(claim, claim.index(term))
    if not around:
        return True
    return any(
        tok == term and around & _context(window.tokens, j)
        for j, tok in enumerate(window.tokens)
    )


def support(
    sentence: str, cited: Sequence[str], embedder: Embeddings | None = None
) -> Support:
    """Judge whether ``sentence`` is supported by the ``cited`` passages.

    The claim must be stated in one place: one sentence of a cited passage, or two adjacent
    sentences. That window must contain every number, date and name of the claim verbatim
    (so a name or year taken from elsewhere in the passage does not pass) and cover its
    content words, allowing a few new words, or an embedding paraphrase of it.
    """
    if not cited:
        return Support(False, 0.0, "no citation")
    claim_text = _FRAME.sub("", sentence, count=1) or sentence
    critical = critical_terms(claim_text)
    claim = {stem(w) for w in content_words(claim_text)}
    windows = _windows(cited)
    if not windows:
        return Support(False, 0.0, "the cited text is empty")
    everywhere = frozenset().union(*(w.words for w in windows))
    missing = [t for t in critical if t not in everywhere]
    if missing:
        return Support(False, 0.0, f"not in cited text: {', '.join(missing[:5])}")
    claim_tokens = _tokens(claim_text)
    placed = [w for w in windows if all(_in_context(t, claim_tokens, w) for t in critical)]
    if not placed:
        return Support(False, 0.0, f"not stated together in the cited text: "
                                   f"{', '.join(critical[:5])}")
    if not claim:
        return Support(True, 1.0, "no content words to check", coverage=1.0)
    best = max(placed, key=lambda w: (len(claim & w.stems), -len(w.text)))
    novel = sorted(claim - best.stems)
    coverage = 1.0 - len(novel) / len(claim)

    similarity: float | None = None
    if embedder is not None and (coverage < MIN_COVERAGE or len(novel) > MAX_NOVEL_WORDS):
        similarity = max_similarity(claim_text, [best.text], embedder)

    if len(novel) > MAX_NOVEL_WORDS and (
        similarity is None or similarity < 0.9 or coverage < MIN_COVERAGE
    ):
        return Support(
            False, coverage, f"unsupported words: {', '.join(novel[:6])}", coverage, similarity
        )
    if coverage >= MIN_COVERAGE:
        return Support(True, coverage, "covered by cited text", coverage, similarity)
    if (
        similarity is not None
        and coverage >= MIN_PARAPHRASE_COVERAGE
        and similarity >= MIN_PARAPHRASE_SIMILARITY
    ):
        return Support(True, (coverage + similarity) / 2, "paraphrase of cited text",
                       coverage, similarity)
    return Support(
        False, coverage, f"low coverage ({coverage:.2f}); unsupported: {', '.join(novel[:6])}",
        coverage, similarity,
    )


def max_similarity(sentence: str, cited: Sequence[str], embedder: Embeddings) -> float:
    """Highest cosine similarity between ``sentence`` and any sentence of the cited text."""
    pieces = [s for text in cited for s in split_sentences(text)] or list(cited)
    vectors = np.asarray(embedder.embed_documents([sentence, *pieces]))
    return float(np.max(vectors[1:] @ vectors[0]))
