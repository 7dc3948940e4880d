"""Server mode: the bot against a real ``chroma run`` server on 127.0.0.1.

The same documents and questions give the same answers and citations as the embedded store;
incremental re-ingest and delete work through the server; and separate bot processes sharing
the server see each other's ingests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.models import Answer
from bot.service import Bot
from bot.settings import PROJECT_DIR
from tests.servers import ChromaServer

pytestmark = pytest.mark.server

LIGHTHOUSE = """\
# The Varnholm lighthouse

The Varnholm lighthouse stands on a basalt spur at the mouth of the Eider fjord. The Varnholm
lighthouse was first lit in 1871, and its lamp burned rapeseed oil until 1893.

Margit Olsrud kept the Varnholm light from 1902 to 1931, and she logged every passing ship in
a ledger that the county archive in Lervik still holds.

The Varnholm tower is 31 metres tall and is painted with three red bands.
"""

BAKERY = """\
# Haldor's bakery

Haldor Brekke opened his bakery on Kaigata in Lervik in 1924. He baked rye bread in a
wood-fired oven that he built himself from harbour stone.

The bakery's cardamom buns won a prize at the Bergen fair of 1936.
"""

BAKERY_EDITED = BAKERY.replace("in 1924", "in 1926")

QUESTIONS = [
    "When was the Varnholm lighthouse first lit?",
    "Who kept the Varnholm light?",
    "How tall is the Varnholm tower?",
    "Where did Haldor Brekke open his bakery?",
    "What did the bakery's cardamom buns win?",
    "What is the capital of Peru?",
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A ``chroma run`` server on a free local port, stopped after the module."""
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db") as server:
        yield server.host, server.port


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lighthouse.md").write_text(LIGHTHOUSE, "utf-8")
    (folder / "bakery.md").write_text(BAKERY, "utf-8")
    return folder


def _view(answer: Answer) -> dict[str, Any]:
    """What a user sees of an answer: text, refusal, citations and retrieved passages."""
    return {
        "text": answer.text,
        "refused": answer.refused,
        "citations": [(c.n, c.chunk.id, c.chunk.source, c.chunk.location, c.quote)
                      for c in answer.citations],
        "retrieved": [s.chunk.id for s in answer.retrieved],
    }


def test_server_store_matches_embedded_through_ingest_update_and_delete(
    chroma_server: tuple[str, int], make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    host, port = chroma_server
    docs = _docs(tmp_path / "docs")
    embedded = make_bot()
    server = make_bot(chroma_host=host, chroma_port=port, collection="parity")
    assert server.settings.chroma_host == host

    for bot in (embedded, server):
        report = bot.ingest([docs])
        assert [f.status for f in report.files] == ["added", "added"], report.as_dict()
    assert [(s.source, s.chunks) for s in server.sources()] == [
        (s.source, s.chunks) for s in embedded.sources()
    ]
    for q in QUESTIONS:
        assert _view(server.ask(q)) == _view(embedded.ask(q)), q
    first = server.ask("When was the Varnholm lighthouse first lit?")
    assert not first.refused and "1871" in first.text
    assert first.citations[0].chunk.source.endswith("lighthouse.md")
    assert server.ask("What is the capital of Peru?").refused

    # Incremental: nothing to embed when nothing changed; only the edited file is redone.
    again = server.ingest([docs])
    assert again.embedded == 0 and again.count("unchanged") == 2
    (docs / "bakery.md").write_text(BAKERY_EDITED, "utf-8")
    for bot in (embedded, server):
        report = bot.ingest([docs])
        statuses = {Path(f.source).name: f.status for f in report.files}
        assert statuses == {"bakery.md": "updated", "lighthouse.md": "unchanged"}
        assert 0 < report.embedded < len(bot.store.snapshot().chunks)
    opened = server.ask("When did Haldor Brekke open his bakery?")
    assert "1926" in opened.text and "1924" not in opened.text
    assert _view(opened) == _view(embedded.ask("When did Haldor Brekke open his bakery?"))

    # Delete: the file's passages leave the index, its questions are refused, nothing leaks.
    source = str((docs / "lighthouse.md").resolve())
    for bot in (embedded, server):
        assert bot.remove(source)
        assert [Path(s.source).name for s in bot.sources()] == ["bakery.md"]
        assert bot.store.vector_count() == len(bot.store.snapshot().chunks)
    gone = server.ask("Who kept the Varnholm light?")
    assert all(not s.chunk.source.endswith("lighthouse.md") for s in gone.retrieved)
    assert _view(gone) == _view(embedded.ask("Who kept the Varnholm light?"))
    assert not server.remove(source)


# A long-lived bot process: reads commands from stdin, answers each with one JSON line.
WORKER = """
import json, sys
from bot.service import build_bot
from bot.settings import load_settings
bot = build_bot(load_settings())
for line in sys.stdin:
    cmd, _, arg = line.rstrip("\\n").partition(" ")
    if cmd == "ingest":
        out = bot.ingest([arg]).as_dict()
    else:
        out = bot.ask(arg).as_dict()
    print(json.dumps(out), flush=True)
"""


def _env(host: str, port: int, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "CHROMA_"))}
    env.update(CHROMA_HOST=host, CHROMA_PORT=str(port), BOT_COLLECTION="shared",
               BOT_DATA_DIR=str(data), HF_HUB_OFFLINE="1")
    return env


def _cli(args: list[str], env: dict[str, str]) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=PROJECT_DIR, capture_output=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    return json.loads(out.stdout)


def _cited(answer: dict[str, Any]) -> set[str]:
    return {Path(c["source"]).name for c in answer["citations"]}


@pytest.mark.slow
def test_two_processes_sharing_a_server_see_each_others_ingests(
    chroma_server: tuple[str, int], tmp_path: Path
) -> None:
    host, port = chroma_server
    docs = _docs(tmp_path / "docs")
    env = _env(host, port, tmp_path / "data")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER], env=env, cwd=PROJECT_DIR, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert worker.stdin is not None and worker.stdout is not None

    def send(line: str) -> Any:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(line + "\n")
        worker.stdin.flush()
        reply = worker.stdout.readline()
        assert reply, "the bot process ended"
        return json.loads(reply)

    try:
        # Process A ingests the lighthouse and answers from it (its snapshot is now built).
        report = send(f"ingest {docs / 'lighthouse.md'}")
        assert [f["status"] for f in report["files"]] == ["added"]
        assert _cited(send("ask Who kept the Varnholm light?")) == {"lighthouse.md"}
        assert send("ask Where did Haldor Brekke open his bakery?")["refused"]

        # Process B, a separate `bot ingest`, adds the bakery through the same server.
        report = _cli(["ingest", "--json", str(docs / "bakery.md")], env)
        assert [f["status"] for f in report["files"]] == ["added"]

        # A sees B's ingest without restarting; a third process sees A's.
        bakery = send("ask Where did Haldor Brekke open his bakery?")
        assert not bakery["refused"] and _cited(bakery) == {"bakery.md"}
        light = _cli(["ask", "--json", "Who kept the Varnholm light?"], env)
        assert not light["refused"] and _cited(light) == {"lighthouse.md"}
        assert "Margit Olsrud" in light["answer"]
    finally:
        worker.stdin.close()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)
