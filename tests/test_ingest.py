"""Ingest is incremental by content hash, deduplicates passages, and never half-commits."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bot import chunking
from bot.chunking import chunk_with
from bot.ingest import Progress
from bot.loaders import load
from bot.models import FileReport, IngestReport
from bot.service import Bot
from bot.store import StoreError
from bot.uploads import UploadFolder
from tests.conftest import CORPUS

ARTICLE = CORPUS / "us-japan-alliance.txt"


def _corpus_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / "article.txt")
    return folder


def _lexical_ids(bot: Bot) -> set[str]:
    return bot.store.snapshot().lexical.ids()


def test_reingest_of_unchanged_corpus_embeds_nothing(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    folder = _corpus_copy(tmp_path)
    bot = make_bot()
    first = bot.ingest([folder])
    assert first.count("added") == 1 and first.embedded > 0
    again = bot.ingest([folder])
    assert again.count("unchanged") == 1
    assert again.embedded == 0


def test_repeated_paragraph_is_stored_and_retrieved_once(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    folder = _corpus_copy(tmp_path)
    shutil.copy(ARTICLE, folder / "same-article-again.txt")
    bot = make_bot()
    bot.ingest([folder])
    snap = bot.store.snapshot()
    texts = [c.text for c in snap.chunks.values()]
    repeated = "The U.S.-Japan alliance has been a cornerstone of Japan’s foreign policy"
    assert sum(t.startswith(repeated) for t in texts) == 1
    assert bot.store.vector_count() == len(snap.chunks)
    hits = bot.retriever.retrieve("cornerstone of Japan's foreign policy for decades", top_k=5)
    assert sum(h.chunk.text.startswith(repeated) for h in hits) == 1
    answer = bot.ask("What has been a cornerstone of Japan's foreign policy for decades?")
    cited = [c.chunk.id for c in answer.citations]
    assert len(cited) == len(set(cited))


def test_changed_file_replaces_its_old_passages(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = folder / "plan.txt"
    doc.write_text("The launch is planned for March 2031 in Lisbon.\n", encoding="utf-8")
    bot = make_bot()
    bot.ingest([folder])
    doc.write_text("The launch was moved to October 2032 in Porto.\n", encoding="utf-8")
    report = bot.ingest([folder])
    assert report.count("updated") == 1
    texts = [c.text for c in bot.store.snapshot().chunks.values()]
    assert texts == ["The launch was moved to October 2032 in Porto."]
    assert bot.store.vector_count() == 1
    assert len(_lexical_ids(bot)) == 1
    answer = bot.ask("Where is the launch?")
    assert "Porto" in answer.text and "Lisbon" not in answer.text


def test_prune_removes_files_that_are_gone(make_bot: Callable[..., Bot], tmp_path: Path) -> None:
    folder = _corpus_copy(tmp_path)
    extra = folder / "extra.md"
    extra.write_text("# Extra\n\nThe lighthouse keeper counted 412 ships.\n", encoding="utf-8")
    bot = make_bot()
    bot.ingest([folder])
    extra.unlink()
    kept = bot.ingest([folder])
    assert len(bot.sources()) == 2 and kept.count("removed") == 0
    report = bot.ingest([folder], prune=True)
    assert report.count("removed") == 1
    assert [Path(s.source).name for s in bot.sources()] == ["article.txt"]
    assert all("lighthouse" not in c.text for c in bot.store.snapshot().chunks.values())
    assert _lexical_ids(bot) == set(bot.store.snapshot().chunks)


def test_failure_mid_file_keeps_the_previous_version(
    make_bot: Callable[..., Bot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = folder / "facts.txt"
    doc.write_text("The bridge is 310 metres long.\n", encoding="utf-8")
    bot = make_bot()
    bot.ingest([folder])
    doc.write_text("The bridge is 310 metres long.\nIt opened to traffic in 1998.\n",
                   encoding="utf-8")

    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("embedding backend crashed")

    monkeypatch.setattr(bot.embedder, "embed_documents", broken)
    report = bot.ingest([folder])
    assert report.count("failed") == 1
    assert "embedding backend crashed" in report.failed[0].message
    texts = [c.text for c in bot.store.snapshot().chunks.values()]
    assert texts == ["The bridge is 310 metres long."]
    monkeypatch.undo()
    assert bot.ingest([folder]).count("updated") == 1
    texts = [c.text for c in bot.store.snapshot().chunks.values()]
    assert texts == ["The bridge is 310 metres long.\nIt opened to traffic in 1998."]


def test_bad_files_fail_alone_and_nothing_stored_is_lost(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    folder = _corpus_copy(tmp_path)
    bot = make_bot()
    bot.ingest([folder])
    before = set(bot.store.snapshot().chunks)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "bad.pdf").write_bytes(b"%PDF-1.7 truncated")
    (folder / "table.numbers").write_text("a,b\n", encoding="utf-8")
    (folder / "good.md").write_text("# Good\n\nA new and valid note.\n", encoding="utf-8")
    report = bot.ingest([folder])
    failed = {Path(f.source).name: f.message for f in report.failed}
    assert set(failed) == {"binary.txt", "bad.pdf"}
    assert "binary" in failed["binary.txt"]
    skipped = {Path(f.source).name: f.message for f in report.files if f.status == "skipped"}
    assert set(skipped) == {"table.numbers", "empty.txt"} and skipped["empty.txt"] == "empty file"
    assert report.count("added") == 1
    after = set(bot.store.snapshot().chunks)
    assert before < after


def test_a_file_stored_by_another_chunk_size_is_made_again(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    folder = _corpus_copy(tmp_path)
    small = make_bot(chunk_size=300, chunk_overlap=0)
    small.ingest([folder])
    before = set(small.store.snapshot().chunks)
    bot = make_bot()
    report = bot.ingest([folder])
    assert report.count("updated") == 1 and report.embedded > 0
    doc = load(folder / "article.txt")
    made = {c.id for c in chunk_with(doc, str(folder / "article.txt"), bot.settings)}
    assert set(bot.store.snapshot().chunks) == made != before
    assert bot.store.vector_count() == len(made)
    assert _lexical_ids(bot) == made
    assert bot.ingest([folder]).count("unchanged") == 1


def _stored_by_an_older_version(
    make_bot: Callable[..., Bot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The corpus copy, ingested as the previous passage version would have stored it."""
    folder = _corpus_copy(tmp_path)
    monkeypatch.setattr(chunking, "PASSAGE_VERSION", chunking.PASSAGE_VERSION - 1)
    make_bot().ingest([folder])
    monkeypatch.undo()
    return folder


