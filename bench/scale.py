"""Scale benchmark (issue 12): one store grown to each size in turn, measured at each.

``python -m bench.scale [--sizes 10000,100000,1000000] [--work DIR] [--chroma-server]``

Bulk growth writes synthetic passages (Zipf-distributed pseudo-English, 40-80 words, 20 a
file) with random unit vectors through the store's public ``add_vectors`` + ``commit_files``,
so no embedder runs for it. At each size the benchmark then measures, with the real
embedder: a real ``ingest()`` of a few small files; ``Bot.search`` and ``Bot.ask`` latency
in a separate serving process; that process's resident memory; the time from the commit of
one new file to the serving process's first answer citing it; and the data folder's size.
Results go to ``bench/results/scale.json``, ``scale.md`` and ``scale.png`` (see
bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.processes import free_port, stop

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DIM = 384  # all-MiniLM-L6-v2's vector size
PASSAGES_PER_FILE = 20
WORDS = (40, 80)
# Files per add_vectors/commit_files call: 5,000 passages, about Chroma's max batch size, so
# each call is one or two round trips and readers see one generation change per batch.
FILES_PER_BATCH = 250
QUERIES = 50
REAL_FILES = 3
SEED = 12
READY_TIMEOUT_S = 3600.0  # a serving process's cold start at 1M passages may be long
# Generous: at 1M passages a replica may spend minutes on one catalog change (see
# docs/scaling.md), and the figure is still worth having.
FOUND_TIMEOUT_S = 1800.0
POLL_PAUSE_S = 0.02  # between two polls, so the poller leaves the writer a core

# The head of English's frequency list, so the Zipf head is function words as in real text.
FUNCTION_WORDS = (
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no will more can who its than other some into them only time could new these two may "
    "first then do any like my now over such our man me even most made after also did many "
    "before must through back years where much your way well down should because each just "
    "those people how too little state good very make world still own see men work long get "
    "here between both life being under never day same another know while last might us great "
    "old year off come since against go came right used take three"
).split()
_ONSETS = "b c d f g h j k l m n p r s t v w br cl dr fr gr pl st tr sh th ch".split()
_VOWELS = "a e i o u a e i o ea ou".split()
_CODAS = ("", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng")


def _pseudo_words(rng: np.random.Generator, n: int, exclude: set[str]) -> list[str]:
    """``n`` distinct pronounceable words of one to three syllables."""
    out: list[str] = []
    seen = set(exclude)
    while len(out) < n:
        syllables = int(rng.choice([1, 2, 2, 2, 3, 3]))
        word = "".join(
            str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) + str(rng.choice(_CODAS))
            for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


class TextGen:
    """Deterministic English-like passages: file ``i`` always has the same text, so the
    query set can be drawn from stored passages without keeping them."""

    def __init__(self, vocabulary: int = 30000, seed: int = SEED) -> None:
        rng = np.random.default_rng(seed)
        self.words = np.array(
            FUNCTION_WORDS + _pseudo_words(rng, vocabulary - len(FUNCTION_WORDS),
                                           set(FUNCTION_WORDS)), dtype=object)
        # Zipf-Mandelbrot weights, roughly the shape of English word frequencies.
        weights = 1.0 / (np.arange(len(self.words)) + 2.7) ** 1.07
        self.cdf = np.cumsum(weights / weights.sum())
        self.function_words = set(FUNCTION_WORDS)
        self.seed = seed

    def _draw(self, rng: np.random.Generator, n: int) -> list[str]:
        picks = np.searchsorted(self.cdf, rng.random(n), side="right")
        return list(self.words[np.minimum(picks, len(self.words) - 1)])

    def passage(self, rng: np.random.Generator) -> str:
        """40-80 words cut into sentences of 6-14 words."""
        words = self._draw(rng, int(rng.integers(WORDS[0], WORDS[1] + 1)))
        sentences = []
        i = 0
        while i < len(words):
            n = int(rng.integers(6, 15))
            part = words[i:i + n]
            i += n
            sentences.append(part[0].capitalize() + " " + " ".join(part[1:]) + ".")
        return " ".join(sentences)

    def file_passages(self, index: int) -> list[str]:
        """The passages of synthetic file ``index``."""
        rng = np.random.default_rng([self.seed, index])
        return [self.passage(rng) for _ in range(PASSAGES_PER_FILE)]

    def query(self, rng: np.random.Generator, files: int) -> str:
        """A question made of 3-5 content words of one stored passage."""
        passages = self.file_passages(int(rng.integers(0, files)))
        text = passages[int(rng.integers(0, len(passages)))]
        content = [w for w in dict.fromkeys(text.lower().rstrip(".").replace(".", "").split())
                   if w not in self.function_words]
        chosen = list(rng.choice(content, size=min(len(content), int(rng.integers(3, 6))),
                                 replace=False)) if content else ["time"]
        return "What is said about " + " ".join(str(w) for w in chosen) + "?"


# ----- measuring ----------------------------------------------------------------------------


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of ``samples_s`` (seconds), in milliseconds."""
    arr = np.asarray(samples_s) * 1000.0
    return {"p50": round(float(np.percentile(arr, 50)), 2),
            "p95": round(float(np.percentile(arr, 95)), 2), "n": len(arr)}


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def disk_mb(path: Path) -> dict[str, Any]:
    """Allocated size (as ``du`` counts it) of ``path`` and of each entry in it, in MB."""
    def size(p: Path) -> int:
        if p.is_file():
            return p.stat().st_blocks * 512
        total = 0
        for root, _, files in os.walk(p):
            for name in files:
                # A temporary file (a journal) may be gone since it was listed.
                with contextlib.suppress(OSError):
                    total += (Path(root) / name).stat().st_blocks * 512
        return total

    if not path.exists():
        return {"total": 0.0, "parts": {}}
    parts = {p.name: round(size(p) / 1e6, 1) for p in sorted(path.iterdir())}
    return {"total": round(size(path) / 1e6, 1), "parts": parts}


