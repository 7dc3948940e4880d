"""``bot ingest`` killed with SIGKILL at random points: the store stays consistent.

A corpus is ingested (version 1); then a bounded, seeded loop rewrites every file (a new
version each time), starts ``bot ingest`` and kills it at a random point of its progress.
After every kill a fresh process inspects the store: each file is visible whole at one of
its versions, never in between; every visible passage has its vector, the BM25 index holds
exactly the visible passages, and each passage's own vector finds it. A last uninterrupted
run must finish the job and leave no stray vectors behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import random
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from bot.chunking import chunk_document
from bot.loaders import load
from bot.settings import PROJECT_DIR

pytestmark = pytest.mark.slow

FILES = 12
PARAGRAPHS = 30
# Where in the progress bar (files done) each killed run dies, plus a random delay. With
# 30 passages a file, the first 9 files fill one embedding group and are committed together
# before the bar shows 9, so these stretches cover: reading and embedding before any
# commit, the first commit, the last group, and the sweep after the bar is full.
STRETCHES = [(1, 4), (5, 8), (9, 11), (12, 12)]
SEED = 20261124


def write_corpus(folder: Path, version: int) -> None:
    folder.mkdir(exist_ok=True)
    for f in range(FILES):
        rng = random.Random(f"{SEED}-{f}-{version}")
        paras = []
        for p in range(PARAGRAPHS):
            town = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4))
            paras.append(
                f"Section {p} of report {f} concerns the harbour of {town.title()}. "
                f"In {rng.randint(1800, 2020)} its pier was extended by {rng.randint(2, 900)} "
                f"metres. The harbour master counted {rng.randint(10, 9999)} ships that year, "
                f"version {version} of the record says."
            )
        (folder / f"report-{f:02d}.txt").write_text("\n\n".join(paras) + "\n")


def expected_ids(folder: Path) -> dict[str, list[str]]:
    out = {}
    for path in sorted(folder.iterdir()):
        source = str(path.resolve())
        out[source] = [c.id for c in chunk_document(load(path), source, 800, 150)]
    return out


def run_ingest(folder: Path, data: Path, kill_at: tuple[int, float] | None = None) -> bool:
    """Run ``bot ingest``; with ``kill_at=(n, delay)``, SIGKILL it ``delay`` seconds after
    its progress bar reaches ``n`` files. Returns whether it was killed."""
    env = {**os.environ, "BOT_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    # A terminal on stderr makes the progress bar appear, which tells how far the run got.
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest", str(folder)], env=env, cwd=PROJECT_DIR,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
    )
    os.close(slave)
    output = b""
    reached: float | None = None
    deadline = time.monotonic() + 300
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    output += os.read(master, 65536)
            if kill_at is None:
                continue
            done = re.findall(rb"(\d+)/\d+", output[-300:])
            if reached is None and done and int(done[-1]) >= kill_at[0]:
                reached = time.monotonic()
            if reached is not None and time.monotonic() - reached >= kill_at[1]:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                return True
        assert proc.poll() is not None, "ingest did not finish within 300 s"
        assert kill_at is not None or proc.returncode == 0, output.decode(errors="replace")
        assert re.search(rb"\d+/\d+", output), "no progress bar was shown"
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        os.close(master)


PROBE = """
import json, sys
from bot.settings import Settings
from bot.store import ChunkStore, make_client
settings = Settings(data_dir=sys.argv[1])
store = ChunkStore(make_client(settings), settings.collection)
snap = store.snapshot()
committed = sorted(snap.chunks)
stored = store._chunks.get(ids=committed, include=["embeddings"]) if committed else {"ids": []}
vectors = dict(zip(stored["ids"], stored["embeddings"] if committed else []))
self_found = []
for cid in committed[::7]:
    hits = store.dense_search(vectors[cid], 1, snap)
    self_found.append(bool(hits) and hits[0][0] == cid)
print(json.dumps({
    "files": {s: {"sha": r.sha256, "ids": [c.id for c in r.chunks]} for s, r in snap.files.items()},
    "texts": sorted(snap.chunks),
    "with_vectors": sorted(vectors),
    "lexical": sorted(snap.lexical.ids()),
    "self_found": self_found,
    "vector_count": store.vector_count(),
}))
"""


def probe(data: Path) -> dict[str, Any]:
    """Inspect the store from a fresh process, as the next ``bot`` command would."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(data)], cwd=PROJECT_DIR, capture_output=True,
        timeout=120, check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def assert_consistent(state: dict[str, Any], versions: list[dict[str, list[str]]]) -> int:
    """Check one probed state; returns how many files are at the newest version."""
    referenced = {cid for f in state["files"].values() for cid in f["ids"]}
    assert set(state["texts"]) == referenced, "a visible file lists passages that are missing"
    assert set(state["with_vectors"]) == referenced, "a visible passage has no vector"
    assert state["lexical"] == state["texts"], "BM25 and the vector store disagree"
    assert all(state["self_found"]), "a committed passage is not found by its own vector"
    at_newest = 0
    for source, record in state["files"].items():
        matches = [i for i, v in enumerate(versions) if v[source] == record["ids"]]
        assert matches, f"{source} is visible half-ingested"
        at_newest += matches[-1] == len(versions) - 1
    return at_newest


def test_sigkill_during_ingest_leaves_a_consistent_store(tmp_path: Path) -> None:
    docs, data = tmp_path / "docs", tmp_path / "data"
    write_corpus(docs, 1)
    versions = [expected_ids(docs)]
    run_ingest(docs, data)
    assert assert_consistent(probe(data), versions) == FILES

    rng = random.Random(SEED)
    log = []
    for run, (low, high) in enumerate(STRETCHES):
        # Every run has new versions of all files to take in, and dies at a random point.
        write_corpus(docs, run + 2)
        versions.append(expected_ids(docs))
        kill_at = (rng.randint(low, high), rng.uniform(0.0, 1.5))
        killed = run_ingest(docs, data, kill_at)
        state = probe(data)
        assert set(state["files"]) == set(versions[0]), "a file vanished or appeared"
        newest = assert_consistent(state, versions)
        log.append((kill_at[0], round(kill_at[1], 2), killed, newest))

    run_ingest(docs, data)
    final = probe(data)
    assert assert_consistent(final, versions) == FILES
    assert final["vector_count"] == len({cid for ids in versions[-1].values() for cid in ids})
    print(f"kills (at file, +s, killed, files at newest version): {log}")
