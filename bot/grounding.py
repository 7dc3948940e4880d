"""The support scorer: is a sentence backed by the passages it cites?

Used at answer time (to drop unsupported sentences of an LLM reply) and by the eval
harness (groundedness, citation precision and recall). Offline and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.sentences import STOPWORDS, content_words, split_sentences, stem, words

# Sentence-initial words that are capitalised only because they start the sentence.
_DISCOURSE = frozenset(
    """
    however also additionally moreover furthermore today initially yes according overall
    thus therefore although since key many several while meanwhile instead still yet
    """.split()
)
_NUMBER = re.compile(r"^\d")
_CAPITALISED = re.compile(r"[A-Z][^\W_]*(?:['’][^\W_]+)?", re.UNICODE)

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
    for match in _CAPITALISED.finditer(sentence):
        word = match.group(0).lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word in STOPWORDS or word in _DISCOURSE:
            continue
        out.append(word)
    return list(dict.fromkeys(out))


def support(
    sentence: str, cited: Sequence[str], embedder: Embeddings | None = None
) -> Support:
    """Judge whether ``sentence`` is supported by the ``cited`` passages."""
    if not cited:
        return Support(False, 0.0, "no citation")
    evidence = " ".join(cited)
    evidence_words = set(words(evidence))
    evidence_words |= {w[:-2] for w in evidence_words if w.endswith("'s")}
    missing = [t for t in critical_terms(sentence) if t not in evidence_words]
    if missing:
        return Support(False, 0.0, f"not in cited text: {', '.join(missing[:5])}")

    claim = {stem(w) for w in content_words(sentence)}
    if not claim:
        return Support(True, 1.0, "no content words to check", coverage=1.0)
    known = {stem(w) for w in content_words(evidence)}
    novel = sorted(claim - known)
    coverage = 1.0 - len(novel) / len(claim)

    similarity: float | None = None
    if embedder is not None and (coverage < MIN_COVERAGE or len(novel) > MAX_NOVEL_WORDS):
        similarity = max_similarity(sentence, cited, embedder)

    if len(novel) > MAX_NOVEL_WORDS and (similarity is None or similarity < 0.9):
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
