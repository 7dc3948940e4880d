"""Load: 20 chat sessions at once against the web app for a minute, on 127.0.0.1.

The app runs as users run it (``bot ingest`` then ``bot web`` in their own process); each
session is a Gradio API client with its own conversation, asking questions and follow-ups
back to back. Every reply must be a real answer or refusal, never an error; the server's
resident memory after the warm-up must stay flat. Throughput and latency percentiles are
printed (they are measured figures for docs/reliability.md, not pass marks).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_DIR
from tests.conftest import CORPUS
from tests.servers import free_port, stop_process

pytestmark = pytest.mark.slow

SESSIONS = 20
DURATION_S = 60.0
WARMUP_S = 15.0
TURNS = [
    "When was the US-Japan Security Treaty formed?",
    "Who is Shigeru Ishiba?",
    "When was he born?",
    "What did Trump criticize Japan for in 1987?",
    "What is the capital of Australia?",
    "What did the 1997 Guidelines cover?",
    "Who is Yoshihide Soeya?",
    "What does he say about the alliance?",
]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _reply_ok(result: Any) -> bool:
    messages = result[0]["value"] if isinstance(result[0], dict) else result[0]
    last = messages[-1]
    text = last["content"][0]["text"] if isinstance(last["content"], list) else last["content"]
    answered = "dq-answer" in text or "dq-refusal" in text
    return last["role"] == "assistant" and answered and "dq-error" not in text


def test_twenty_sessions_for_a_minute(tmp_path: Path) -> None:
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1",
           "BOT_WEB_PORT": str(port)}
    subprocess.run([sys.executable, "-m", "bot", "ingest", str(CORPUS)], env=env,
                   cwd=PROJECT_DIR, check=True, capture_output=True, timeout=300)
    server = subprocess.Popen([sys.executable, "-m", "bot", "web"], env=env, cwd=PROJECT_DIR,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the web app did not come up"
                time.sleep(0.5)

        latencies: list[float] = []
        errors: list[str] = []
        memory: list[tuple[float, int]] = []
        lock = threading.Lock()
        start = time.monotonic()
        stop_at = start + DURATION_S

        def session(worker: int) -> None:
            client = Client(url, verbose=False)
            turn = worker
            while time.monotonic() < stop_at:
                question = TURNS[turn % len(TURNS)]
                began = time.monotonic()
                try:
                    result = client.predict(question, "extractive", 5, api_name="/respond")
                    ok = _reply_ok(result)
                except Exception as exc:  # any failure of the app counts against it
                    ok, result = False, f"{type(exc).__name__}: {exc}"
                with lock:
                    if ok:
                        latencies.append(time.monotonic() - began)
                    else:
                        errors.append(f"{question}: {str(result)[-300:]}")
                turn += 1

        def sample() -> None:
            while time.monotonic() < stop_at + 5 and server.poll() is None:
                memory.append((time.monotonic() - start, _rss_kb(server.pid)))
                time.sleep(1.0)

        threads = [threading.Thread(target=session, args=(w,)) for w in range(SESSIONS)]
        sampler = threading.Thread(target=sample)
        sampler.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DURATION_S + 240)
        elapsed = time.monotonic() - start
        sampler.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a session hung"
        assert server.poll() is None, "the web app died under load"
    finally:
        stop_process(server, timeout=30)
        if server.stderr is not None:
            server.stderr.close()

    assert not errors, errors[:5]
    assert len(latencies) >= SESSIONS, "fewer answers than sessions"
    steady = [kb for t, kb in memory if t >= WARMUP_S]
    half = len(steady) // 2
    first, last = statistics.median(steady[:half]), statistics.median(steady[half:])
    # Flat: the second half of the run holds no more than 10% (or 64 MB) over the first.
    assert last - first <= max(0.10 * first, 64 * 1024), (first, last)
    p = statistics.quantiles(latencies, n=100)
    print(
        f"\nload: {SESSIONS} sessions, {elapsed:.0f} s, {len(latencies)} answers, "
        f"{len(latencies) / elapsed:.2f} answers/s, p50 {p[49]:.2f} s, p95 {p[94]:.2f} s, "
        f"max {max(latencies):.2f} s, errors {len(errors)}, RSS after warm-up "
        f"{first / 1024:.0f} MB -> {last / 1024:.0f} MB (peak {max(steady) / 1024:.0f} MB)"
    )
