"""Chunks stay inside paragraphs, keep offsets into the source, and repeat ids for repeats."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from bot.chunking import chunk_document, chunk_id
from bot.loaders import load
from tests.conftest import CORPUS


def test_offsets_map_back_to_the_source_text() -> None:
    doc = load(CORPUS / "us-japan-alliance.txt")
    chunks = chunk_document(doc, "a.txt", chunk_size=800, chunk_overlap=150)
    assert chunks
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.id == chunk_id(c.text)


def test_repeated_paragraph_gets_the_same_id() -> None:
    doc = load(CORPUS / "us-japan-alliance.txt")
    chunks = chunk_document(doc, "a.txt", chunk_size=800, chunk_overlap=150)
    ids = [c.id for c in chunks]
    repeated = [c for c in chunks if ids.count(c.id) > 1]
    assert repeated, "the seed article repeats a paragraph word for word"
    assert all(c.text.startswith("The U.S.-Japan alliance has been") for c in repeated)


def test_headings_become_locations() -> None:
    doc = load(CORPUS / "us-japan-alliance.txt")
    chunks = chunk_document(doc, "a.txt", chunk_size=800, chunk_overlap=150)
    trade = next(c for c in chunks if "liquified natural gas" in c.text)
    assert trade.heading == "Addressing Trade Concerns"
    assert "Addressing Trade Concerns" in trade.location


def test_long_paragraph_splits_between_sentences_with_overlap(tmp_path: Path) -> None:
    subjects = ["rivers", "mountains", "cities", "forests", "deserts", "islands", "lakes"]
    sentences = [
        f"Sentence {word} of this text describes {subjects[i % 7]} in some detail."
        for i, word in enumerate(("one two three four five six seven eight nine ten eleven "
                                  "twelve thirteen fourteen fifteen sixteen").split())
    ]
    path = tmp_path / "long.txt"
    path.write_text(" ".join(sentences), encoding="utf-8")
    doc = load(path)
    chunks = chunk_document(doc, str(path), chunk_size=300, chunk_overlap=80)
    assert len(chunks) > 3
    for c in chunks:
        assert len(c.text) <= 300
        assert c.text.startswith("Sentence ") and c.text.endswith(".")
    for a, b in pairwise(chunks):
        assert b.start < a.end, "consecutive pieces overlap"
        assert b.start > a.start, "every piece advances"
    covered = "".join(doc.text[c.start:c.end] for c in chunks)
    assert all(s in covered for s in sentences)
