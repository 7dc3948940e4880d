"""Ingest while questions are answered: each answer sees one version of a file, never a mix.

One bot is shared, as the web app shares it: a writer thread ingests successive editions of
a document while reader threads keep asking about it. Every paragraph of edition k says
"edition k", so the passages an answer retrieved and cited must all carry the same edition,
and every snapshot a reader takes must hold each file whole.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.service import Bot, build_bot
from bot.store import ChunkStore, make_client

EDITIONS = 6
READERS = 3
HARBOURS = ["Tallow", "Brackmoor", "Quenby", "Selloway", "Marrick", "Oddington", "Pennard",
            "Wrayburn", "Culcross", "Ashwell", "Fennick", "Dunstable"]
EDITION = re.compile(r"edition (\d+)")


def write_edition(path: Path, k: int) -> None:
    paras = [
        f"In edition {k} of the harbour survey, the harbour of {name} counted {k * 100 + i} "
        f"ships and {k * 7 + i} cranes; edition {k} replaces every earlier count."
        for i, name in enumerate(HARBOURS)
    ]
    path.write_text("\n\n".join(paras) + "\n")


@pytest.mark.slow
def test_answers_see_one_version_while_ingesting(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot(top_k=6)
    doc = tmp_path / "survey.txt"
    write_edition(doc, 1)
    assert not bot.ingest([doc]).failed
    source = str(doc.resolve())
    done = threading.Event()
    seen: list[int] = []
    errors: list[str] = []

    def read(worker: int) -> None:
        questions = [f"How many ships did the harbour of {h} count?" for h in HARBOURS]
        i = worker
        while not done.is_set() and i < 400:
            try:
                snap = bot.store.snapshot()
                for record in snap.files.values():
                    missing = [c.id for c in record.chunks if c.id not in snap.chunks]
                    if missing:
                        errors.append(f"snapshot holds {record.source} without {missing}")
                answer = bot.ask(questions[i % len(questions)])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            passages = [s.chunk for s in answer.retrieved if s.chunk.source == source]
            passages += [c.chunk for c in answer.citations if c.chunk.source == source]
            editions = {int(m) for p in passages for m in EDITION.findall(p.text)}
            editions |= {int(m) for m in EDITION.findall(answer.text)}
            if len(editions) > 1:
                errors.append(f"answer mixes editions {sorted(editions)}: {answer.text}")
            seen.extend(editions)
            i += READERS

    readers = [threading.Thread(target=read, args=(w,)) for w in range(READERS)]
    for t in readers:
        t.start()
    try:
        for k in range(2, EDITIONS + 1):
            write_edition(doc, k)
            report = bot.ingest([doc])
            assert [f.status for f in report.files] == ["updated"], report.as_dict()
    finally:
        done.set()
        for t in readers:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in readers)
    assert not errors, errors[:5]
    assert len(set(seen)) >= 2, f"readers only ever saw editions {sorted(set(seen))}"
    final = bot.ask(f"How many ships did the harbour of {HARBOURS[0]} count?")
    assert {int(m) for c in final.citations for m in EDITION.findall(c.chunk.text)} == {EDITIONS}
    # Every superseded passage was swept: only the final edition's vectors remain.
    assert bot.store.vector_count() == len(bot.store.snapshot().chunks)


def test_snapshot_taken_while_a_new_version_commits_holds_whole_files(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    """Forces the worst interleaving: the reader has listed the files, and before it reads
    their passages a writer commits a new edition and sweeps the old passages away."""
    writer = make_bot()
    # A reader with its own local index, as a replica against a shared Chroma server has:
    # one sharing the writer's data folder would hold the writer's sweep off until it is done.
    store = ChunkStore(make_client(writer.settings), writer.settings.collection,
                       tmp_path / "reader-index")
    reader = build_bot(writer.settings, embedder=writer.embedder, store=store)
    doc = tmp_path / "survey.txt"
    write_edition(doc, 1)
    assert not writer.ingest([doc]).failed
    list_changes = store._changes
    raced = []

    def list_then_race(since: int | None) -> Any:
        changes = list_changes(since)
        if not raced:
            raced.append(True)
            write_edition(doc, 2)
            assert [f.status for f in writer.ingest([doc]).files] == ["updated"]
        return changes

    store._changes = list_then_race  # type: ignore[method-assign]
    snap = store.snapshot()
    assert raced
    for record in snap.files.values():
        assert all(c.id in snap.chunks for c in record.chunks), "a file is visible in part"
    editions = {int(m) for c in snap.chunks.values() for m in EDITION.findall(c.text)}
    # Short paragraphs may share a passage: the whole file shows every harbour, once.
    text = " ".join(c.text for c in snap.chunks.values())
    assert len(editions) == 1 and all(text.count(h) == 1 for h in HARBOURS)
    answer = reader.ask(f"How many ships did the harbour of {HARBOURS[3]} count?")
    assert {int(m) for c in answer.citations for m in EDITION.findall(c.chunk.text)} == {2}
