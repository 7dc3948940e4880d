"""Hybrid retrieval: dense and BM25 fused, near-duplicate passages collapsed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from langchain_core.embeddings import Embeddings

from bot.service import Bot
from bot.settings import Settings
from tests.conftest import bot_for


def test_near_duplicate_paragraphs_are_collapsed(corpus_bot: Bot) -> None:
    hits = corpus_bot.retriever.retrieve(
        "Prime Minister Shigeru Ishiba is set to meet with President Donald Trump", top_k=5
    )
    openers = [h for h in hits if "is set to meet with President Donald Trump" in h.chunk.text]
    assert len(openers) == 1
    stored = [
        c for c in corpus_bot.store.snapshot().chunks.values()
        if "is set to meet with President Donald Trump" in c.text
    ]
    assert len(stored) == 2, "both wordings are stored; only retrieval collapses them"


def test_results_carry_ranks_from_both_retrievers(corpus_bot: Bot) -> None:
    hits = corpus_bot.retriever.retrieve("liquified natural gas LNG purchases", top_k=3)
    assert "liquified natural gas" in hits[0].chunk.text
    assert hits[0].dense_rank is not None and hits[0].lexical_rank is not None
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_single_retriever_modes(corpus_bot: Bot, embedder: Embeddings) -> None:
    data_dir = corpus_bot.settings.data_dir
    dense = bot_for(Settings(data_dir=data_dir, retrieval_mode="dense"), embedder)
    hits = dense.retriever.retrieve("When did the alliance's defense guidelines come out?")
    assert "1997 Guidelines" in " ".join(h.chunk.text for h in hits[:3])
    assert all(h.dense_rank is not None and h.lexical_rank is None for h in hits)

    lexical = bot_for(Settings(data_dir=data_dir, retrieval_mode="lexical"), embedder)
    hits = lexical.retriever.retrieve("Keio University professor emeritus")
    assert "Yoshihide Soeya" in hits[0].chunk.text
    assert all(h.lexical_rank is not None and h.dense_rank is None for h in hits)


def test_empty_store_retrieves_nothing_and_refuses(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot()
    assert bot.retriever.retrieve("anything at all") == []
    assert bot.ask("What is in the documents?").refused


def test_a_passage_is_found_by_the_heading_it_sits_under(
    make_bot: Callable[..., Bot], embedder: Embeddings, tmp_path: Path
) -> None:
    faq = tmp_path / "widget-faq.md"
    faq.write_text(
        "# Widget FAQ\n\n## Does the gizmo collect telemetry?\n\n"
        "No. It never sends anything anywhere.\n\n## How is the gizmo installed?\n\n"
        "Run the installer and follow the prompts.\n",
        encoding="utf-8",
    )
    bot = make_bot()
    assert not bot.ingest([faq]).failed
    for mode in ("lexical", "dense"):
        searcher = bot_for(Settings(data_dir=bot.settings.data_dir, retrieval_mode=mode),
                           embedder)
        top = searcher.retriever.retrieve("gizmo telemetry", top_k=2)[0].chunk
        # The heading is searched, but the quotable text is the passage's own.
        assert top.text == "No. It never sends anything anywhere.", mode
        assert top.searched_text == (
            "Widget FAQ > Does the gizmo collect telemetry?\n\n"
            "No. It never sends anything anywhere."
        )


def test_a_follow_up_is_searched_with_the_question_it_follows(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    for tool, took in (("Alpha", "nine minutes"), ("Beta", "twelve seconds")):
        (tmp_path / f"{tool.lower()}.md").write_text(
            f"# {tool}\n\n## Compression\n\n{tool} compresses files with a dictionary coder.\n\n"
            f"## Benchmark\n\nThe benchmark run took {took} on the test machine.\n",
            encoding="utf-8",
        )
    bot = make_bot()
    assert not bot.ingest([tmp_path]).failed
    question = "How long did the benchmark take?"
    for tool, took in (("Alpha", "nine minutes"), ("Beta", "twelve seconds")):
        hits = bot.retriever.retrieve(question, 2, context=f"How does {tool} compress files?")
        assert took in hits[0].chunk.text, tool
        # Ranks and similarity stay those of the question's own search.
        alone = {h.chunk.id: h for h in bot.retriever.retrieve(question, 4)}
        assert hits[0].dense_rank == alone[hits[0].chunk.id].dense_rank
