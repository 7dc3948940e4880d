"""Fresh across processes: a serving process answers from what another process committed.

A long-lived serving process (one Bot, kept open like the web, Slack or API front ends) and
separate ``bot ingest`` / ``bot remove`` processes share one store, embedded in a data folder
or behind a real ``chroma run`` server. After each step of another process (add a document,
replace it with an edited version, remove it, add it again) the serving process's very next
answer and document list must be right: the answer never carries the replaced fact, and the
document list matches what a fresh ``bot sources`` process lists. Each answer must find the
document's passage through both the vector search and BM25, so neither side may lag behind.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_DIR
from tests.servers import ChromaServer
from tests.test_server_mode import _cited, _cli
from tests.test_server_mode import _env as server_env
from tests.test_writers import env_for

FERRY = """\
# The Quillmere ferry

The Quillmere ferry crosses the Ostrand sound between Havik and Toller Point. The Quillmere
ferry was first launched in 1887 by the Ostrand boatwrights' guild.

Its first captain, Edda Varsk, rang a brass bell that the guild had cast from old oarlocks.
"""
OLD_YEAR, NEW_YEAR = "1887", "1893"
FERRY_EDITED = FERRY.replace(OLD_YEAR, NEW_YEAR)
ORCHARD = """\
# The Brannock orchard

The Brannock orchard grows forty rows of Sellmere pears on the slopes above Tamsby.
Orla Brannock planted the first row of the orchard with her two brothers.
"""
QUESTION = "When was the Quillmere ferry first launched?"
CONTROL = "Who planted the first row of the Brannock orchard?"

# The serving process: one Bot kept open; each question line gets one JSON line with the
# answer and the document list, both as this process sees the store at that moment.
SERVING = """
import json, sys
from bot.service import build_bot
from bot.settings import load_settings
bot = build_bot(load_settings())
bot.warm_up()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    answer = bot.ask(line.rstrip("\\n")).as_dict()
    sources = [s.as_dict() for s in bot.sources()]
    print(json.dumps({"answer": answer, "sources": sources}), flush=True)
"""

Reply = dict[str, Any]
Check = Callable[[Reply], list[str]]


class Serving:
    """The serving process, asked over stdin; its stderr goes to ``log``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._err = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVING], env=env, cwd=PROJECT_DIR, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._err, text=True,
        )
        self.log = log
        assert self._read() == {"ready": True}

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the serving process ended: {self.log.read_text()[-2000:]}"
        return json.loads(line)

    def ask(self, question: str) -> Reply:
        assert self.proc.stdin is not None
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        reply: Reply = self._read()
        return reply

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._err.close()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _listed(reply: Reply) -> dict[str, str]:
    """The serving process's document list as ``name -> sha256``."""
    return {s["source"]: s["sha256"] for s in reply["sources"]}


def _answered_from(name: str, fact: str, stale: str | None, docs: dict[str, str]) -> Check:
    """Right when the answer states ``fact`` citing ``name``, a passage of ``name`` holding
    ``fact`` was found by both the vector search and BM25, ``stale`` shows nowhere, and the
    document list is exactly ``docs`` (name -> sha256)."""

    def check(reply: Reply) -> list[str]:
        answer = reply["answer"]
        problems = []
        if answer["refused"] or fact not in answer["answer"]:
            problems.append(f"answer lacks {fact}")
        if _cited(answer) != {name}:
            problems.append(f"cites {sorted(_cited(answer))}, not {name}")
        found = [r for r in answer["retrieved"] if r["source"] == name and fact in r["text"]]
        if not any(r["dense_rank"] is not None for r in found):
            problems.append("the vector search did not find the passage")
        if not any(r["lexical_rank"] is not None for r in found):
            problems.append("BM25 did not find the passage")
        shown = [answer["answer"], *(r["text"] for r in answer["retrieved"])]
        if stale is not None and any(stale in text for text in shown):
            problems.append(f"the replaced fact {stale} is still shown")
        if _listed(reply) != docs:
            problems.append(f"lists {_listed(reply)}")
        return problems

    return check


