"""The `bot` command, run as a user would (in-process through Typer's runner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import CORPUS


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(CORPUS / "us-japan-alliance.txt", folder)
    return folder


def test_ingest_ask_json_and_sources(runner: CliRunner, docs: Path) -> None:
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    again = runner.invoke(app, ["ingest", str(docs)])
    assert "1 unchanged; 0 chunks embedded" in again.output

    asked = runner.invoke(app, ["ask", "--json", "When was the US-Japan Security Treaty formed?"])
    assert asked.exit_code == 0, asked.output
    data = json.loads(asked.output)
    assert data["refused"] is False and "1951" in data["answer"]
    assert data["citations"][0]["source"].endswith("us-japan-alliance.txt")
    assert data["retrieved"] and data["standalone_question"]

    listed = runner.invoke(app, ["sources"])
    assert "us-japan-alliance.txt" in listed.output


def test_failed_files_give_a_summary_and_non_zero_exit(runner: CliRunner, docs: Path) -> None:
    (docs / "empty.txt").write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 1
    assert "failed:" in result.output and "empty.txt: file is empty" in result.output
    assert "1 added, 1 failed" in result.output


def test_empty_question_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "   "])
    assert result.exit_code == 2
    assert "the question is empty" in result.output


def test_invalid_setting_is_reported(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOP_K", "zero")
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 2
    assert "invalid settings" in result.output and "top_k" in result.output


def test_chat_keeps_the_conversation(runner: CliRunner, docs: Path) -> None:
    runner.invoke(app, ["ingest", str(docs)])
    result = runner.invoke(app, ["chat"], input="Who is Shigeru Ishiba?\nWhen was he born?\n\n")
    assert result.exit_code == 0, result.output
    assert "understood as: When was Shigeru Ishiba born?" in result.output
    assert "February 3, 1957" in result.output
