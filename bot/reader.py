"""The reader: a cross-encoder that reads the question and one candidate together and scores
how likely the candidate holds the answer.

The evidence scorer's features look at the question and a candidate apart (shared words,
embedding similarity, entity kinds); the reader attends across both, which is what tells
"When was X formed?" from a sentence that names X and a date of something else. It is the
bundled MiniLM with a one-logit head on its mean-pooled output, fine-tuned by ``bot train``
on question-answering data (:mod:`bot.reader_training`) and shipped as an int8 ONNX graph
(``bot/reader-model/``) that ONNX Runtime runs, as it runs the embedder: answering needs no
torch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bot.embeddings import default_model_path, onnx_session, padded

READER_DIR = "reader-model"
SPEC = "reader.json"
GRAPH = "reader.int8.onnx"
# Pairs per ONNX batch: a question's candidates fit in one or two runs.
BATCH = 16


def bundled_dir() -> Path:
    """The reader shipped with the package."""
    return Path(str(resources.files("bot").joinpath(READER_DIR)))


class Reader:
    """Scores (question, candidate) pairs with a fine-tuned cross-encoder run in int8."""

    def __init__(self, folder: Path | None = None, base: str = "") -> None:
        self.folder = folder or bundled_dir()
        # The tokenizer is the base model's: fine-tuning changed weights, not words. Found
        # on first use, so a bot that never reads does not need the base model installed.
        self.base = base
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @cached_property
    def spec(self) -> dict[str, Any]:
        """How the reader was made (read on first use: a bot whose evidence model has no
        rerank stage never needs it)."""
        return dict(json.loads((self.folder / SPEC).read_text("utf-8")))

    @property
    def max_length(self) -> int:
        """Tokens read per pair; the candidate is cut, never the question."""
        return int(self.spec["max_length"])

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            base = self.base or default_model_path()
            session, tokenizer = onnx_session(self.folder / GRAPH,
                                              Path(base) / "tokenizer.json")
            tokenizer.enable_truncation(self.max_length, strategy="only_second")
            self._session, self._tokenizer = session, tokenizer

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text: higher when the text holds the answer to ``question``."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        self._load()
        encoded = self._tokenizer.encode_batch([(question, t) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))
        out = np.zeros(len(texts), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            out[rows] = self._session.run(None, padded([encoded[i] for i in rows]))[0]
        return out