def _gone(name: str, facts: tuple[str, ...], docs: dict[str, str]) -> Check:
    """Right when no passage of ``name`` is cited or retrieved, none of ``facts`` is stated,
    and the document list is exactly ``docs``."""

    def check(reply: Reply) -> list[str]:
        answer = reply["answer"]
        problems = []
        if name in _cited(answer) or any(r["source"] == name for r in answer["retrieved"]):
            problems.append(f"still answers from {name}")
        if any(fact in answer["answer"] for fact in facts):
            problems.append(f"still states one of {facts}")
        if _listed(reply) != docs:
            problems.append(f"lists {_listed(reply)}")
        return problems

    return check


def _remove(source: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "remove", str(source)], env=env,
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("removed: "), done.stdout


Envs = tuple[dict[str, str], dict[str, str]]


@pytest.fixture
def envs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Envs]:
    """Environments of the serving process and of the other processes, per store mode."""
    mode = request.param
    if mode == "embedded":
        env = env_for(tmp_path / "data")
        yield env, env
        return
    with ChromaServer(tmp_path / "chroma") as server:
        writer = server_env(server.host, server.port, tmp_path / "data")
        # On its own data folder the serving process keeps its own replica of the catalog,
        # so it has to follow the server's commits by itself.
        own = tmp_path / ("data" if mode == "server" else "serving-data")
        yield server_env(server.host, server.port, own), writer


@pytest.mark.slow
@pytest.mark.parametrize("envs", [
    "embedded",
    pytest.param("server", marks=pytest.mark.server),
    pytest.param("server-own-folder", marks=pytest.mark.server),
], indirect=True)
def test_a_serving_process_answers_from_what_another_process_committed(
    envs: Envs, tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    serving_env, writer_env = envs
    docs = tmp_path / "docs"
    docs.mkdir()
    ferry, orchard = docs / "ferry.md", docs / "orchard.md"
    orchard.write_text(ORCHARD, "utf-8")
    ferry.write_text(FERRY, "utf-8")
    with_orchard = {"orchard.md": _sha(ORCHARD)}
    serving = Serving(serving_env, tmp_path / "serving.err")
    latencies: dict[str, float] = {}

    def step(name: str, args: list[str] | None, question: str, check: Check) -> None:
        """Another process runs ``bot ARGS`` (a removal without args); then the serving
        process's next answer is right, so is the one after, and it lists
        what a fresh ``bot sources`` process lists."""
        if args is None:
            _remove(ferry, writer_env)
        else:
            report = _cli(args, writer_env)
            assert not any(f["status"] == "failed" for f in report["files"]), report
        # The other process has exited: its commit is what the very next answer reads.
        since = time.monotonic()
        reply = serving.ask(question)
        latencies[name] = round(time.monotonic() - since, 3)
        assert check(reply) == [], (name, reply["answer"]["answer"])
        assert check(serving.ask(question)) == [], name
        assert _cli(["sources", "--json"], writer_env) == reply["sources"], name

    try:
        first = serving.ask(QUESTION)["answer"]
        assert first["refused"] and not first["retrieved"]
        # The control document, which stays throughout (and warms the reader up).
        step("control", ["ingest", "--json", str(orchard)], CONTROL, lambda r: [
            *([] if "Orla Brannock" in r["answer"]["answer"] else ["no control answer"]),
            *([] if _listed(r) == with_orchard else [f"lists {_listed(r)}"]),
        ])
        ingest = ["ingest", "--json", str(ferry)]
        step("add", ingest, QUESTION, _answered_from(
            "ferry.md", OLD_YEAR, None, {**with_orchard, "ferry.md": _sha(FERRY)}))
        ferry.write_text(FERRY_EDITED, "utf-8")
        edited = {**with_orchard, "ferry.md": _sha(FERRY_EDITED)}
        step("replace", ingest, QUESTION, _answered_from("ferry.md", NEW_YEAR, OLD_YEAR, edited))
        step("remove", None, QUESTION, _gone("ferry.md", (OLD_YEAR, NEW_YEAR), with_orchard))
        step("re-add", ingest, QUESTION, _answered_from("ferry.md", NEW_YEAR, OLD_YEAR, edited))
    finally:
        serving.close()
        record_property("freshness_latency_s", latencies)
        print(f"first answer after each step (s): {latencies}")
    assert "Traceback" not in (tmp_path / "serving.err").read_text()