def code_state() -> dict[str, Any]:
    """The commit measured and whether the bot's code differed from it (a work in progress)."""
    import hashlib

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=30).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    digest = hashlib.sha256()
    for path in sorted((REPO / "bot").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return {"commit": git("rev-parse", "HEAD"),
            "changed": git("status", "--porcelain", "--", "bot").splitlines(),
            "bot_sources_sha256": digest.hexdigest()[:16]}


def machine() -> dict[str, Any]:
    """Core count, memory and CPU model, noted beside the figures."""
    from bench.__main__ import machine as bench_machine

    return bench_machine()


# ----- the serving process ------------------------------------------------------------------


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def serve(spec_path: Path) -> None:
    """A serving replica: warm up, time search and ask, then poll for the probe file.

    Reads its store settings from the environment (BOT_DATA_DIR, BOT_CHROMA_HOST...) as a
    real front end does; prints one JSON line per event on stdout.
    """
    spec = json.loads(spec_path.read_text())
    from bot.service import build_bot
    from bot.settings import load_settings

    t0 = time.perf_counter()
    bot = build_bot(load_settings())
    built = time.perf_counter() - t0
    warm = bot.ask(spec["warm_up"])
    cold = time.perf_counter() - t0
    clear = getattr(bot.embedder, "clear_cache", lambda: None)
    search_s, ask_s, refused = [], [], 0
    for q in spec["queries"]:
        clear()  # time the model, not the query cache
        t = time.perf_counter()
        bot.search(q)
        search_s.append(time.perf_counter() - t)
    for q in spec["queries"]:
        clear()
        t = time.perf_counter()
        answer = bot.ask(q)
        ask_s.append(time.perf_counter() - t)
        refused += answer.refused
    _emit("ready", build_s=round(built, 3), first_answer_s=round(cold, 3),
          warm_up_refused=warm.refused, search_ms=percentiles(search_s),
          ask_ms=percentiles(ask_s), ask_refused=refused, memory_mb=memory_mb())
    probe = str(Path(spec["probe_source"]).resolve())
    deadline = time.monotonic() + FOUND_TIMEOUT_S
    polls = 0
    while time.monotonic() < deadline:
        t = time.perf_counter()
        answer = bot.ask(spec["probe_question"])
        polls += 1
        if any(c.chunk.source == probe for c in answer.citations):
            _emit("found", at=time.monotonic(), polls=polls,
                  last_ask_ms=round((time.perf_counter() - t) * 1000, 1),
                  answer=answer.text[:200])
            _emit("done", memory_mb=memory_mb())
            return
        time.sleep(POLL_PAUSE_S)
    _emit("timeout", polls=polls, memory_mb=memory_mb())


class Replica:
    """A serving process started with ``python -m bench.scale --serve SPEC``."""

    def __init__(self, spec: dict[str, Any], env: dict[str, str], spec_path: Path) -> None:
        spec_path.write_text(json.dumps(spec))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scale", "--serve", str(spec_path)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        self._lines = iter(self.proc.stdout)

    def wait_for(self, event: str, timeout: float) -> dict[str, Any]:
        """The next JSON line of the process, which must be ``event``.

        The timeout is checked between lines only: a silent, hung replica is caught by the
        replica's own deadlines, and a dead one ends the iteration.
        """
        deadline = time.monotonic() + timeout
        for line in self._lines:
            line = line.strip()
            if not line.startswith("{"):
                continue  # a library's stray print
            got: dict[str, Any] = json.loads(line)
            if got.get("event") == event:
                return got
            if got.get("event") == "timeout" or time.monotonic() > deadline:
                raise RuntimeError(f"replica: waited for {event}, got {got}")
        raise RuntimeError(f"replica exited (rc {self.proc.wait()}) before {event}")

    def stop(self) -> None:
        """End the process if it is still running."""
        stop(self.proc, 20)


# ----- the chroma server --------------------------------------------------------------------


class ChromaServer:
    """``chroma run`` on 127.0.0.1 over ``path`` (the command the tests run too)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        path.mkdir(parents=True, exist_ok=True)
        log = (path.parent / "chroma-server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("chroma run did not answer its heartbeat within 60 s")

    def stop(self) -> None:
        """Stop the server; its data stays in ``path``."""
        stop(self.proc, 30)


# ----- growing and measuring ----------------------------------------------------------------


def synthetic_batches(
    gen: TextGen, first: int, last: int, folder: Path
) -> Iterator[tuple[list[Any], list[Any]]]:
    """(chunks, file records) of synthetic files ``first`` to ``last - 1``, a batch at a time."""
    from bot.chunking import chunk_id
    from bot.models import Chunk
    from bot.store import FileRecord

    for start in range(first, last, FILES_PER_BATCH):
        chunks: list[Chunk] = []
        records: list[FileRecord] = []
        for i in range(start, min(start + FILES_PER_BATCH, last)):
            source = str(folder / f"f{i:07d}.txt")
            title = f"Synthetic file {i}"
            offset = 0
            mine = []
            for text in gen.file_passages(i):
                mine.append(Chunk(id=chunk_id(text), text=text, source=source, title=title,
                                  start=offset, end=offset + len(text)))
                offset += len(text) + 2  # the blank line between paragraphs
            chunks.extend(mine)
            records.append(FileRecord(source, f"synthetic-{SEED}-{i}", title, tuple(mine)))
        yield chunks, records


def grow(bot: Any, gen: TextGen, files_now: int, files_wanted: int, folder: Path,
         seed: int) -> dict[str, Any]:
    """Add synthetic files up to ``files_wanted`` through add_vectors + commit_files."""
    from bot.writelock import WriteLock

    rng = np.random.default_rng([seed, files_now])
    lock = WriteLock(bot.settings.data_dir, bot.settings.write_lock_timeout)
    passages = 0
    t0 = time.perf_counter()
    last_report = t0
    for chunks, records in synthetic_batches(gen, files_now, files_wanted, folder):
        vectors = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        # Held per batch, as ingest holds it per commit group: other writers wait seconds.
        with lock.held():
            bot.store.add_vectors(chunks, vectors.tolist())
            bot.store.commit_files(records)
        passages += len(chunks)
        if time.perf_counter() - last_report > 30:
            last_report = time.perf_counter()
            rate = passages / (last_report - t0)
            print(f"  grown by {passages:,} passages ({rate:,.0f}/s)", flush=True)
    seconds = time.perf_counter() - t0
    return {"passages": passages, "seconds": round(seconds, 2),
            "passages_per_s": round(passages / seconds, 1) if seconds else None}


def write_real_files(gen: TextGen, folder: Path, tag: str, n: int) -> list[Path]:
    """``n`` small Markdown files of a few headed sections, unique to ``tag``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, 1, int(tag)])
    paths = []
    for k in range(n):
        sections = []
        for s in range(4):
            body = "\n\n".join(gen.passage(rng) for _ in range(3))
            sections.append(f"## Section {s + 1} of note {tag}-{k}\n\n{body}")
        path = folder / f"note-{tag}-{k}.md"
        path.write_text(f"# Note {tag}-{k}\n\n" + "\n\n".join(sections) + "\n", "utf-8")
        paths.append(path)
    return paths


