"""BM25 over the committed passages: a tantivy index kept on disk and updated in place.

The index lives beside the store's catalog replica (bot/index.py). Adding a file adds its new
passages and one commit, however large the index: no process rebuilds it, and a new process
opens it instead of reading every passage. Searches may return passages the catalog does not
list (yet, or any more); the caller keeps only committed ones.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import Stemmer

from bot.text import content_words

# Tantivy refuses terms over 64 KB, and a "word" that long (a base64 blob, a minified line)
# is no one's search term.
_MAX_TERM_CHARS = 64
_WRITER_HEAP = 50_000_000


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Stemmed content words: the vocabulary the index and :meth:`LexicalIndex.idf` use."""
    return list(_stemmer().stemWords(content_words(text)))


def _indexed(text: str) -> list[str]:
    return [t for t in terms(text) if len(t) <= _MAX_TERM_CHARS]


def _tantivy() -> Any:
    try:
        import tantivy
    except ImportError as exc:
        raise RuntimeError("lexical search needs tantivy: pip install tantivy") from exc
    return tantivy


class LexicalIndex:
    """A persistent BM25 index of ``(passage id, text)``; ``folder=None`` keeps it in memory."""

    def __init__(self, folder: Path | None = None) -> None:
        tantivy = _tantivy()
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        # Our own analysis (stopwords, Snowball stems) goes in as space-separated terms, so
        # the index and the evidence scorer's idf agree on what a term is.
        builder.add_text_field("body", stored=False, tokenizer_name="whitespace",
                               index_option="freq")
        self._schema = builder.build()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self._schema, path=str(folder), reuse=True)
        else:
            self._index = tantivy.Index(self._schema)
        self._lock = threading.Lock()
        self._searcher = self._index.searcher()

    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    terms = staticmethod(terms)

    def refresh(self) -> None:
        """See the latest commit (made by this or another process)."""
        with self._lock:
            self._index.reload()
            self._searcher = self._index.searcher()

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, bm25 score)`` pairs; passages sharing no term are left out."""
        tantivy = _tantivy()
        wanted = list(dict.fromkeys(_indexed(query)))
        if not wanted or k <= 0:
            return []
        searcher = self._searcher
        should = tantivy.Occur.Should
        q = tantivy.Query.boolean_query(
            [(should, tantivy.Query.term_query(self._schema, "body", t)) for t in wanted]
        )
        hits = searcher.search(q, k).hits
        return [(str(searcher.doc(address)["id"][0]), float(score)) for score, address in hits]

    def ids(self) -> set[str]:
        """Every indexed passage id (for checks; reads the whole index)."""
        searcher = self._searcher
        n = max(1, len(self))
        hits = searcher.search(_tantivy().Query.all_query(), n).hits
        return {str(searcher.doc(address)["id"][0]) for _, address in hits}

    def update(self, add: Iterable[tuple[str, str]], remove: Sequence[str],
               clear: bool = False) -> None:
        """Index ``add``, drop ``remove`` (and with ``clear`` everything first), in one commit.

        Adding an id already indexed replaces it, so replaying an update is harmless. Callers
        serialise updates across processes; tantivy allows one writer per index.
        """
        tantivy = _tantivy()
        writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        try:
            if clear:
                writer.delete_all_documents()
            for cid in remove:
                writer.delete_documents_by_term("id", cid)
            for cid, text in add:
                writer.delete_documents_by_term("id", cid)
                writer.add_document(tantivy.Document(id=cid, body=" ".join(_indexed(text))))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()
            raise
        finally:
            # The writer holds the index's lock until it is dropped.
            del writer
        self.refresh()
