"""Answer time of the extractive answerer with five passages, on this machine.

``python -m bench.answer_latency`` ingests the SQuAD 2.0 split beside the repository (one
document per paragraph), then times, for a fixed sample of questions: retrieval alone (the
baseline measured in the same run), the answerer alone on the five retrieved passages, and
the whole ``ask()``. Each question is timed twice: the first time the passages are new to the
answerer (their pieces are embedded and tagged), the second time they are known, as for the
popular passages of a running bot. Results go to ``bench/results/answer-latency.json`` and
``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.evals.datasets import load_squad
from bot.service import build_bot
from bot.settings import PROJECT_DIR, load_settings
from bot.text import asked_head

OUT = PROJECT_DIR / "bench" / "results"


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 1)


def main(argv: list[str]) -> None:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(prog="python -m bench.answer_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="?", type=int, default=200,
                        help="How many SQuAD questions to time (default 200).")
    n = parser.parse_args(argv).questions
    squad = PROJECT_DIR.parent / "shared" / "datasets" / "squad2-dev-split" / "squad2-open.json"
    with tempfile.TemporaryDirectory(prefix="bench-answer-") as tmp:
        data = load_squad(squad, Path(tmp) / "docs")
        settings = load_settings(data_dir=Path(tmp) / "data")
        bot = build_bot(settings)
        bot.ingest(data.corpus)
        questions = [c.question for c in random.Random(0).sample(data.cases, n)]
        bot.ask("warm-up question about the documents")
        snap = bot.store.snapshot()
        timings: dict[str, list[float]] = {
            "retrieval": [], "answer_new": [], "answer_known": [], "ask_known": []}
        for q in questions:
            t0 = time.perf_counter()
            retrieved = bot.retriever.retrieve(q, None, snap)
            t1 = time.perf_counter()
            bot.extractive.answer(q, retrieved, snap)
            # The passages are known now, the question is new each time: its parse is not
            # reused from the first timing.
            asked_head.cache_clear()
            t2 = time.perf_counter()
            bot.extractive.answer(q, retrieved, snap)
            t3 = time.perf_counter()
            asked_head.cache_clear()
            t3b = time.perf_counter()
            bot.ask(q)
            t4 = time.perf_counter()
            timings["retrieval"].append(t1 - t0)
            timings["answer_new"].append(t2 - t1)
            timings["answer_known"].append(t3 - t2)
            timings["ask_known"].append(t4 - t3b)
    result = {
        "questions": n, "top_k": settings.top_k, "cpus": platform.processor() or "",
        "python": platform.python_version(),
        "ms": {k: {"p50": _pct(v, 50), "p95": _pct(v, 95)} for k, v in timings.items()},
    }
    base = result["ms"]["retrieval"]["p95"] or 1.0
    result["p95_ratio_to_retrieval"] = {
        k: round(v["p95"] / base, 2) for k, v in result["ms"].items()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "answer-latency.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    lines = ["# Answer latency (five passages)", "",
             f"{n} SQuAD questions over 301 paragraphs, one process, this machine.", "",
             "| step | p50 ms | p95 ms | p95 / retrieval |", "|---|---|---|---|"]
    labels = {"retrieval": "retrieval alone (baseline)",
              "answer_new": "answerer, passages new to it",
              "answer_known": "answerer, passages seen before",
              "ask_known": "whole ask(), passages seen before"}
    for key, label in labels.items():
        ms = result["ms"][key]
        lines.append(f"| {label} | {ms['p50']} | {ms['p95']} | "
                     f"{result['p95_ratio_to_retrieval'][key]} |")
    (OUT / "answer-latency.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
