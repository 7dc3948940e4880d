"""Feedback storage and its export as eval cases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.feedback import FeedbackStore
from bot.models import REFUSAL, Answer, Chunk, Citation

CASE_KEYS = {"id", "question", "history", "answerable", "reference", "must_include", "evidence"}


def answer(question: str, text: str, quote: str = "", refused: bool = False) -> Answer:
    chunk = Chunk("c1", f"Some context. {quote} More context.", "/docs/a.txt", "A", 0, 40)
    cites = [] if refused else [Citation(1, chunk, quote)]
    return Answer(question, question, text, refused, cites, backend="extractive")


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore.in_data_dir(tmp_path / "data")


def test_votes_survive_a_new_store_object_and_can_change(store: FeedbackStore) -> None:
    history = [{"role": "user", "content": "Who is X?"}, {"role": "assistant", "content": "A."}]
    store.record("t1", "up", answer("Q1", "Ok. [1]", "Ok."), history, session="s")
    store.record("t1", "down", answer("Q1", "Ok. [1]", "Ok."), history, session="s")
    again = FeedbackStore(store.path)
    [rec] = again.records()
    assert rec.vote == "down" and rec.history == history and rec.session == "s"
    assert rec.citations[0]["quote"] == "Ok." and rec.citations[0]["source"] == "/docs/a.txt"
    assert again.withdraw("t1") and again.records() == []


def test_bad_vote_is_refused_and_nothing_is_written(store: FeedbackStore) -> None:
    with pytest.raises(ValueError, match="vote"):
        store.record("t1", "meh", answer("Q", "A"), [])  # type: ignore[arg-type]
    assert store.records() == []


def test_export_turns_votes_into_eval_cases(store: FeedbackStore, tmp_path: Path) -> None:
    store.record("up1", "up", answer("When?", "It was formed in 1951. [1]",
                                     "It was formed in 1951."), [])
    store.record("up2", "up", answer("Capital of Peru?", REFUSAL, refused=True), [])
    store.record("down1", "down", answer("Who won?", REFUSAL, refused=True), [])
    store.record("down2", "down", answer("Boiling point?", "Unrelated. [1]", "Unrelated."), [])
    store.record("down3", "down", answer("Where?", "Osaka. [1]", "Osaka."),
                 [{"role": "user", "content": "Who is Suga?"}])
    assert store.comment("down3", "  Tokyo  ")
    assert not store.comment("missing", "x")

    out = tmp_path / "out" / "feedback.jsonl"
    assert store.export(out) == (4, 1)
    cases = {c["id"].split("-")[-1]: c for c in map(json.loads, out.read_text().splitlines())}
    assert all(set(c) == CASE_KEYS for c in cases.values())
    assert cases["up1"]["answerable"] is True
    assert cases["up1"]["reference"] == "It was formed in 1951."
    assert cases["up1"]["evidence"] == ["It was formed in 1951."]
    assert cases["up2"]["answerable"] is False and cases["up2"]["evidence"] == []
    # Thumbs-down: regression cases asking for the other outcome, or the person's answer.
    assert cases["down1"]["answerable"] is True
    # A wrong answer with no note says nothing of what is right: never "must refuse".
    assert "down2" not in cases
    assert cases["down3"]["answerable"] is True and cases["down3"]["reference"] == "Tokyo"
    assert cases["down3"]["history"] == [{"role": "user", "content": "Who is Suga?"}]
    assert store.export(out, vote="down") == (2, 1)


def test_cli_export_reads_the_data_dir(
    store: FeedbackStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record("t9", "down", answer("Q?", REFUSAL, refused=True), [])
    monkeypatch.setenv("BOT_DATA_DIR", str(store.path.parent))
    out = tmp_path / "cases.jsonl"
    result = CliRunner().invoke(cli_app, ["feedback", "export", str(out), "--vote", "down"])
    assert result.exit_code == 0, result.output
    assert "wrote 1 cases" in result.output
    [case] = [json.loads(line) for line in out.read_text().splitlines()]
    assert case["question"] == "Q?" and case["answerable"] is True
    store.record("t10", "down", answer("Who won?", "Osaka. [1]", "Osaka."), [])
    again = CliRunner().invoke(cli_app, ["feedback", "export", str(out)])
    assert again.exit_code == 0, again.output
    assert "wrote 1 cases" in again.output
    assert "skipped 1 thumbs-down without a note" in again.output
    assert all(json.loads(line)["answerable"] for line in out.read_text().splitlines())
    bad = CliRunner().invoke(cli_app, ["feedback", "export", str(out), "--vote", "maybe"])
    assert bad.exit_code == 2


def test_database_is_plain_sqlite(store: FeedbackStore) -> None:
    store.record("t1", "up", answer("Q", "A. [1]", "A."), [])
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT question, vote FROM feedback").fetchall() == [("Q", "up")]
