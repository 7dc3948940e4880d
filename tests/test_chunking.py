"""Chunks stay inside paragraphs, keep offsets into the source, and repeat ids for repeats."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from bot.chunking import chunk_document, chunk_id
from bot.evidence import pieces
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
    assert trade.location.endswith(", Addressing Trade Concerns")
    assert trade.location.startswith("line")


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


def _doc(tmp_path: Path, name: str, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load(path)


def test_short_blocks_under_one_heading_are_merged(tmp_path: Path) -> None:
    items = "".join(f"<p>Step {i} sets option number {i}.</p>" for i in range(40))
    doc = _doc(tmp_path, "steps.html", f"<h1>Setup</h1>{items}<h1>Other</h1><p>Alone here.</p>")
    chunks = chunk_document(doc, "steps.html", chunk_size=300, chunk_overlap=50)
    setup = [c for c in chunks if c.heading == "Setup"]
    # 40 paragraphs of ~28 characters fill about four chunks of 300, not forty.
    assert 4 <= len(setup) <= 5
    assert all(len(c.text) <= 300 and doc.text[c.start:c.end] == c.text for c in chunks)
    assert [c.text for c in chunks if c.heading == "Other"] == ["Alone here."]
    joined = " ".join(c.text for c in setup)
    assert all(f"Step {i} sets" in joined for i in range(40))


def test_repeated_paragraph_is_not_merged_with_neighbours(tmp_path: Path) -> None:
    repeated = ("The harbour master keeps the tide tables for every pier of the bay, and the "
                "tables are posted at the gate each morning before the first boats leave.")
    text = (f"Harbour\n\nFirst short line here.\n\n{repeated}\n\nSecond short line.\n\n"
            f"{repeated}\n\nThird short line.\n")
    doc = _doc(tmp_path, "bay.txt", text)
    chunks = chunk_document(doc, "bay.txt", chunk_size=800, chunk_overlap=150)
    alone = [c for c in chunks if c.text == repeated]
    assert len(alone) == 2 and alone[0].id == alone[1].id
    assert not [c for c in chunks if repeated in c.text and c.text != repeated]


def test_long_code_block_splits_only_between_lines(tmp_path: Path) -> None:
    code = "\n".join(f"    value_{i} = compute({i}, scale=2)" for i in range(30))
    doc = _doc(tmp_path, "code.md", f"# Code\n\n```python\ndef run():\n{code}\n```\n")
    chunks = chunk_document(doc, "code.md", chunk_size=200, chunk_overlap=40)
    assert len(chunks) > 3
    lines = {ln.strip() for ln in code.splitlines()}
    for c in chunks:
        assert len(c.text) <= 200
        assert all(ln.strip() in lines | {"def run():"} for ln in c.text.split("\n"))


def test_passages_record_where_their_code_blocks_are(tmp_path: Path) -> None:
    message = ("warning: this URL is not a hyperlink\n --> links.rs:1:5\n"
               "  |\n1 | /// http://example.org")
    doc = _doc(tmp_path, "lints.md",
               f"# bare_urls\n\nIt detects URLs which are not links.\n\n```text\n{message}\n```\n\n"
               "The lint warns by default.\n")
    [chunk] = chunk_document(doc, "lints.md", chunk_size=800, chunk_overlap=150)
    [(start, end)] = chunk.code_spans
    assert chunk.text[start:end].strip() == message
    assert "It detects" not in chunk.text[start:end]
    # Each line of the block is a piece of its own; the prose around it stays sentences.
    found = pieces(chunk.text, chunk.code_spans)
    assert ("It detects URLs which are not links.", False) in found
    assert ("warning: this URL is not a hyperlink", True) in found
    assert ("--> links.rs:1:5", True) in found
    assert ("The lint warns by default.", False) in found
    # Read as prose, the message runs into one sentence with the lines after it.
    assert ("warning: this URL is not a hyperlink", True) not in pieces(chunk.text)


def test_locations_read_as_places_not_offsets(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "a.html", "<p>One paragraph.</p><p>Another paragraph here.</p>")
    chunks = chunk_document(doc, "a.html", chunk_size=800, chunk_overlap=150)
    assert [c.location for c in chunks] == ["paragraph 1"]
    assert all("chars" not in c.location for c in chunks)