def test_a_new_passage_version_embeds_every_passage_again(
    make_bot: Callable[..., Bot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _stored_by_an_older_version(make_bot, tmp_path, monkeypatch)
    bot = make_bot()
    report = bot.ingest([folder])
    passages = len(bot.store.snapshot().chunks)
    # Same texts, same ids: only the recorded version tells the old vectors apart.
    assert report.count("updated") == 1 and report.embedded == passages
    assert bot.ingest([folder]).embedded == 0


def test_a_new_file_does_not_reuse_vectors_of_an_older_passage_version(
    make_bot: Callable[..., Bot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _stored_by_an_older_version(make_bot, tmp_path, monkeypatch)
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    bot = make_bot()
    # The moved copy's passages have the stored ones' ids, but their vectors are older.
    report = bot.ingest([moved])
    assert report.count("added") == 1
    assert report.embedded == len(set(bot.store.snapshot().chunks))


def test_lexical_index_follows_the_store_across_instances(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    folder = _corpus_copy(tmp_path)
    writer = make_bot()
    reader = make_bot()
    assert reader.retriever.retrieve("Nippon Steel") == []
    writer.ingest([folder])
    hits = reader.retriever.retrieve("Nippon Steel acquisition of US Steel")
    assert hits and "Nippon Steel" in hits[0].chunk.text
    assert _lexical_ids(reader) == set(reader.store.snapshot().chunks)
    writer.remove(str((folder / "article.txt").resolve()))
    assert reader.retriever.retrieve("Nippon Steel") == []


def test_code_block_places_survive_the_store_in_every_process(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    doc = tmp_path / "kiln.md"
    doc.write_text("# Kiln\n\nStart the controller like this:\n\n```\n$ kiln start --program B\n"
                   "```\n\nIt beeps when ready.\n", "utf-8")
    writer = make_bot()
    writer.ingest([doc])
    # A new process reads the passages from the store, not from the writer's memory.
    [chunk] = make_bot().store.snapshot().chunks.values()
    [(start, end)] = chunk.code_spans
    assert chunk.text[start:end].strip() == "$ kiln start --program B"


def test_a_replica_of_an_older_layout_is_rebuilt_from_the_store(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    doc = tmp_path / "kiln.md"
    doc.write_text("# Kiln\n\nRun it like this:\n\n```\n$ kiln start\n```\n", "utf-8")
    make_bot().ingest([doc])
    [catalog] = (tmp_path / "data").rglob("catalog.sqlite3")
    # As an earlier version left it: no code column, no layout recorded.
    with sqlite3.connect(catalog) as db:
        db.execute("ALTER TABLE refs DROP COLUMN code")
        db.execute("DELETE FROM meta WHERE key='layout'")
    bot = make_bot()
    [chunk] = bot.store.snapshot().chunks.values()
    assert chunk.text[slice(*chunk.code_spans[0])].strip() == "$ kiln start"
    assert bot.retriever.retrieve("kiln start")


def test_symlink_outside_folder_is_not_followed(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    outside = tmp_path / "private.txt"
    outside.write_text("Private note that must stay out.\n", encoding="utf-8")
    folder = _corpus_copy(tmp_path)
    (folder / "link.txt").symlink_to(outside)
    bot = make_bot()
    report = bot.ingest([folder])
    skipped = [f for f in report.files if f.status == "skipped"]
    assert len(skipped) == 1 and "outside" in skipped[0].message
    assert all("Private note" not in c.text for c in bot.store.snapshot().chunks.values())


def test_uploads_are_checked_and_a_store_outage_puts_the_old_copy_back(tmp_path: Path) -> None:
    folder = UploadFolder(tmp_path / "uploads", max_mb=0.001)
    old, new = tmp_path / "a" / "notes.txt", tmp_path / "b" / "notes.txt"
    for f, text in ((old, "First version.\n"), (new, "Second version.\n")):
        f.parent.mkdir()
        f.write_text(text, encoding="utf-8")
    big, odd = tmp_path / "big.md", tmp_path / "tool.exe"
    big.write_text("x" * 5000, encoding="utf-8")
    odd.write_bytes(b"MZ")

    def accept(paths: Sequence[Path | str], *, progress: Progress | None = None) -> IngestReport:
        return IngestReport([FileReport(str(Path(p).resolve()), "added", 1) for p in paths])

    first = folder.stage([old, big, odd])
    assert [o.ok for o in first.rejected] == [False, False]
    assert "upload limit" in first.rejected[0].text and "not supported" in first.rejected[1].text
    assert [o.text for o in first.ingest(accept)] == ["notes.txt: added (1 chunks)."]

    def unreachable(paths: Sequence[Path | str], *, progress: Progress | None = None
                    ) -> IngestReport:
        raise StoreError("store down")

    with pytest.raises(StoreError):
        folder.stage([new]).ingest(unreachable)
    stored = tmp_path / "uploads" / "notes.txt"
    assert stored.read_text("utf-8") == "First version.\n"
    assert sorted(p.name for p in stored.parent.iterdir()) == ["notes.txt"]
    folder.discard(str(tmp_path / "elsewhere" / "notes.txt"))
    assert stored.exists()
    folder.discard(str(stored.resolve()))
    assert not stored.exists()


def test_a_store_of_another_models_vectors_is_refused_not_mixed(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _corpus_copy(tmp_path)
    first = make_bot()
    assert not first.ingest([docs]).failed
    # Same data folder, another model named: nothing is added, and questions say why.
    other = make_bot(embedding_model="some-other-model")
    (docs / "more.txt").write_text("The lighthouse keeper counted forty ships in May.\n")
    report = other.ingest([docs])
    assert [f.status for f in report.files if f.source.endswith("more.txt")] == ["failed"]
    assert "some-other-model" in report.failed[0].message
    with pytest.raises(StoreError, match="BOT_EMBEDDING_MODEL"):
        other.ask("When was Shigeru Ishiba born?")
    assert len(first.store.sources()) == 1
    assert not first.ask("When was Shigeru Ishiba born?").refused


def test_whole_store_reads_go_in_pages(make_bot: Callable[..., Bot], tmp_path: Path) -> None:
    """Chroma fails one read of tens of thousands of records; whole reads are paged, here
    with pages of three so eight files and their passages take several."""
    bot = make_bot()
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(8):
        (docs / f"note-{i}.txt").write_text(f"Note {i} says the tide tables list {i} ports.\n")
    assert not bot.ingest([docs]).failed
    bot.store._batch = 3
    assert len(bot.store.records()) == 8
    assert len(bot.store.stored()) == 8
    bot.store.rebuild_index()
    assert len(bot.store.snapshot().files) == 8 and len(bot.store.snapshot().chunks) == 8
    (docs / "note-0.txt").unlink()
    assert [f.status for f in bot.ingest([docs], prune=True).files].count("removed") == 1
    assert bot.store.sweep() == 0 and bot.store.vector_count() == 7
