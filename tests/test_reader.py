"""The reader (``bot train --reader``): fine-tuning, and the int8 graph the answerer runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.reader import Reader
from bot.reader_training import INPUTS, Pair, Recipe, fine_tune, save

# Written for these tests: facts of no document the reader was trained on.
QUESTION = "In what year did the Harbour Bridge open to traffic?"
ANSWERING = "The Harbour Bridge opened to traffic in 1932, after eight years of building."
DISTRACTORS = [
    "The Harbour Bridge is painted grey and carries eight lanes of road.",
    "Ferries cross the harbour every twenty minutes in summer.",
    "In 1932 the city also opened a new public library on George Street.",
]


def test_a_fine_tuned_reader_runs_the_same_in_its_int8_graph(tmp_path: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    from bot.embeddings import default_model_path

    pairs = [Pair(QUESTION, ANSWERING, 1)] + [Pair(QUESTION, d, 0) for d in DISTRACTORS]
    recipe = Recipe(batch_size=2, epochs=2, max_length=64)
    model = fine_tune(pairs * 2, recipe, seed=0, progress=lambda _: None)
    save(model, recipe, tmp_path / "reader", {"note": "test"})
    reader = Reader(tmp_path / "reader")
    assert reader.spec["max_length"] == 64 and reader.spec["note"] == "test"
    texts = [p.text for p in pairs]
    int8 = reader.score(QUESTION, texts)

    enc = AutoTokenizer.from_pretrained(default_model_path())(
        [QUESTION] * len(texts), texts, padding=True, truncation="only_second",
        max_length=64, return_tensors="pt")
    with torch.no_grad():
        full = model(**{k: enc[k] for k in INPUTS}).numpy()
    # int8 weights move the logits a little, never the order of clearly different pairs.
    assert np.max(np.abs(int8 - full)) < 0.25
    assert np.corrcoef(int8, full)[0, 1] > 0.98
    # Alone or in a batch, a pair scores nearly the same: padding is masked, and only the
    # activation ranges that dynamic int8 quantisation takes per batch differ.
    assert reader.score(QUESTION, [ANSWERING])[0] == pytest.approx(int8[0], abs=0.05)
    assert reader.score(QUESTION, []).shape == (0,)
