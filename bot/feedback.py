"""Durable thumbs-up/down feedback on answers, exported as eval cases.

Votes live in SQLite under the data directory, so they survive restarts and can be shared by
several web workers. :func:`FeedbackStore.export` turns them into the eval JSONL format that
``bot eval`` runs: a liked answer becomes a case that locks in what the bot did; a disliked one
becomes a regression case asking for the opposite outcome (an answer where the bot refused, a
refusal where it answered) unless the person wrote the expected answer, which then becomes the
case's reference.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot import citations
from bot.models import Answer

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    turn_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    session TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    question TEXT NOT NULL,
    standalone_question TEXT NOT NULL,
    history TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    backend TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
)
"""

@dataclass(frozen=True)
class FeedbackRecord:
    """One vote on one answer, with everything needed to replay the question."""

    turn_id: str
    created: str
    session: str
    vote: Vote
    question: str
    standalone_question: str
    history: list[dict[str, str]]
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    backend: str
    comment: str = ""

    @property
    def needs_review(self) -> bool:
        """A thumbs-down on an answer with no note: it says the answer was wrong, not that
        the documents lack one, so no case can be written until someone says what is right."""
        return self.vote == "down" and not self.comment and not self.refused

    def as_case(self) -> dict[str, Any]:
        """This vote as one eval case (the JSONL format of ``bot eval``); not for a vote that
        :attr:`needs_review`."""
        quotes = [c.get("quote") or "" for c in self.citations]
        evidence = list(dict.fromkeys(q for q in quotes if q))
        if self.vote == "up":
            answerable = not self.refused
            reference = "" if self.refused else citations.strip(self.answer)
        elif self.comment:
            answerable, reference, evidence = True, self.comment, []
        else:  # a refusal voted down: the documents should have answered
            answerable, reference, evidence = True, "", []
        return {
            "id": f"feedback-{self.vote}-{self.turn_id}",
            "question": self.question,
            "history": self.history,
            "answerable": answerable,
            "reference": reference,
            "must_include": [],
            "evidence": evidence if answerable else [],
        }


class FeedbackStore:
    """Feedback records in one SQLite file (``<data_dir>/feedback.sqlite3``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FeedbackStore:
        """The store the web app and ``bot feedback export`` share."""
        return cls(Path(data_dir) / "feedback.sqlite3")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=10)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def record(
        self,
        turn_id: str,
        vote: Vote,
        answer: Answer,
        history: Sequence[dict[str, str]],
        session: str = "",
    ) -> None:
        """Store (or change) the vote on one answer; the answer's question is replayable."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        now = _now()
        turns = [{"role": str(t["role"]), "content": str(t["content"])} for t in history]
        with self._connect() as db:
            db.execute(
                """INSERT INTO feedback (turn_id, created, updated, session, vote, question,
                       standalone_question, history, answer, refused, citations, backend)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(turn_id) DO UPDATE SET vote = excluded.vote,
                       updated = excluded.updated""",
                (
                    turn_id, now, now, session, vote, answer.question,
                    answer.standalone_question, json.dumps(turns, ensure_ascii=False),
                    answer.text, int(answer.refused),
                    # The stored key, not the shown name: an exported case must find the file.
                    json.dumps([c.as_dict(c.chunk.source) for c in answer.citations],
                               ensure_ascii=False),
                    answer.backend,
                ),
            )

    def comment(self, turn_id: str, text: str) -> bool:
        """Attach the expected answer (or any remark) to a vote; False if there is no vote."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE feedback SET comment = ?, updated = ? WHERE turn_id = ?",
                (text.strip(), _now(), turn_id),
            )
            return cur.rowcount > 0

    def withdraw(self, turn_id: str) -> bool:
        """Remove the vote on one answer (the person clicked it again)."""
        with self._connect() as db:
            return db.execute("DELETE FROM feedback WHERE turn_id = ?", (turn_id,)).rowcount > 0

    def records(self, vote: Vote | None = None) -> list[FeedbackRecord]:
        """Stored votes, oldest first, optionally only one kind."""
        query = "SELECT * FROM feedback"
        args: tuple[str, ...] = ()
        if vote is not None:
            query += " WHERE vote = ?"
            args = (vote,)
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(query + " ORDER BY created, turn_id", args).fetchall()
        return [
            FeedbackRecord(
                turn_id=r["turn_id"], created=r["created"], session=r["session"],
                vote=r["vote"], question=r["question"],
                standalone_question=r["standalone_question"], history=json.loads(r["history"]),
                answer=r["answer"], refused=bool(r["refused"]),
                citations=json.loads(r["citations"]), backend=r["backend"],
                comment=r["comment"],
            )
            for r in rows
        ]

    def export(self, out: Path, vote: Vote | None = None) -> tuple[int, int]:
        """Write the votes as eval JSONL cases to ``out``; returns how many were written and
        how many were left out because they need a note first (:attr:`needs_review`)."""
        records = self.records(vote)
        cases = [r.as_case() for r in records if not r.needs_review]
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for case in cases:
                fh.write(json.dumps(case, ensure_ascii=False) + "\n")
        tmp.replace(out)
        return len(cases), len(records) - len(cases)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
