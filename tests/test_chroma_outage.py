"""The Chroma server stops while the bot runs: clear errors, nothing lost, and recovery.

A real ``chroma run`` server on 127.0.0.1 is stopped under a running bot and started again
on the same port and data folder; the bot is never rebuilt in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.service import Bot
from bot.store import StoreError
from tests.conftest import CORPUS
from tests.servers import ChromaServer

pytestmark = pytest.mark.server

QUESTION = "When was the US-Japan Security Treaty formed?"


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_server_stopped_under_a_running_bot(
    chroma: ChromaServer, make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot(chroma_host="127.0.0.1", chroma_port=chroma.port)
    assert not bot.ingest([CORPUS]).failed
    before = bot.ask(QUESTION)
    sources = bot.sources()
    assert not before.refused
    extra = tmp_path / "extra.txt"
    extra.write_text("The Quillory observatory keeps 41 brass telescopes in its north tower.\n")

    chroma.stop()
    with pytest.raises(StoreError) as asked:
        bot.ask(QUESTION)
    with pytest.raises(StoreError) as listed:
        bot.sources()
    report = bot.ingest([extra])
    for message in (str(asked.value), str(listed.value), report.files[0].message):
        assert f"127.0.0.1:{chroma.port}" in message, message
        assert "Chroma server" in message and "Traceback" not in message
        assert len(message) < 400
    assert report.files[0].status == "failed"

    chroma.start()
    again = bot.ask(QUESTION)
    assert (again.text, [c.chunk.id for c in again.citations]) == (
        before.text, [c.chunk.id for c in before.citations]
    )
    assert bot.sources() == sources
    assert [f.status for f in bot.ingest([extra]).files] == ["added"]
    assert not bot.ask("How many brass telescopes does the Quillory observatory keep?").refused


def test_cli_with_the_server_down_says_so(chroma: ChromaServer, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import app

    chroma.stop()
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(chroma.port))
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    for args in (["ask", QUESTION], ["ingest", str(CORPUS)], ["sources"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert f"cannot reach the Chroma server at 127.0.0.1:{chroma.port}" in result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)
