"""Property-based checks: chunk offsets always point back at their text, and every citation
marker the user sees resolves to a passage that was retrieved."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer import check_reply
from bot.chunking import chunk_document
from bot.loaders import LoadedDocument, blocks_from_plain_text, load
from bot.models import Answer, Chunk, Scored
from bot.service import Bot

MARKER = re.compile(r"\[(\d+)\]")

# Words with accents, digits, CJK and punctuation that sentence splitters trip over.
word = st.one_of(
    st.sampled_from(["alliance", "Dr.", "U.S.", "1951", "e.g.", "Mr.", "café", "naïve", "東京",
                     "3.5%", "“quoted”", "(aside)", "—", "co-operation", "Ishiba's", "i.e."]),
    st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=12),
)
sentence = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(word, min_size=1, max_size=30),
    st.sampled_from([".", "?", "!", "", ".\u201d", "..."]),
)
paragraph = st.builds(
    lambda ss, sep: sep.join(ss), st.lists(sentence, min_size=1, max_size=12),
    st.sampled_from([" ", "  ", "\n", " \t"]),
)
document = st.builds(
    lambda ps, sep, lead: lead + sep.join(ps),
    st.lists(paragraph, min_size=1, max_size=8),
    st.sampled_from(["\n\n", "\r\n\r\n", "\n \n", "\n\n\n"]),
    st.sampled_from(["", "\n", "  ", "\ufeff"]),
)
sizes = st.tuples(st.integers(100, 600), st.integers(0, 99))


def check_chunks(doc: LoadedDocument, chunks: list[Chunk], size: int) -> None:
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.text.strip() and len(c.text) <= size
    # Nothing of a paragraph is lost: its words all land in some chunk that overlaps it.
    for block in doc.blocks:
        if block.kind != "para":
            continue
        inside = [c for c in chunks if c.start < block.end and c.end > block.start]
        covered = "".join(doc.text[c.start:c.end] for c in inside)
        for token in doc.text[block.start:block.end].split():
            assert token in covered or len(token) > size


@settings(max_examples=150, deadline=None)
@given(document, sizes)
def test_plain_text_chunks_map_back_to_source(text: str, size: tuple[int, int]) -> None:
    blocks = blocks_from_plain_text(text)
    for b in blocks:
        assert 0 <= b.start < b.end <= len(text)
        assert text[b.start:b.end] == text[b.start:b.end].strip()
    doc = LoadedDocument(text, "t", blocks)
    check_chunks(doc, chunk_document(doc, "/x.txt", *size, near_duplicate=0.8), size[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(paragraph, min_size=1, max_size=6), st.sampled_from([".html", ".md", ".txt"]))
def test_loaded_files_map_back_to_extracted_text(paras: list[str], suffix: str) -> None:
    if suffix == ".html":
        from html import escape

        body = "".join(f"<h2>Part {i}</h2><p>{escape(p)}</p>" for i, p in enumerate(paras))
        raw = f"<html><head><title>T</title></head><body>{body}</body></html>"
    else:
        raw = "\n\n".join(paras)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"doc{suffix}"
        path.write_text(raw, encoding="utf-8")
        doc = load(path)
    check_chunks(doc, chunk_document(doc, str(path), 300, 60), 300)
    for c in chunk_document(doc, str(path), 300, 60):
        assert c.text in doc.text


def _chunk(i: int, text: str) -> Scored:
    chunk = Chunk(id=f"c{i}", text=text, source=f"/docs/d{i}.txt", title="d", start=0,
                  end=len(text))
    return Scored(chunk, 1.0 / (i + 1))


PASSAGES = [
    "The treaty was signed in 1951 in San Francisco. It entered into force in 1952.",
    "Japan's defence spending rose to two percent of its economy.",
    "The alliance adapted to address emerging threats in the region.",
]


def assert_markers_resolve(text: str, cited: list[int], shown: int) -> None:
    numbers = [int(n) for n in MARKER.findall(text)]
    assert set(numbers) <= set(cited)
    assert cited == list(range(1, shown + 1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([s for p in PASSAGES for s in re.split(r"(?<=\.) ", p)]
                            + ["Bananas are blue.", "It is so.", ""]),
            st.lists(st.integers(-2, 9), max_size=3),
            st.sampled_from(["before", "after", "comma"]),
        ),
        max_size=6,
    )
)
def test_every_marker_in_a_checked_reply_resolves(
    parts: list[tuple[str, list[int], str]]
) -> None:
    retrieved = [_chunk(i, t) for i, t in enumerate(PASSAGES)]
    reply = ""
    for text, numbers, style in parts:
        marks = "".join(f"[{n}]" for n in numbers)
        if style == "comma" and numbers:
            marks = "[" + ", ".join(map(str, numbers)) + "]"
        body = text.rstrip(".")
        reply += f"{body} {marks}. " if style == "before" else f"{text} {marks} "
    draft = check_reply(reply, retrieved, None)
    assert_markers_resolve(draft.text, [c.n for c in draft.citations], len(draft.citations))
    for c in draft.citations:
        assert c.chunk in [s.chunk for s in retrieved]
    if not draft.refused:
        # A sentence shown is quoted from, and supported by, the passage it cites.
        assert all(MARKER.search(s) for s in re.split(r"(?<=\])\s+", draft.text) if s)


corpus_word = st.sampled_from(
    "who when where what how many treaty alliance Japan Trump Ishiba Suga Soeya meeting "
    "defence trade 1951 1960 prime minister president born Korea cooperation security "
    "guidelines Soviet threat spending newspaper advertisement economy he she it".split()
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(corpus_word, min_size=1, max_size=9))
def test_every_marker_in_an_extractive_answer_resolves(corpus_bot: Bot, ws: list[str]) -> None:
    answer: Answer = corpus_bot.ask(" ".join(ws) + "?")
    cited = [c.n for c in answer.citations]
    assert_markers_resolve(answer.text, cited, len(cited))
    retrieved = {s.chunk.id for s in answer.retrieved}
    # A cited passage was retrieved, or is the one just before a retrieved passage (whose
    # last sentence names the subject of the quoted one); never any other stored passage.
    previous = corpus_bot.store.snapshot().previous
    before_retrieved = {previous[i] for i in retrieved if i in previous}
    for c in answer.citations:
        assert c.chunk.id in retrieved or c.chunk.id in before_retrieved
        assert c.quote and c.quote in answer.text
    markdown = answer.as_markdown()
    for n in set(MARKER.findall(answer.text)):
        assert re.search(rf"^\[{n}\] ", markdown, re.MULTILINE)
