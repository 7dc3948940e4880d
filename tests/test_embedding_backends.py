"""The ONNX Runtime embedding backends agree with the sentence-transformers reference."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.embeddings import (
    OnnxEmbeddings,
    SentenceTransformerEmbeddings,
    build_embedder,
    default_model_path,
    onnx_cache_dir,
)
from bot.settings import Settings

PASSAGES = [
    "The committee approved the harbour budget on a narrow vote in March.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "A binary search halves the interval it looks at on every step.",
    "x",
    "The treaty, signed after months of talks, " * 20,  # longer than the model's limit
    "Les pommes de terre poussent mieux dans un sol meuble.",
]
QUERIES = [
    "Who approved the budget?",
    "How do plants make sugar?",
    "How fast is binary search?",
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export of the bundled model shared by this module."""
    return tmp_path_factory.mktemp("onnx-models")


@pytest.mark.parametrize("quantize, floor", [(False, 0.9999), (True, 0.97)])
def test_onnx_vectors_match_the_float_model(
    embedder: SentenceTransformerEmbeddings, onnx_dir: Path, quantize: bool, floor: float
) -> None:
    onnx = OnnxEmbeddings(cache_dir=onnx_dir, quantize=quantize, batch_size=4)
    ref = np.asarray(embedder.embed_documents(PASSAGES))
    got = np.asarray(onnx.embed_documents(PASSAGES))
    assert got.shape == ref.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert (got * ref).sum(axis=1).min() > floor
    # Rankings are what retrieval uses: each query finds the same best passage.
    q_ref = np.asarray([embedder.embed_query(q) for q in QUERIES])
    q_got = np.asarray([onnx.embed_query(q) for q in QUERIES])
    assert ((q_got @ got.T).argmax(axis=1) == (q_ref @ ref.T).argmax(axis=1)).all()
    assert (q_got @ got.T).argmax(axis=1).tolist() == [0, 1, 2]


def test_onnx_export_is_reused_and_deterministic(onnx_dir: Path) -> None:
    first = OnnxEmbeddings(cache_dir=onnx_dir, quantize=True)
    a = first.embed_documents(PASSAGES[:3])
    graphs = sorted(onnx_dir.rglob("*.onnx"))
    stamps = [p.stat().st_mtime_ns for p in graphs]
    assert [p.name for p in graphs] == ["model.int8.onnx", "model.onnx"]
    second = OnnxEmbeddings(cache_dir=onnx_dir, quantize=True)
    assert np.allclose(second.embed_documents(PASSAGES[:3]), a, atol=1e-6)
    assert [p.stat().st_mtime_ns for p in graphs] == stamps
    assert not [p for p in onnx_dir.rglob("*") if p.name.startswith(".")]


def test_onnx_backend_needs_a_local_model_folder(tmp_path: Path) -> None:
    onnx = OnnxEmbeddings("sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match="local sentence-transformers model folder"):
        onnx.embed_query("hello")
    assert not list(tmp_path.iterdir())


def test_backend_setting_picks_the_engine(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert make_settings().embedding_backend == "onnx-int8"
    assert isinstance(build_embedder(make_settings(embedding_backend="sentence-transformers")),
                      SentenceTransformerEmbeddings)
    for backend, quantize in (("onnx", False), ("onnx-int8", True)):
        settings = make_settings(embedding_backend=backend)
        built = build_embedder(settings)
        assert isinstance(built, OnnxEmbeddings)
        assert built.quantize is quantize
        # One export per machine, shared by every data folder.
        assert built.cache_dir == tmp_path / "cache" / "docbot" / "onnx"
        assert built.model_name == default_model_path()
    assert not (tmp_path / "cache").exists()  # nothing is exported before the first text
    with pytest.raises(ValueError, match="embedding_backend"):
        make_settings(embedding_backend="tensorflow")


def test_onnx_exports_go_to_the_data_folder_when_the_user_cache_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(locked / "cache"))
    try:
        expected = tmp_path / "data" / "models" if not os.access(locked, os.W_OK) else (
            locked / "cache" / "docbot" / "onnx")  # root writes anywhere
        assert onnx_cache_dir(tmp_path / "data") == expected
    finally:
        locked.chmod(0o700)


def test_onnx_batches_hold_texts_of_similar_length_and_keep_the_order(
    onnx_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The float graph: int8 activations are scaled per batch, so padding moves them a little.
    onnx = OnnxEmbeddings(cache_dir=onnx_dir, quantize=False, batch_size=2)
    texts = ["word " * n for n in (3, 40, 1, 25, 2, 60)]
    one_by_one = np.asarray([onnx.encode([t])[0] for t in texts])
    widths: list[list[int]] = []
    run = onnx._run

    def recording(encoded: list[Any]) -> np.ndarray:
        widths.append([len(e.ids) for e in encoded])
        return run(encoded)

    monkeypatch.setattr(onnx, "_run", recording)
    together = onnx.encode(texts)
    # Longest first, two by two: each batch pads its texts to a neighbour's length.
    assert widths == [[62, 42], [27, 5], [4, 3]]
    assert np.allclose(together, one_by_one, atol=1e-5)
