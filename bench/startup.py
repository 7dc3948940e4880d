"""Whole-process start-up: `bot ask` in a terminal and the first answer in the browser.

``python -m bench.startup [--work DIR] [--repeat R]`` (needs Debian's Chromium and Playwright)

Every figure is the wall time a person waits, start-up and model loading included, on a data
folder holding ``corpus/`` (one file):

- ``bot ask QUESTION`` as a whole process, the median of ``--repeat`` runs;
- ``bot web``: from launching the process to the page being served, and to the first answer
  shown in Chromium after the question is typed (the model is loaded at start-up, so the
  first question should not wait for it).

Both run with today's default embedding engine (``onnx-int8``) and, side by side in the same
run, with the engine that was the default before it (``sentence-transformers``, torch).
Results go to ``bench/results/startup.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.processes import bot_env, free_port, stop

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BOT = REPO / ".venv" / "bin" / "bot"
CHROMIUM = "/usr/bin/chromium"
QUESTION = "When was Shigeru Ishiba born?"
ENGINES = ("onnx-int8", "sentence-transformers")
ANSWERS = "#dq-chat .dq-answer, #dq-chat .dq-refusal, #dq-chat .dq-error"


def ask_seconds(data: Path, engine: str, repeat: int) -> list[float]:
    """Wall times of whole ``bot ask`` processes."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([str(BOT), "ask", QUESTION],
                       env=bot_env(data, BOT_EMBEDDING_BACKEND=engine), check=True,
                       capture_output=True, timeout=300)
        times.append(time.perf_counter() - started)
    return times


def web_seconds(data: Path, engine: str) -> dict[str, float]:
    """Seconds from launching ``bot web`` to its page, and to the first answer in Chromium."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    web = subprocess.Popen([str(BOT), "web"],
                           env=bot_env(data, BOT_EMBEDDING_BACKEND=engine, BOT_WEB_PORT=str(port)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if web.poll() is not None:
                raise RuntimeError("bot web exited while starting")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.perf_counter() - started > 300:
                    raise RuntimeError("bot web did not come up") from None
                time.sleep(0.1)
        served = time.perf_counter() - started
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM,
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page()
                page.set_default_timeout(300_000)
                page.goto(url)
                page.wait_for_selector("#dq-question textarea")
                page.fill("#dq-question textarea", QUESTION)
                asked = time.perf_counter()
                page.click("#dq-ask")
                page.wait_for_selector(ANSWERS)
                answered = time.perf_counter()
            finally:
                browser.close()
    finally:
        stop(web, 30)
    return {"page_served_s": round(served, 2), "first_answer_s": round(answered - asked, 3),
            "launch_to_first_answer_s": round(answered - started, 2)}


def main() -> None:
    """Measure both engines and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=REPO / ".data" / "bench-startup")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "load": os.getloadavg()[0],
                               "question": QUESTION, "engines": {}}
    for engine in ENGINES:
        data = args.work / engine
        subprocess.run([str(BOT), "ingest", str(REPO / "corpus")],
                       env=bot_env(data, BOT_EMBEDDING_BACKEND=engine), check=True,
                       capture_output=True, timeout=600)
        asks = ask_seconds(data, engine, args.repeat)
        figures["engines"][engine] = {
            "bot_ask_median_s": round(statistics.median(asks), 2),
            "bot_ask_s": [round(t, 2) for t in asks], **web_seconds(data, engine)}
        print(engine, json.dumps(figures["engines"][engine]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(figures, indent=1) + "\n")
    rows = "".join(
        f"| {engine}{' (default)' if engine == ENGINES[0] else ' (the default before)'} "
        f"| {f['bot_ask_median_s']} | {f['page_served_s']} | {f['first_answer_s']} "
        f"| {f['launch_to_first_answer_s']} |\n"
        for engine, f in figures["engines"].items())
    (RESULTS / "startup.md").write_text(
        "# Start-up as a person waits for it\n\n"
        f"`python -m bench.startup`, one-file corpus (`corpus/`), {figures['cpus']} cores, "
        f"load average {figures['load']:.1f} at the start; seconds, whole processes.\n\n"
        "| embedding engine | `bot ask` (median) | `bot web` launch to page | "
        "first answer after asking | launch to first answer |\n|---|---|---|---|---|\n" + rows)


if __name__ == "__main__":
    main()
