"""The evidence scorer: candidates, features, the shipped model and the training command."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.answer import ExtractiveAnswerer
from bot.embeddings import SentenceTransformerEmbeddings
from bot.evidence import (
    ANSWER_FEATURES,
    CANDIDATE_FEATURES,
    Candidate,
    EvidenceModel,
    answer_features,
    answer_shape,
    asked_cell,
    asked_noun,
    figure_shape,
    numeric_columns,
    numeric_expectation,
    pieces,
    question_kind,
    section_label,
    shape_shares,
)
from bot.models import LABEL_JOIN, Chunk
from bot.reader import Reader
from bot.service import Bot
from bot.settings import Settings
from bot.text import words


def test_pieces_are_sentences_and_lines_of_laid_out_text() -> None:
    prose = "The first sentence is here. The second one follows it."
    assert pieces(prose) == [("The first sentence is here.", False),
                             ("The second one follows it.", False)]
    listing = "Options:\n--quiet  print less\n--level N  compression level, 1 to 9\n"
    got = pieces(listing)
    assert ("--level N  compression level, 1 to 9", True) in got
    assert ("--quiet  print less", True) in got
    assert ("Options:", True) in got  # a lead-in ending with a colon opens the block


def test_table_rows_are_pieces_of_their_own() -> None:
    table = ("Keys: Ctrl+A; Action: Go to start of line\n"
             "Keys: Ctrl+E; Action: Go to end of line\n"
             "Keys: Ctrl+D; Action: Delete right. Closes it when empty; Notes: Not on Windows")
    assert pieces(table) == [(row, True) for row in table.split("\n")]
    # A row alone, and a row between paragraphs, are whole pieces too.
    assert pieces(table.split("\n")[2]) == [(table.split("\n")[2], True)]
    mixed = f"Keys are these. See below.\n{table.split(chr(10))[0]}\nThe end."
    assert [p for p, _ in pieces(mixed)] == [
        "Keys are these.", "See below.", "Keys: Ctrl+A; Action: Go to start of line",
        "The end."]
    # A line of prose that names one thing with a colon is no row: the sentence that runs
    # on over the line break stays whole.
    prose = "Note: the cache is kept\nfor a day and then dropped."
    assert pieces(prose) == [("Note: the cache is kept\nfor a day and then dropped.", False)]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was the treaty signed?", "date"),
        ("In what year did the war end?", "date"),
        ("How many members does the council have?", "number"),
        ("Who designed the bridge?", "person"),
        ("Where is the archive kept?", "place"),
        ("Why does the cache expire?", "reason"),
        ("How do I rotate the keys?", "manner"),
        ("Which flag disables colour?", "choice"),
        ("Is the option deprecated?", "polar"),
        ("Can I run two servers at once?", "polar"),
        ("Is there a way to know which flag is set?", "choice"),
        ("The option is deprecated?", None),
    ],
)
def test_question_kinds(question: str, kind: str | None) -> None:
    assert question_kind(question) == kind


def test_the_shipped_model_matches_the_features_and_has_a_probability_threshold() -> None:
    model = EvidenceModel.bundled()
    assert 0.0 < model.threshold < 1.0
    assert model.spec["validation"]["held_out"]["gold_in_answer"] > 0
    probs = model.candidate_probabilities(np.zeros((3, len(CANDIDATE_FEATURES))))
    assert probs.shape == (3,) and np.all((probs > 0) & (probs < 1))
    assert 0.0 < model.confidence(np.zeros(len(ANSWER_FEATURES))) < 1.0


def test_a_model_trained_on_other_features_is_refused(tmp_path: Path) -> None:
    spec = EvidenceModel.bundled().spec
    spec = {**spec, "candidate": {**spec["candidate"], "features": ["lex"]}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(spec), "utf-8")
    with pytest.raises(ValueError, match="retrain"):
        EvidenceModel.load(path)


def test_the_answer_sentence_outranks_sentences_that_only_share_words(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    doc = tmp_path / "harbour.txt"
    doc.write_text(
        "The harbour office handles mooring permits for visiting boats.\n\n"
        "Mooring permits for visiting boats are popular in summer, and the harbour office "
        "is busy.\n\n"
        "A mooring permit costs 45 euros per night and is paid at the harbour office.\n",
        "utf-8",
    )
    bot = make_bot()
    bot.ingest([doc])
    answer = bot.ask("How much does a mooring permit cost?")
    assert not answer.refused
    assert "45 euros" in answer.text
    assert answer.confidence is not None and answer.confidence >= bot.extractive.threshold
    refused = bot.ask("Who founded the harbour office?")
    assert refused.refused
    assert refused.confidence is not None and refused.confidence < bot.extractive.threshold


def test_passages_analysed_together_are_analysed_as_one_at_a_time(
    embedder: SentenceTransformerEmbeddings,
) -> None:
    from bot.evidence import EvidenceScorer
    from bot.models import Chunk

    texts = ["Ada Lovelace was born in London in 1815. She wrote the first program.",
             "The harbour office opens at 9 am.\n\n- Permits: 45 euros\n- Keys: 5 euros",
             "Grace Hopper worked on the UNIVAC I at Remington Rand."]
    chunks = [Chunk(id=f"c{i}", text=t, source="doc.txt", title="doc", start=0, end=len(t))
              for i, t in enumerate(texts)]
    together = EvidenceScorer(embedder).analysis.many([*chunks, chunks[0]])
    alone = [EvidenceScorer(embedder).analysis(c) for c in chunks]
    assert len(together) == 4 and together[3] is together[0]
    for a, b in zip(together, alone, strict=False):
        assert a.texts == b.texts and a.lines == b.lines and a.entities == b.entities
        assert np.allclose(a.vectors, b.vectors, atol=1e-6)
    assert ("PERSON", "Ada Lovelace") in together[0].entities[0]


def test_the_piece_after_the_best_is_quoted_with_it_when_the_model_says_so(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    from bot.evidence import FOLLOW_FEATURES

    doc = tmp_path / "faq.txt"
    doc.write_text(
        "The build stops with an error about a missing compression library.\n"
        "Install the package zlib1g-dev and run the build again.\n\n"
        "The manual is published under a free licence.\n",
        "utf-8",
    )
    bot = make_bot(min_confidence=0.0)
    bot.ingest([doc])
    question = "Why does the build stop with an error about a missing compression library?"
    spec = dict(EvidenceModel.bundled().spec)
    width = len(FOLLOW_FEATURES)
    # A follow model that is always sure, with a threshold reached always, then never.
    always = {"features": list(FOLLOW_FEATURES), "mean": [0.0] * width,
              "scale": [1.0] * width, "coef": [0.0] * width, "intercept": 9.0,
              "threshold": 0.5}
    bot.extractive.scorer._model = EvidenceModel({**spec, "follow": {**always,
                                                                     "threshold": 2.0}})
    plain = bot.ask(question)
    assert "zlib1g-dev" not in plain.text
    bot.extractive.scorer._model = EvidenceModel({**spec, "follow": always})
    ranking = bot.extractive.rank(question, bot.search(question), bot.store.snapshot())
    best = ranking.candidates[0]
    assert best.text.startswith("The build stops") and best.after.startswith("Install")
    assert ranking.follow > 0.99
    both = bot.ask(question)
    assert "zlib1g-dev" in both.text and "The build stops" in both.text
    [citation] = both.citations
    assert citation.quote in citation.chunk.text and "zlib1g-dev" in citation.quote


def test_the_threshold_setting_overrides_the_model(
    embedder: SentenceTransformerEmbeddings,
) -> None:
    assert ExtractiveAnswerer(embedder, 0.99, 3).threshold == 0.99
    default = ExtractiveAnswerer(embedder, None, 3)
    assert default.threshold == EvidenceModel.bundled().threshold


def test_training_is_deterministic_and_writes_a_loadable_artifact(
    tmp_path: Path, embedder: SentenceTransformerEmbeddings, make_bot: Callable[..., Bot]
) -> None:
    from bot.reader_training import Recipe
    from bot.training import train

    docs = tmp_path / "docs"
    docs.mkdir()
    facts = [
        ("lighthouse", "The lighthouse was built in 1874 by the engineer Ada Brook.",
         "When was the lighthouse built?", "1874"),
        ("bridge", "The bridge is 420 metres long and opened to traffic in 1931.",
         "How long is the bridge?", "420 metres"),
        ("museum", "The museum is located in the old customs house on Quay Street.",
         "Where is the museum located?", "customs house"),
        ("library", "The library holds 80,000 books and was founded by Tom Reyes.",
         "Who founded the library?", "Tom Reyes"),
        ("market", "The market opens at 7 in the morning because fishermen arrive early.",
         "Why does the market open early?", "fishermen arrive early"),
        ("park", "The park has 12 gates and covers 30 hectares of former farmland.",
         "How many gates does the park have?", "12"),
    ]
    cases = []
    for name, text, question, gold in facts:
        (docs / f"{name}.txt").write_text(
            f"{text} Visitors often mention the {name} in guide books.\n", "utf-8")
        cases.append({"id": f"{name}-1", "question": question, "answerable": True,
                      "must_include": [[gold]]})
        cases.append({"id": f"{name}-2", "question": f"Who painted the {name} in 1990?",
                      "answerable": False})
    data = tmp_path / "cases.jsonl"
    data.write_text("".join(json.dumps(c) + "\n" for c in cases), "utf-8")
    settings = Settings(data_dir=tmp_path / "data")
    recipe = Recipe(batch_size=8, max_length=64)
    first = train([(data, docs)], tmp_path / "a" / "model.json", settings, embedder, folds=3,
                  progress=lambda _: None, reader=recipe)
    second = train([(data, docs)], tmp_path / "b" / "model.json", settings, embedder,
                   folds=3, progress=lambda _: None, reader=recipe)
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "model.json").read_bytes() == (b / "model.json").read_bytes()
    assert first["trained_on"] == second["trained_on"]
    assert set(first["validation"]["held_out"]) >= {"gold_in_answer", "aurc"}
    # The answer model is compared with trees on the same held-out folds.
    compared = first["validation"]["answer_models"]
    assert set(compared) == {"logistic", "boosted"}
    assert all(0.0 <= v <= 1.0 for m in compared.values() for v in m.values())
    assert first["validation"]["reader"]["top_k"] == first["rerank"]["top_k"] > 0
    # The reader beside it, made the same way both times, scores the same.
    reader_a, reader_b = Reader(a / "reader-model"), Reader(b / "reader-model")
    texts = [f for _, f, _, _ in facts]
    assert np.array_equal(reader_a.score("How long is the bridge?", texts),
                          reader_b.score("How long is the bridge?", texts))
    assert reader_a.spec["trained_on"] == first["trained_on"]
    model = EvidenceModel.load(a / "model.json")
    assert model.top_k == first["rerank"]["top_k"]

    # Answering with it: the reader rereads the first stage's best candidates, once.
    read: list[list[str]] = []

    class Recording(Reader):
        def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
            read.append(list(texts))
            return super().score(question, texts)

    bot = make_bot()
    bot.ingest([docs])
    bot.extractive.scorer._model = model
    bot.extractive.scorer.reader = Recording(a / "reader-model")
    answer = bot.ask("How many gates does the park have?")
    [texts] = read
    assert 0 < len(texts) <= model.top_k
    assert answer.confidence is not None

    # A model without a rerank stage never reads (this reader has no files to read).
    bot.extractive.scorer._model = EvidenceModel.bundled()
    bot.extractive.scorer.reader = Recording(tmp_path / "no-reader-here")
    if not EvidenceModel.bundled().top_k:
        bot.ask("How many gates does the park have?")
        assert len(read) == 1


def test_the_training_cache_asks_again_only_the_datasets_that_changed(
    tmp_path: Path, embedder: SentenceTransformerEmbeddings
) -> None:
    from bot.training import collect_cached

    specs = []
    for name, fact, question in (
        ("ferry", "The ferry leaves the harbour at 9 every morning.", "When does the ferry leave?"),
        ("mill", "The mill grinds 300 sacks of grain a week.",
         "How much grain does the mill grind?"),
    ):
        docs = tmp_path / name / "docs"
        docs.mkdir(parents=True)
        (docs / f"{name}.txt").write_text(fact + "\n", "utf-8")
        cases = tmp_path / name / "cases.jsonl"
        cases.write_text(json.dumps({"id": f"{name}-1", "question": question,
                                     "answerable": True}) + "\n", "utf-8")
        specs.append((cases, docs))
    settings = Settings(data_dir=tmp_path / "data")
    cache = tmp_path / "cache.pkl"
    said: list[str] = []
    first = collect_cached(specs, settings, embedder, said.append, cache)
    assert not any("from the cache" in m for m in said)
    # One dataset edited: only that one is asked again, the other comes back as it was.
    mill_cases = specs[1][0]
    mill_cases.write_text(mill_cases.read_text("utf-8") + json.dumps(
        {"id": "mill-2", "question": "Who built the mill?", "answerable": False}) + "\n",
        "utf-8")
    said.clear()
    second = collect_cached(specs, settings, embedder, said.append, cache)
    assert [m for m in said if "from the cache" in m] == [
        "ferry/cases.jsonl: 1 questions from the cache"]
    assert [q.case.id for q in second.questions] == ["ferry-1", "mill-1", "mill-2"]
    assert np.array_equal(second.questions[0].rows, first.questions[0].rows)
    assert second.hashes["mill/cases.jsonl"] != first.hashes["mill/cases.jsonl"]
    assert second.hashes["ferry/cases.jsonl"] == first.hashes["ferry/cases.jsonl"]


def _bot_over(make_bot: Callable[..., Bot], path: Path, text: str) -> Bot:
    """A bot with the one document ``text`` at ``path`` ingested."""
    path.write_text(text, "utf-8")
    bot = make_bot()
    bot.ingest([path])
    return bot


def test_how_to_questions_get_the_whole_list_and_answers_emphasise_the_answer(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = _bot_over(make_bot, tmp_path / "kiln.md",
        "# Kiln manual\n\nThe kiln was installed in 1998 by the pottery club.\n\n"
        "## Firing\n\nTo fire a load of pots:\n\n"
        "1. Load the shelves with dry pots only.\n"
        "2. Close the lid and set the controller to program B.\n"
        "3. Start the vent fan before pressing Start.\n"
        "4. Wait until the display reads below 60 degrees before opening.\n",
    )
    steps = bot.ask("How do I fire a load of pots in the kiln?")
    assert not steps.refused, steps.text
    for item in ("Load the shelves", "Close the lid", "vent fan", "below 60 degrees"):
        assert item in steps.text
    assert all(c.quote in c.chunk.text for c in steps.citations)
    year = bot.ask("When was the kiln installed?")
    assert not year.refused, year.text
    assert year.highlights == ["1998"]
    assert "**1998**" in year.as_markdown()
    assert "*1998*" in year.as_slack_blocks()[0]["text"]["text"]


def test_a_row_answer_emphasises_the_column_asked_about(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = _bot_over(make_bot, tmp_path / "kilns.md",
        "# Kilns\n\nThe club owns three kilns.\n\n"
        "| Kiln | Maximum temperature | Shelf count | Installed by |\n|---|---|---|---|\n"
        "| Blue kiln | 1280 C | 4 | Harbour Ceramics |\n"
        "| Red kiln | 1100 C | 2 | the pottery club |\n"
        "| Small kiln | 980 C | 1 | Ada Lunn |\n",
    )
    answer = bot.ask("What is the maximum temperature of the red kiln?")
    assert not answer.refused, answer.text
    assert answer.text.startswith("Kiln: Red kiln; Maximum temperature: 1100 C;")
    assert answer.highlights[0] == "Maximum temperature: 1100 C"
    assert "**Maximum temperature: 1100 C**" in answer.as_markdown()
    row = "Kiln: Small kiln; Maximum temperature: 980 C; Shelf count: 1; Installed by: Ada Lunn"
    # The column the question names; the words naming the row pick no column.
    assert asked_cell("What is the shelf count of the small kiln?", row) == "Shelf count: 1"
    assert asked_cell("Who installed the small kiln?", row) == "Installed by: Ada Lunn"
    assert asked_cell("Who built the small kiln?", row) == ""
    assert asked_cell("What is the shelf count?", "Shelf count: 1 and more.") == ""


def test_a_quote_whose_subject_is_a_pronoun_is_shown_under_its_section_heading(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    def chunk(heading: str) -> Chunk:
        return Chunk(id="c", text="", source="m.md", title="m", start=0, end=0,
                     heading=heading)

    assert section_label(chunk("Checks > glaze_check"), "It detects thick glazes.") \
        == "glaze_check"
    assert section_label(chunk("Checks > glaze_check"), "This check warns.") == "glaze_check"
    # The piece names its subject itself, or has no section: nothing to add.
    assert section_label(chunk("Checks > glaze_check"), "The glaze_check warns.") == ""
    assert section_label(chunk("Checks > glaze check"), "This glaze check warns.") == ""
    # An identifier is not named by the plain words it is made of.
    assert section_label(chunk("Checks > thick_glaze"), "It finds a thick glaze.") \
        == "thick_glaze"
    assert section_label(chunk(""), "It detects thick glazes.") == ""
    assert section_label(chunk("Checks > glaze_check"), "Items are listed.") == ""

    bot = _bot_over(make_bot, tmp_path / "checks.md",
        "# Kiln checks\n\nThe controller runs two checks before every firing.\n\n"
        "## lid_guard\n\nIt stops the kiln when the lid is opened during a firing.\n\n"
        "## shelf_count\n\nIt refuses to start when more than four shelves are loaded.\n",
    )
    answer = bot.ask("What does lid_guard do?")
    assert not answer.refused, answer.text
    assert answer.text.startswith(f"lid_guard{LABEL_JOIN}It stops the kiln"), answer.text
    first = answer.citations[0]
    assert first.label == "lid_guard" and first.quote.startswith("It stops the kiln")
    assert first.quote in first.chunk.text and "lid_guard" not in first.chunk.text


def test_no_piece_runs_across_the_paragraphs_of_a_merged_passage() -> None:
    # The sentence splitter alone reads "U.S." followed by a name as one sentence.
    text = ("Ishiba has called for a more equal alliance with the U.S.\n"
            "Shigeru Ishiba is a politician. Born in 1957, he is a member of the LDP.\n\n"
            "Gulls nest on\nthe roof.")
    assert [p for p, _ in pieces(text)] == [
        "Ishiba has called for a more equal alliance with the U.S.",
        "Shigeru Ishiba is a politician.", "Born in 1957, he is a member of the LDP.",
        "Gulls nest on\nthe roof.",
    ]


def _rows_by_text(bot: Bot, question: str) -> dict[str, np.ndarray]:
    """Each candidate's feature row for ``question``, by the candidate's text."""
    snap = bot.store.snapshot()
    retrieved = bot.retriever.retrieve(question, 5, snap)
    cands, rows = bot.extractive.scorer.candidates(question, retrieved, snap)
    return {c.text: rows[i] for i, c in enumerate(cands)}


def test_features_see_the_heading_and_what_a_piece_adds_to_the_question(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = _bot_over(make_bot, tmp_path / "api.md",
        "# Reference\n\n## The Frobnicator\n\n"
        "Returns the number of widgets as an integer. On Windows it always returns zero.\n\n"
        "## Constants\n\n"
        "- WIDGET_LIMIT constant\n- WIDGET_COUNT constant, the count of widgets made so far\n",
    )
    col = {f: i for i, f in enumerate(CANDIDATE_FEATURES)}

    rows = _rows_by_text(bot, "What does the Frobnicator return on Windows?")
    windows = rows["On Windows it always returns zero."]
    # The name is in the heading the sentence sits under, not in the sentence.
    assert windows[col["names_missing"]] > 0
    assert windows[col["names_missing_ctx"]] == 0
    assert windows[col["lex_heading"]] > 0
    rows = _rows_by_text(bot, "What does the WIDGET_LIMIT constant do?")
    bare = rows["- WIDGET_LIMIT constant"]
    told = rows["- WIDGET_COUNT constant, the count of widgets made so far"]
    # A line made of the question's own words adds nothing; one that says more does.
    assert bare[col["novel"]] == 0 and bare[col["new_terms"]] == 0
    assert told[col["novel"]] > 0.5 and told[col["new_terms"]] > 0


def test_features_see_what_the_question_asks_for_and_the_piece_that_restates_it(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = _bot_over(make_bot, tmp_path / "server.md",
        "# Server\n\n"
        "The browse tool listens for connections from a web browser. "
        "It uses port 8000 unless told otherwise. "
        "Pages are rendered on the fly.\n",
    )
    col = {f: i for i, f in enumerate(CANDIDATE_FEATURES)}
    by_text = _rows_by_text(bot, "Which port does the browse tool listen on?")
    lead = by_text["The browse tool listens for connections from a web browser."]
    port = by_text["It uses port 8000 unless told otherwise."]
    # "port" is what is asked for: the piece naming it has it, the lead-in does not.
    assert port[col["head_asked"]] == lead[col["head_asked"]] == 1
    assert port[col["head"]] == 1 and lead[col["head"]] == 0
    # The lead-in restates the question best, and it is the piece right before the answer.
    assert lead[col["lex_rel"]] == 0 > port[col["lex_rel"]]
    assert port[col["lex_prev_rel"]] == 0 > lead[col["lex_prev_rel"]]
    # Read with its lead-in, the answer is nearer the question than alone.
    assert port[col["cos_ctx"]] > port[col["cos"]]


def test_document_questions_get_the_weight_share_asked_for() -> None:
    from bot.evals.datasets import Case
    from bot.training import Question, document_weights

    def question(source: str) -> Question:
        case = Case(id="q", question="q", answerable=True, gold_source=source)
        return Question("g", True, np.zeros((1, 1)), np.zeros(1, dtype=np.int8), [], [],
                        (0.0, 0.0), case)

    questions = [question("squad-1.txt")] * 9 + [question("")] * 3
    assert document_weights(questions, None).tolist() == [1.0] * 12
    weights = document_weights(questions, 0.25)
    docs = weights[9:].sum()
    assert docs / weights.sum() == pytest.approx(0.25) and weights[0] == 1.0
    # Only one kind of question: nothing to balance.
    assert document_weights(questions[9:], 0.25).tolist() == [1.0] * 3


def test_the_figure_a_question_asks_for_is_learnt_from_the_answers_by_asked_noun() -> None:
    numeric = {"heads": {"version": [8, 10], "color": [0, 6]}, "prior": 0.25, "weight": 1.0}
    version = numeric_expectation("Since which Rust version is the lint on?", numeric)
    assert version == pytest.approx((8 + 0.25) / 11)
    assert numeric_expectation("Which color is the flag?", numeric) == pytest.approx(0.25 / 7)
    # A noun never seen has the prior; a question asking for no noun, nothing.
    assert numeric_expectation("Which port does it use?", numeric) == pytest.approx(0.25)
    assert numeric_expectation("When was it released?", numeric) == 0.0
    # A training question's own answer is left out of its noun's counts.
    own = numeric_expectation("Which version added it?", numeric, own=(1, 1))
    assert own == pytest.approx((7 + 0.25) / 10)
    rows = numeric_columns("Which version replaced 1.2?", [
        "Version 1.3 replaced it.", "It replaced version 1.2.", "No figure here.",
        "The sha256 module replaced it."], version, {})
    # A digit inside a name ("sha256") is no figure.
    assert rows[:, 1].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert rows[:, 2].tolist() == pytest.approx([0.0, version, version, version])
    assert rows[:, 3].tolist() == [0.0] * 4


def test_figures_are_told_apart_by_shape() -> None:
    shapes = {w: figure_shape(w) for w in words("in 1999 version 3.4.4 of 256 or 1,000 "
                                                 "at 12% the sha256")}
    assert shapes == {"in": None, "1999": "year", "version": None, "3.4.4": "dotted",
                      "of": None, "256": "whole", "or": None, "1,000": "whole",
                      "at": None, "12%": "percent", "the": None, "sha256": None}
    assert answer_shape("Since Ninja 1.11, in 2022") == "dotted"
    assert answer_shape("No figure") is None


def test_a_figure_of_the_shape_the_asked_noun_takes_is_told_from_another() -> None:
    question = "Which release added the -t flag?"
    noun = asked_noun(question)
    numeric = {"heads": {noun: [9, 10]}, "prior": 0.3, "weight": 1.0,
               "shapes": {noun: {"dotted": 8, "whole": 1}},
               "shape_prior": {"dotted": 0.2, "whole": 0.5, "year": 0.3},
               "shape_weight": 2.0}
    shares = shape_shares(question, numeric)
    assert shares["dotted"] == pytest.approx((8 + 0.4) / 11)
    assert shares["year"] == pytest.approx(0.6 / 11)
    assert sum(shares.values()) == pytest.approx(1.0)
    # A training question's own answer is left out of the counts; no asked noun, no shares.
    assert shape_shares(question, numeric, own="dotted")["dotted"] == pytest.approx(7.4 / 10)
    assert shape_shares("When was it released?", numeric) == {}
    expect = numeric_expectation(question, numeric)
    rows = numeric_columns(question, ["Added in 1.11.", "Added with 32K buffers.",
                                      "Added late."], expect, shares)
    assert rows[:, 1].tolist() == [1.0, 1.0, 0.0]
    assert rows[0, 3] == pytest.approx(expect * (1 - shares["dotted"]))
    assert rows[1, 3] == pytest.approx(expect * (1 - shares["whole"]))
    assert rows[0, 3] < rows[1, 3] and rows[2, 3] == 0.0


def test_the_shapes_of_the_asked_nouns_figures_are_counted_from_the_answers() -> None:
    from bot.evals.datasets import Case
    from bot.training import Question, fit_numeric

    def question(text: str, answer: str, answerable: bool = True) -> Question:
        case = Case(id="q", question=text, answerable=answerable,
                    gold_answers=(answer,) if answer else ())
        return Question("g", answerable, np.zeros((1, 1)), np.zeros(1, dtype=np.int8), [],
                        [], (0.0, 0.0), case)

    questions = [question("Which release added it?", a) for a in ("1.11", "3.3", "2019")]
    questions += [question("Which colour is the flag?", a) for a in ("red", "blue")]
    # Unanswerable questions, and those asking for no noun, are not counted.
    questions += [question("Which release removed it?", "", answerable=False),
                  question("When was it added?", "2020")]
    numeric, report = fit_numeric(questions)
    release, colour = asked_noun("Which release?"), asked_noun("Which colour?")
    assert numeric["heads"] == {colour: [0, 2], release: [3, 3]}
    assert numeric["shapes"] == {release: {"dotted": 2, "year": 1}}
    assert numeric["shape_prior"] == pytest.approx({"dotted": 2 / 3, "year": 1 / 3})
    assert numeric["prior"] == pytest.approx(0.6)
    assert report["figure_answers"] == 3 and numeric["shape_weight"] in (0.5, 1.0, 2.0, 4.0,
                                                                         8.0, 16.0)
    # Answers without a single figure leave no shapes to learn, and no shares to give.
    numeric, report = fit_numeric([question("Which colour is the flag?", "red")] * 2)
    assert numeric["shape_prior"] == {} and report["figure_answers"] == 0
    assert shape_shares("Which colour is the flag?", numeric) == {}


def test_the_composition_counts_each_kind_of_text_once() -> None:
    from bot.evals.datasets import Case
    from bot.training import Question, choose_composition, first_stage

    chunk = Chunk(id="c", text="", source="s", title="s", start=0, end=0)

    def question(source: str, words: int, second_right: bool) -> Question:
        case = Case(id="q", question="q", answerable=True, gold_source=source)
        quotes = [" ".join(["w"] * words)] * 2
        cands = [Candidate(rank=0, chunk=chunk, index=i, text=quotes[0]) for i in (0, 3)]
        return Question("g", True, np.zeros((2, len(CANDIDATE_FEATURES))),
                        np.zeros(2, dtype=np.int8), quotes, [not second_right, second_right],
                        (0.0, 0.0), case, cands=cands, after_correct=[False, False])

    # Nine SQuAD questions answered by their best piece alone, in 30 words, and one document
    # question answered only by its second piece, in 5 words a piece. Quoting both makes
    # the SQuAD answers 60 words long: too long if every question counted the same, short
    # enough when each kind of text counts once.
    questions = [question("squad.txt", 30, False)] * 9 + [question("", 5, True)]
    ranked = first_stage([np.asarray([0.6, 0.5])] * len(questions))
    ratio, _, table = choose_composition(questions, ranked, np.zeros(len(questions)))
    assert ratio <= 0.8 and table[f"{ratio:.2f}/2.00"]["right"] == 1.0
    assert table["1.01/2.00"] == {"right": 0.5, "mean_words": 17.5}
    # SQuAD alone: the second piece would only lengthen its answers.
    ratio, _, _ = choose_composition(questions[:9], ranked[:9], np.zeros(9))
    assert ratio == 1.01


def test_the_answer_row_sees_how_the_probability_spreads_over_the_best_pieces() -> None:
    rows = np.zeros((7, len(CANDIDATE_FEATURES)), dtype=np.float32)
    col = ANSWER_FEATURES.index("p_top5")
    peaked = answer_features(np.asarray([0.6, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0]), rows,
                             (0.0, 0.0), np.zeros(0))
    spread = answer_features(np.asarray([0.6, 0.5, 0.5, 0.4, 0.4, 0.3, 0.3]), rows,
                             (0.0, 0.0), np.zeros(0))
    assert peaked[col] == pytest.approx(0.7)
    # Only the five best count.
    assert spread[col] == pytest.approx(2.4)