def probe_file(folder: Path, tag: str, place: str) -> tuple[Path, str]:
    """A one-fact file only it can answer, and the question that asks for the fact."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"probe-{tag}.md"
    path.write_text(
        f"# The lighthouse at {place}\n\n"
        f"The lighthouse at {place} is kept by Tamsin Orlebar, who took up the post in 1911 "
        f"after the storm that wrecked the old harbour wall. She kept the light at {place} "
        "burning for thirty-two winters.\n", "utf-8")
    return path, f"Who keeps the lighthouse at {place}?"


def timed_commits(store: Any) -> list[float]:
    """Record when each ``commit_files`` call on ``store`` returns (its publish moment).

    The wrapper sits on this one instance, so the store's code is left as it is.
    """
    stamps: list[float] = []
    inner: Callable[..., Any] = store.commit_files

    def commit_files(records: Any) -> Any:
        out = inner(records)
        stamps.append(time.monotonic())
        return out

    store.commit_files = commit_files
    return stamps


def measure_size(
    bot: Any, gen: TextGen, size: int, files: int, work: Path, replica_env: dict[str, str],
    data_dirs: list[Path], server: ChromaServer | None,
) -> dict[str, Any]:
    """Everything measured at one size, once the store holds ``files`` synthetic files."""
    tag = f"{size}"
    out: dict[str, Any] = {}
    # The writer's first read after bulk growth brings its view of the catalog up to date
    # (with a local catalog, that indexes every new passage); timed apart so the real ingest
    # below is not charged for it.
    t = time.perf_counter()
    bot.store.snapshot()
    out["writer_catch_up_s"] = round(time.perf_counter() - t, 3)
    print(f"  writer caught up with the store in {out['writer_catch_up_s']} s", flush=True)
    # A real ingest of a few small files, with the real embedder.
    paths = write_real_files(gen, work / "real" / tag, tag, REAL_FILES)
    t = time.perf_counter()
    report = bot.ingest(paths)
    seconds = time.perf_counter() - t
    chunks = sum(f.chunks for f in report.files)
    out["real_ingest"] = {"files": len(paths), "passages": chunks,
                          "embedded": report.embedded, "seconds": round(seconds, 3),
                          "passages_per_s": round(chunks / seconds, 1),
                          "summary": report.summary()}
    print(f"  real ingest: {report.summary()} in {seconds:.2f} s", flush=True)

    # The serving replica: warm-up, latency, memory, then the probe.
    qrng = np.random.default_rng([SEED, 7])  # the same questions at every size
    queries = [gen.query(qrng, min(files, 500)) for _ in range(QUERIES)]
    place = "Vashmoriel" + "".join(chr(ord("a") + int(d)) for d in str(size))
    probe, question = probe_file(work / "probe", tag, place)
    spec = {"queries": queries, "warm_up": "What is said about the first file?",
            "probe_source": str(probe), "probe_question": question}
    replica = Replica(spec, replica_env, work / f"serve-{tag}.json")
    try:
        ready = replica.wait_for("ready", READY_TIMEOUT_S)
        ready.pop("event")
        out["serve"] = ready
        print(f"  replica ready: first answer {ready['first_answer_s']} s, search "
              f"p50/p95 {ready['search_ms']['p50']}/{ready['search_ms']['p95']} ms, ask "
              f"{ready['ask_ms']['p50']}/{ready['ask_ms']['p95']} ms, RSS "
              f"{ready['memory_mb']}", flush=True)
        stamps = timed_commits(bot.store)
        t_start = time.monotonic()
        probe_report = bot.ingest([probe])
        t_end = time.monotonic()
        found = replica.wait_for("found", FOUND_TIMEOUT_S)
        done = replica.wait_for("done", 60)
    finally:
        bot.store.__dict__.pop("commit_files", None)  # drop the instance wrapper
        replica.stop()
    committed = stamps[-1] if stamps else t_end
    out["first_answer"] = {
        "seconds_from_commit": round(found["at"] - committed, 3),
        "seconds_from_ingest_start": round(found["at"] - t_start, 3),
        "ingest_seconds": round(t_end - t_start, 3),
        "commit_to_ingest_return_s": round(t_end - committed, 3),
        "polls": found["polls"], "last_poll_ask_ms": found["last_ask_ms"],
        "probe": probe_report.summary(),
    }
    out["serve"]["memory_after_probe_mb"] = done["memory_mb"]
    print(f"  first answer {out['first_answer']['seconds_from_commit']} s after the commit "
          f"(ingest() took {out['first_answer']['ingest_seconds']} s)", flush=True)
    out["disk_mb"] = {str(d.name): disk_mb(d) for d in data_dirs}
    if server is not None:
        out["disk_mb"]["chroma-server"] = disk_mb(server.path)
        out["server_memory_mb"] = memory_mb(server.proc.pid)
    return out


def run(sizes: list[int], work: Path, use_server: bool,
        save: Callable[[dict[str, Any]], None], resume: bool = False) -> None:
    """Grow one store through ``sizes`` and measure at each, handing the run's figures so
    far to ``save`` after every size (a failure at 1M keeps the 10k and 100k figures)."""
    from bot.service import build_bot
    from bot.settings import load_settings

    if work.exists() and not resume:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    server = ChromaServer(work / "chroma-server") if use_server else None
    try:
        store_env: dict[str, Any] = {"collection": "scale"}
        if server is not None:
            store_env.update(chroma_host="127.0.0.1", chroma_port=server.port)
        data = work / "data"
        settings = load_settings(data_dir=data, **store_env)
        replica_env = dict(os.environ, BOT_DATA_DIR=str(data), BOT_COLLECTION="scale")
        data_dirs = [data]
        if server is not None:
            # A replica has its own data folder (its local index and caches) beside the
            # server's, as a second machine would.
            replica_data = work / "replica-data"
            data_dirs.append(replica_data)
            replica_env.update(BOT_DATA_DIR=str(replica_data), BOT_CHROMA_HOST="127.0.0.1",
                               BOT_CHROMA_PORT=str(server.port))
        t = time.perf_counter()
        bot = build_bot(settings)
        bot.embedder.embed_query("load the model")
        print(f"writer ready in {time.perf_counter() - t:.1f} s", flush=True)
        gen = TextGen()
        points: list[dict[str, Any]] = []
        got = {"mode": "chroma-server" if server else "embedded",
               "embedding_backend": settings.embedding_backend, "points": points}
        # Resuming measures a store a failed run grew, instead of growing it again.
        files = bot.store.vector_count() // PASSAGES_PER_FILE if resume else 0
        for size in sizes:
            started = time.perf_counter()
            wanted = max(1, size // PASSAGES_PER_FILE)
            print(f"size {size:,}: growing {files:,} -> {wanted:,} files", flush=True)
            grown = grow(bot, gen, files, wanted, work / "synthetic", SEED)
            files = wanted
            print(f"  grown in {grown['seconds']} s ({grown['passages_per_s']}/s)", flush=True)
            point = {"size": size, "synthetic_passages": files * PASSAGES_PER_FILE,
                     "grow": grown}
            point.update(measure_size(bot, gen, size, files, work, replica_env, data_dirs,
                                      server))
            point["wall_s"] = round(time.perf_counter() - started, 1)
            points.append(point)
            print(f"  size {size:,} done in {point['wall_s']} s", flush=True)
            save(got)
    finally:
        if server is not None:
            server.stop()


# ----- report -------------------------------------------------------------------------------


def _parts(disk: dict[str, Any]) -> str:
    inside = ", ".join(f"{n} {mb:,.1f}" for n, mb in disk["parts"].items() if mb >= 0.1)
    return f"{disk['total']:,.1f}" + (f" ({inside})" if inside else "")


def _code_line(code: dict[str, Any]) -> str:
    changed = code.get("changed", [])
    return (f"Code: commit {code.get('commit', '?')[:10]}"
            + (f" with uncommitted changes to {len(changed)} file(s) under bot/ "
               f"(sources hash {code.get('bot_sources_sha256')})." if changed else "."))


def _load(values: Sequence[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


def _ms(d: dict[str, Any]) -> str:
    return f"{d['p50']:g} / {d['p95']:g}"


def write_markdown(results: dict[str, Any], path: Path) -> None:
    """One table per mode."""
    lines = ["# Scale benchmark", "",
             "Written by `python -m bench.scale` (see bench/README.md). Latencies in ms "
             "(p50 / p95); memory in MB; disk in MB allocated.", ""]
    for mode, runs in sorted(results["runs"].items()):
        m = runs["machine"]
        lines += [f"## {mode}", "",
                  f"{m['cores']} cores, {m['memory_gb']} GB, {m['cpu']}; embedding backend "
                  f"{runs['embedding_backend']}; run {runs['date']} ({runs['wall_minutes']} min), "
                  f"load average {_load(m['load_average_at_start'])} at start, "
                  f"{_load(m.get('load_average_at_end', []))} at end.", "",
                  _code_line(runs.get("code", {})), "",
                  "| passages | grow passages/s | real ingest s (passages/s) | search p50/p95 | "
                  "ask p50/p95 | first answer after commit s | replica cold start s | "
                  "replica RSS / peak MB | disk MB | size wall s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for p in runs["points"]:
            s = p["serve"]
            mem = s["memory_after_probe_mb"]
            disk = sum(d["total"] for d in p["disk_mb"].values())
            lines.append(
                f"| {p['synthetic_passages']:,} | {p['grow']['passages_per_s']:,} | "
                f"{p['real_ingest']['seconds']} ({p['real_ingest']['passages_per_s']}) | "
                f"{_ms(s['search_ms'])} | "
                f"{_ms(s['ask_ms'])} | {p['first_answer']['seconds_from_commit']} | "
                f"{s['first_answer_s']} | {mem.get('VmRSS')} / {mem.get('VmHWM')} | "
                f"{disk:,.0f} | {p['wall_s']} |")
        lines += ["", "Disk by folder, MB allocated:", ""]
        lines += [f"- {p['synthetic_passages']:,} passages: " + "; ".join(
            f"{name} {_parts(d)}" for name, d in p["disk_mb"].items()) for p in runs["points"]]
        lines.append("")
        if any("server_memory_mb" in p for p in runs["points"]):
            lines += ["Chroma server RSS / peak MB: " + "; ".join(
                f"{p['synthetic_passages']:,}: {p['server_memory_mb'].get('VmRSS')} / "
                f"{p['server_memory_mb'].get('VmHWM')}" for p in runs["points"]), ""]
    path.write_text("\n".join(lines), "utf-8")


def write_plot(results: dict[str, Any], path: Path) -> None:
    """Retrieval and answer latency, time to first answer, RSS and disk against passages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [
        (axes[0][0], "retrieval / answer latency (ms)",
         [("search p50", lambda p: p["serve"]["search_ms"]["p50"]),
          ("search p95", lambda p: p["serve"]["search_ms"]["p95"]),
          ("ask p50", lambda p: p["serve"]["ask_ms"]["p50"]),
          ("ask p95", lambda p: p["serve"]["ask_ms"]["p95"])]),
        (axes[0][1], "first answer after commit (s)",
         [("replica", lambda p: p["first_answer"]["seconds_from_commit"])]),
        (axes[1][0], "memory (MB)",
         [("RSS", lambda p: p["serve"]["memory_after_probe_mb"].get("VmRSS", 0)),
          ("peak RSS", lambda p: p["serve"]["memory_after_probe_mb"].get("VmHWM", 0)),
          ("Chroma server RSS", lambda p: p.get("server_memory_mb", {}).get("VmRSS"))]),
        (axes[1][1], "disk (MB)",
         [("data folders + server", lambda p: sum(d["total"] for d in p["disk_mb"].values()))]),
    ]
    for ax, title, series in panels:
        for mode, runs in sorted(results["runs"].items()):
            xs = [p["synthetic_passages"] for p in runs["points"]]
            for label, get in series:
                ys = [get(p) for p in runs["points"]]
                if any(y is None for y in ys):
                    continue  # a figure this mode does not have (the server's RSS)
                ax.plot(xs, ys, marker="o", label=f"{label} ({mode})")
        ax.set_xscale("log")
        if ax is axes[0][0]:
            ax.set_yscale("log")  # search and ask differ by an order of magnitude
        ax.set_title(title)
        ax.set_xlabel("passages")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][1].axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Grow one store and measure it at each size.")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="Comma-separated passage counts, grown in this order.")
    parser.add_argument("--work", type=Path, default=REPO / ".data" / "scale",
                        help="Scratch folder (deleted and rebuilt).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where results go.")
    parser.add_argument("--chroma-server", action="store_true",
                        help="Run against a `chroma run` server on 127.0.0.1.")
    parser.add_argument("--resume", action="store_true",
                        help="Measure the store left in --work by an earlier run (it is not "
                        "deleted; growth starts from the files it holds).")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    info = machine()
    code = code_state()
    started = time.time()

    def save(got: dict[str, Any]) -> None:
        got.update(machine=dict(info, load_average_at_end=os.getloadavg()), code=code,
                   wall_minutes=round((time.time() - started) / 60, 1),
                   date=time.strftime("%Y-%m-%d %H:%M"), sizes_asked=sizes)
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "scale.json"
        # One entry per mode: an embedded run leaves the server run's figures in place.
        results: dict[str, Any] = {"runs": {}}
        if path.is_file():
            results = json.loads(path.read_text())
        results["runs"][got["mode"]] = got
        path.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
        write_markdown(results, args.out / "scale.md")
        write_plot(results, args.out / "scale.png")
        print(f"results written to {args.out} after {got['wall_minutes']} min", flush=True)

    run(sizes, args.work.resolve(), args.chroma_server, save, args.resume)


if __name__ == "__main__":
    main()
