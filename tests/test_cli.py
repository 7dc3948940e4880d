"""The `bot` command, run as a user would (in-process through Typer's runner)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import PROJECT_DIR
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


def test_sources_are_named_for_people_never_by_server_path(
    runner: CliRunner, docs: Path
) -> None:
    (docs / "v2").mkdir()
    (docs / "v2" / "us-japan-alliance.txt").write_text("The Kelvarn harbour opened in 1911.\n")
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    listed = runner.invoke(app, ["sources"]).output
    assert str(docs) not in listed
    assert [line.split()[-1] for line in listed.splitlines()] == [
        "docs/us-japan-alliance.txt", "v2/us-japan-alliance.txt"]
    as_json = json.loads(runner.invoke(app, ["sources", "--json"]).output)
    assert sorted(s["source"] for s in as_json) == [
        "docs/us-japan-alliance.txt", "v2/us-japan-alliance.txt"]

    asked = runner.invoke(app, ["ask", "--json", "When did the Kelvarn harbour open?"])
    data = json.loads(asked.output)
    assert data["citations"][0]["source"] == "v2/us-japan-alliance.txt"
    assert str(docs) not in asked.output
    shown = runner.invoke(app, ["ask", "When did the Kelvarn harbour open?"]).output
    assert "v2/us-japan-alliance.txt" in shown and str(docs) not in shown
    assert runner.invoke(app, ["remove", "v2/us-japan-alliance.txt"]).exit_code == 0


def test_failed_files_give_a_summary_and_non_zero_exit(runner: CliRunner, docs: Path) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 1
    assert "failed:" in result.output and "broken.pdf:" in result.output
    assert "1 added, 1 failed" in result.output


def test_empty_file_is_skipped_with_a_reason(runner: CliRunner, docs: Path) -> None:
    (docs / "empty.txt").write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert "skipped:" in result.output and "empty.txt: empty file" in result.output
    assert "1 added, 1 skipped" in result.output


def test_nothing_ingestible_exits_non_zero(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.png").write_bytes(b"\x89PNG")
    result = runner.invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 1
    assert "2 skipped; 0 chunks embedded" in result.output
    assert "error: nothing was ingested: no file under the given paths could be read" \
        in result.output


def test_remove_by_the_name_the_bot_shows(runner: CliRunner, docs: Path) -> None:
    (docs / "sub").mkdir()
    (docs / "sub" / "us-japan-alliance.txt").write_text("The Kelvarn harbour opened in 1911.\n")
    (docs / "other.md").write_text("# Other\n\nThe Dunmoret bridge is 300 metres long.\n")
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0

    ambiguous = runner.invoke(app, ["remove", "us-japan-alliance.txt"])
    assert ambiguous.exit_code == 1
    assert "names 2 documents" in ambiguous.output and "sub" in ambiguous.output

    assert runner.invoke(app, ["remove", "other.md"]).exit_code == 0
    assert runner.invoke(app, ["remove", "sub/us-japan-alliance.txt"]).exit_code == 0
    listed = runner.invoke(app, ["sources"]).output
    assert "other.md" not in listed and "sub" not in listed
    assert "us-japan-alliance.txt" in listed
    missing = runner.invoke(app, ["remove", "other.md"])
    assert missing.exit_code == 1 and "other.md is not indexed" in missing.output


def test_ingest_hints_at_prune_for_files_gone_from_the_folder(
    runner: CliRunner, docs: Path
) -> None:
    (docs / "a.md").write_text("# A\n\nThe Ossavel mill grinds barley.\n")
    (docs / "b.md").write_text("# B\n\nThe Tirrowan ferry runs hourly.\n")
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    (docs / "a.md").unlink()
    (docs / "b.md").unlink()
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert f"hint: 2 stored files no longer exist under {docs}; `bot ingest {docs} --prune` " \
        "drops them" in result.output
    pruned = runner.invoke(app, ["ingest", str(docs), "--prune"])
    assert "2 removed" in pruned.output and "hint:" not in pruned.output


def test_asking_an_empty_index_says_how_to_add_documents(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "--json", "What is the notice period?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["refused"] is True
    assert data["answer"] == ("Nothing is indexed yet. Add documents with `bot ingest PATH` "
                              "(or upload them in the web chat).")


def test_empty_question_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "   "])
    assert result.exit_code == 2
    assert "the question is empty" in result.output


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("BOT_TOP_K", "abc", "expected an integer from 1 to 50"),
    ("BOT_TOP_K", "0", "expected an integer from 1 to 50"),
    ("BOT_MIN_CONFIDENCE", "7", "expected a number from 0 to 1"),
    ("BOT_CHUNK_OVERLAP", "900", "must be smaller than BOT_CHUNK_SIZE (800)"),
    ("BOT_WEB_EXAMPLES", "notjson", "expected a JSON list of strings"),
    ("BOT_RETRIEVAL_MODE", "fuzzy", "expected one of: hybrid, dense, lexical"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(
        f"error: invalid setting {variable}={value!r} (from environment): {expected}")
    assert "pydantic" not in result.output


def test_a_bad_setting_in_dotenv_says_so(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_CHUNK_SIZE=120\n")
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 2
    assert "BOT_CHUNK_OVERLAP='150' (default): must be smaller than BOT_CHUNK_SIZE (120)" \
        in result.output


def test_unknown_variables_get_a_suggestion(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOT_TOPK", "3")
    (tmp_path / ".env").write_text("BOT_MIN_ANSWER_SCORE=7\n")
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0, result.output
    assert "BOT_TOPK (in the environment) is not a setting and is ignored; did you mean " \
        "BOT_TOP_K?" in result.output
    assert "BOT_MIN_ANSWER_SCORE (in the .env) is not a setting" in result.output
    assert "did you mean BOT_MIN_CONFIDENCE" in result.output


def test_top_k_flag_below_one_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "--top-k", "0", "anything"])
    assert result.exit_code == 2
    assert "--top-k" in result.output


def test_config_shows_values_and_where_they_came_from(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOT_TOP_K", "7")
    monkeypatch.setenv("BOT_API_KEY", "s3cret-token")
    (tmp_path / ".env").write_text("BOT_RETRIEVAL_MODE=dense\n")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()}
    assert rows["BOT_TOP_K"] == ["7", "environment"]
    assert rows["BOT_RETRIEVAL_MODE"] == ["dense", ".env"]
    assert rows["BOT_CHUNK_SIZE"] == ["800", "default"]
    assert rows["BOT_API_KEY"] == ["****", "environment"]
    assert "s3cret" not in result.output


def test_chat_keeps_the_conversation(runner: CliRunner, docs: Path) -> None:
    runner.invoke(app, ["ingest", str(docs)])
    result = runner.invoke(app, ["chat"], input="Who is Shigeru Ishiba?\nWhen was he born?\n\n")
    assert result.exit_code == 0, result.output
    assert "understood as: When was Shigeru Ishiba born?" in result.output
    assert "February 3, 1957" in result.output


def test_piped_answers_are_plain_text_and_terminal_answers_formatted(
    runner: CliRunner, docs: Path
) -> None:
    runner.invoke(app, ["ingest", str(docs)])
    piped = runner.invoke(app, ["ask", "When was the US-Japan Security Treaty formed?"])
    assert piped.exit_code == 0, piped.output
    assert "**" not in piped.output and "_" not in piped.output.split("Sources:")[0]
    assert "\nSources:\n[1] us-japan-alliance.txt" in piped.output
    assert "1951" in piped.output

    from rich.console import Console

    from bot.service import build_bot
    from bot.settings import load_settings

    answer = build_bot(load_settings()).ask("When was the US-Japan Security Treaty formed?")
    console = Console(record=True, force_terminal=True, color_system="standard", width=100)
    console.print(answer.as_rich())
    styled = console.export_text(styles=True, clear=False)
    phrase = answer.highlights[0]
    assert phrase in answer.text and f"\x1b[1;32m{phrase}\x1b[0m" in styled
    assert "**" not in styled and "[1] us-japan-alliance.txt" in console.export_text()


def test_third_party_warnings_go_to_the_debug_log(tmp_path: Path) -> None:
    # The warnings pypdf and onnxruntime print for odd files and models, raised as they do.
    script = (
        "import logging, warnings\n"
        "from pathlib import Path\n"
        "from bot.logs import to_debug_log\n"
        f"to_debug_log(Path({str(tmp_path / 'data')!r}))\n"
        "logging.getLogger('pypdf._reader').warning('EOF marker not found')\n"
        "logging.getLogger('onnxruntime.quantization').warning('Please use QuantFormat.QDQ')\n"
        "warnings.warn('invalid pdf header', UserWarning)\n"
        "logging.getLogger('bot.ingest').warning('our own warning')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=PROJECT_DIR, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "EOF marker" not in done.stderr and "QuantFormat" not in done.stderr
    assert "invalid pdf header" not in done.stderr and "our own warning" in done.stderr
    log = (tmp_path / "data" / "debug.log").read_text()
    assert "EOF marker" in log and "QuantFormat" in log and "invalid pdf header" in log
