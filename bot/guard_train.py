"""Fit the steering/injection weights in ``bot/guard_weights.py`` from ``evals/datasets/guard``.

Run ``python -m bot.guard_train``. Rows are split by *source* (a manual, a write-up, a
dataset), never by line, so the held-out rates measure texts from places the fit never saw.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot import guard

DATA = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "guard"
WEIGHTS_FILE = Path(__file__).resolve().parent / "guard_weights.py"
SEED = 20240611
HELD_OUT_SHARE = 0.3
# The training false-positive budget is half the 1% target, so the held-out rate has room.
TRAIN_FP_BUDGET = 0.005

FEATURES = [
    "override_order", "override_yours", "your_control", "role_change", "from_now_on_you",
    "reveal_prompt", "addressed_to_machine", "fake_channel", "task_switch", "reply_control",
    "own_knowledge", "exfiltrate", "the_user_as_third_party", "second_person", "machine_word",
    "shouting", "output_rule", "verdict_override", "conversation_start", "reader_act",
    "order_sentence", "question_form", "asker_first_person", "order_x_yours", "machine_x_order",
]  # fmt: skip

# side -> (texts that must pass, texts that must be caught)
SETS = {"question": ("questions", "steering"), "passage": ("passages", "planted")}


def load(name: str) -> list[dict[str, str]]:
    """Rows of ``evals/datasets/guard/<name>.jsonl``."""
    with open(DATA / f"{name}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def held_out_sources(rows: Sequence[dict[str, str]], seed: int = SEED) -> set[str]:
    """A fixed, seeded ~30% of the distinct sources of ``rows``."""
    sources = sorted({r["source"] for r in rows})
    random.Random(seed).shuffle(sources)
    return set(sources[: max(1, round(len(sources) * HELD_OUT_SHARE))])


def split(name: str, seed: int = SEED) -> tuple[list[str], list[str]]:
    """(train texts, held-out texts) of one data set, split by source."""
    rows = load(name)
    held = held_out_sources(rows, seed)
    return (
        [r["text"] for r in rows if r["source"] not in held],
        [r["text"] for r in rows if r["source"] in held],
    )


def _fit(x: np.ndarray, y: np.ndarray, l2: float = 0.05, steps: int = 4000) -> np.ndarray:
    """L2-regularised logistic regression, classes weighted to equal mass."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    weight = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ ((p - y) * weight) + l2 * np.r_[0, w[1:]] / len(y)
        w -= 2.0 * grad
    return w


def train(seed: int = SEED) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Weights and thresholds per side, fitted on the training sources only."""
    weights: dict[str, list[float]] = {}
    thresholds: dict[str, float] = {}
    all_caught = [t for _, c in SETS.values() for t in split(c, seed)[0]]
    for side, (ok_name, bad_name) in SETS.items():
        ok = split(ok_name, seed)[0]
        # Every instruction aimed at the bot teaches both sides; its own side counts double.
        bad = split(bad_name, seed)[0] * 2 + all_caught
        x = np.array([guard.features(t) for t in ok + bad])
        y = np.r_[np.zeros(len(ok)), np.ones(len(bad))]
        w = _fit(x, y)
        scores_ok = 1 / (1 + np.exp(-(w[0] + x[: len(ok)] @ w[1:])))
        allowed = int(TRAIN_FP_BUDGET * len(ok))
        threshold = float(np.sort(scores_ok)[::-1][allowed]) + 1e-4
        weights[side] = [round(float(v), 4) for v in w]
        thresholds[side] = math.ceil(max(threshold, 0.5) * 1e4) / 1e4
    return weights, thresholds


def write(weights: dict[str, list[float]], thresholds: dict[str, float]) -> None:
    """Rewrite ``bot/guard_weights.py``."""
    body = (
        '"""Fitted by ``python -m bot.guard_train``; do not edit by hand."""\n\n'
        f"FEATURES = {FEATURES!r}\n"
        f"WEIGHTS = {weights!r}\n"
        f"THRESHOLDS = {thresholds!r}\n"
    )
    WEIGHTS_FILE.write_text(body, encoding="utf-8")


def main() -> None:
    """Fit, write the weights, and print the held-out rates."""
    import bot.guard_weights as gw

    gw.FEATURES = FEATURES  # features() reads this order while fitting
    weights, thresholds = train()
    write(weights, thresholds)
    gw.WEIGHTS, gw.THRESHOLDS = weights, thresholds
    from bot.guard_rates import report

    report()


if __name__ == "__main__":
    main()
