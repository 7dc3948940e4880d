"""Hybrid retrieval: dense (Chroma) and BM25 results fused by reciprocal rank fusion."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from bot.models import Scored
from bot.settings import Settings
from bot.store import ChunkStore, Snapshot
from bot.text import jaccard, shingles


class Retriever:
    """Finds the passages that best match a standalone question."""

    def __init__(self, store: ChunkStore, embedder: Embeddings, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings

    def retrieve(
        self, query: str, top_k: int | None = None, snapshot: Snapshot | None = None,
        context: str = "",
    ) -> list[Scored]:
        """Best passages for ``query``, near-duplicates collapsed, best first.

        ``context`` (the earlier questions of a conversation) is searched together with
        the query as a second query whose rankings are fused with the query's own, so a
        follow-up finds the passages of the topic it continues even where its rewrite
        could not name that topic, and a change of topic still finds its own.
        """
        s = self.settings
        top_k = top_k or s.top_k
        snap = snapshot or self.store.snapshot()
        if not snap.files:
            return []
        dense, lexical = self._search(query, snap)
        rankings = [dense, lexical]
        if context.strip():
            rankings.extend(self._search(f"{query} {context}", snap))
        # Averaged over the queries, so a fused score reads the same with or without context.
        weight = 2 / len(rankings)
        fused: dict[str, float] = {}
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical, start=1)}
        similarity = dict(dense)
        for ranking in rankings:
            for rank, (cid, _) in enumerate(ranking, start=1):
                fused[cid] = fused.get(cid, 0.0) + weight / (s.rrf_k + rank)
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))
        # The lexical index may list passages not (or no longer) committed: those are skipped.
        chunks = snap.fetch(order)

        results: list[Scored] = []
        kept: list[frozenset[tuple[str, ...]]] = []
        for cid in order:
            chunk = chunks.get(cid)
            if chunk is None:
                continue
            sh = shingles(chunk.text)
            if any(jaccard(sh, other) >= s.near_duplicate_threshold for other in kept):
                continue
            kept.append(sh)
            results.append(
                Scored(
                    chunk=chunk, score=fused[cid], dense_rank=dense_rank.get(cid),
                    lexical_rank=lexical_rank.get(cid), dense_similarity=similarity.get(cid),
                )
            )
            if len(results) >= top_k:
                break
        return results

    def _search(
        self, query: str, snap: Snapshot
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        s = self.settings
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if s.retrieval_mode in ("hybrid", "dense"):
            dense = self.store.dense_search(self.embedder.embed_query(query), s.candidate_k, snap)
        if s.retrieval_mode in ("hybrid", "lexical"):
            lexical = snap.lexical.search(query, s.candidate_k)
        return dense, lexical
