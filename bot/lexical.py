"""BM25 over the committed chunks, rebuilt from the vector store's own contents."""

from __future__ import annotations

import math
from collections import Counter

import bm25s
import numpy as np
import Stemmer

from bot.text import content_words


class LexicalIndex:
    """An in-memory BM25 index (bm25s) over ``(id, text)`` pairs."""

    def __init__(
        self, ids: list[str], texts: list[str], reuse: LexicalIndex | None = None
    ) -> None:
        """Index ``texts``; term sets of ids already in ``reuse`` are taken from it.

        Ids are content hashes, so an id's terms never change: rebuilding after an ingest
        only analyses the new passages.
        """
        self.ids = list(ids)
        self._stemmer = Stemmer.Stemmer("english")
        self._retriever: bm25s.BM25 | None = None
        self._df: Counter[str] = Counter()
        self._terms: dict[str, frozenset[str]] = {}
        known = reuse._terms if reuse is not None else {}
        for cid, text in zip(self.ids, texts, strict=True):
            terms = known.get(cid)
            if terms is None:
                terms = frozenset(self.terms(text))
            self._terms[cid] = terms
            self._df.update(terms)
        if self.ids:
            tokens = bm25s.tokenize(
                texts, stopwords="en", stemmer=self._stemmer, show_progress=False
            )
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
            self._retriever = retriever

    def __len__(self) -> int:
        return len(self.ids)

    def terms(self, text: str) -> list[str]:
        """Stemmed content words, the vocabulary of :meth:`idf`."""
        return list(self._stemmer.stemWords(content_words(text)))

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term; unseen terms weigh the most."""
        n = len(self.ids)
        return math.log(1.0 + (n - self._df.get(term, 0) + 0.5) / (self._df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        """Whether any indexed passage has the stemmed ``term``."""
        return term in self._df

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, bm25 score)`` pairs; chunks sharing no term are left out."""
        if self._retriever is None or k <= 0:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, show_progress=False,
            return_ids=False,
        )
        query_tokens = [t for t in tokens[0] if t]
        if not query_tokens:
            return []
        scores = np.asarray(self._retriever.get_scores(query_tokens))
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
