"""Passages made of the Python documentation: the bot's chunking against the recipe's.

``python -m bench.chunk_count`` (needs the bench extra and Debian's ``python3.11-doc``)

Both sides read the same 526 HTML pages in the same run, with nothing embedded: the bot
through its HTML loader and ``chunk_document`` with the default settings, the recipe as
``BSHTMLLoader`` reads a page and ``RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200)`` cuts it. Results go to ``bench/results/chunk-count.{md,json}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.corpora import ensure_pydocs, pydocs_stages
from bench.sides import Baseline
from bot.chunking import chunk_with
from bot.loaders import load
from bot.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    """Count both sides' passages and write the report."""
    ensure_pydocs()
    files = [f for stage in pydocs_stages() for f in stage]
    settings = Settings()
    started = time.perf_counter()
    ours, distinct = 0, set()
    for f in files:
        chunks = chunk_with(load(f), str(f), settings)
        ours += len(chunks)
        distinct.update(c.id for c in chunks)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    recipe = len(Baseline.split(Baseline.html_docs(files)))
    recipe_s = time.perf_counter() - started
    figures = {
        "pages": len(files), "ours_chunks": ours, "ours_distinct": len(distinct),
        "recipe_chunks": recipe, "ratio": round(ours / recipe, 3),
        "distinct_ratio": round(len(distinct) / recipe, 3),
        "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
        "ours_s": round(ours_s, 1), "recipe_s": round(recipe_s, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chunk-count.json").write_text(json.dumps(figures, indent=1) + "\n")
    (RESULTS / "chunk-count.md").write_text(
        "# Passages of the Python documentation\n\n"
        f"`python -m bench.chunk_count`, {figures['pages']} HTML pages, nothing embedded.\n\n"
        "| side | passages | stored (distinct) | ratio to the recipe | seconds |\n"
        "|---|---|---|---|---|\n"
        f"| ours ({settings.chunk_size} characters, {settings.chunk_overlap} of overlap) "
        f"| {ours} | {len(distinct)} | {figures['ratio']:.2f}x "
        f"({figures['distinct_ratio']:.2f}x stored) | {figures['ours_s']} |\n"
        f"| recipe (1,000 characters, 200 of overlap) | {recipe} | | 1.00x "
        f"| {figures['recipe_s']} |\n"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
