"""The eval harness: metrics on hand-built cases, dataset loading, gates, the ``bot eval``
command with all three reports, and the LLM-judge tier against a local endpoint."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot import citations
from bot.cli import app
from bot.embeddings import SentenceTransformerEmbeddings
from bot.evals import gate, harness, judge, metrics
from bot.evals.datasets import Case, DatasetError, load_dataset, load_jsonl, load_squad
from bot.grounding import support
from bot.models import LABEL_JOIN, Answer, Chunk, Citation, Scored
from bot.settings import PROJECT_DIR, Settings
from tests.conftest import CORPUS
from tests.openai_server import Messages, OpenAIServer

SEED = PROJECT_DIR / "evals" / "datasets" / "seed.jsonl"
THRESHOLDS = PROJECT_DIR / "evals" / "thresholds.toml"


# ----- metrics on hand-built cases --------------------------------------------------------

def test_squad_normalisation_and_scores() -> None:
    normal = metrics.squad_normalize("The  Norman-conquest, of England!")
    assert normal == "normanconquest of england"
    assert metrics.squad_exact("the Normans", "Normans.") == 1.0
    # gold "10th and 11th centuries" vs "in the 10th century": 1 shared token of 4 and 3.
    f1 = metrics.squad_f1("10th and 11th centuries", "in the 10th century")
    assert f1 == pytest.approx(2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))
    assert metrics.squad_scores([], "") == (1.0, 1.0)  # no answer, and none given
    assert metrics.squad_scores([], "Paris") == (0.0, 0.0)
    assert metrics.squad_scores(["France", "in France"], "in France") == (1.0, 1.0)
    assert metrics.gold_in_answer(["Denmark, Iceland and Norway"],
                                  "They came from Denmark, Iceland and Norway [1].") == 1.0
    assert metrics.gold_in_answer(["Iceland"], "Icelandic sagas [1]") == 0.0
    assert metrics.gold_in_answer([], "anything") is None


def test_must_include_groups_and_alternatives() -> None:
    groups = [["1957"], ["Tokyo", "Tōkyō"]]
    assert metrics.must_include(groups, "Born in 1957 in TOKYO.") == 1.0
    assert metrics.must_include(groups, "Born in 1957 in Osaka.") == 0.0
    assert metrics.must_include([], "x") is None


def test_claims_attach_markers_to_their_sentences() -> None:
    text = ("Ishiba was born in 1957 [1]. He studied at Waseda [2][3]. Ishiba is a "
            "politician. He was minister in 2012. [1] Uncited.")
    assert citations.claims(text) == [
        ("Ishiba was born in 1957.", [1]), ("He studied at Waseda.", [2, 3]),
        ("Ishiba is a politician.", [1]), ("He was minister in 2012.", [1]),
        ("Uncited.", []),
    ]
    plain = citations.strip(text)
    assert plain == ("Ishiba was born in 1957. He studied at Waseda. Ishiba is a politician. "
                     "He was minister in 2012. Uncited.")


def test_citation_scores_in_the_alce_sense() -> None:
    cited = {
        1: "Shigeru Ishiba was born on February 3, 1957, in Tokyo.",
        2: "Ishiba graduated from Waseda University.",
        3: "The alliance was formed in 1951.",
    }
    scorer = lambda s, c: support(s, c).supported  # noqa: E731
    # Sentence 1: supported by [1]; [3] is superfluous. Sentence 2: [2] supports it.
    # Sentence 3 cites a marker that resolves to nothing. Sentence 4 cites nothing.
    answer = ("Shigeru Ishiba was born on February 3, 1957 [1][3]. Ishiba graduated from "
              "Waseda University [2]. The treaty was signed in 1960 [9]. Nothing cited here.")
    s = metrics.citation_scores(answer, cited, scorer)
    assert (s.sentences, s.supported_sentences) == (4, 2)
    assert (s.markers, s.valid_markers) == (4, 3)
    assert (s.citations, s.precise_citations) == (4, 2)


def test_percentile_and_unmeasured_never_nan() -> None:
    assert metrics.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert metrics.percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert metrics.percentile([], 50) is None
    summary = metrics.mean([1.0, None, 0.0, math.nan])
    assert (summary.value, summary.measured, summary.unmeasured) == (0.5, 2, 2)
    empty = metrics.mean([None, None])
    assert empty.value is None and empty.as_dict()["value"] is None
    assert metrics.ratio([(1, 2), None, (3, 4), (0, 0)]) == metrics.Summary(4 / 6, 2, 2)


def _chunk(cid: str, text: str, source: str = "/docs/a.txt") -> Chunk:
    return Chunk(cid, text, source, "a", 0, len(text))


def test_score_case_retrieval_refusal_and_citations() -> None:
    gold = _chunk("g", "Formed in 1951, the US-Japan Security Treaty has been a cornerstone.")
    other = _chunk("o", "Japan has committed to doubling its defense spending.")
    ranked = [other, _chunk("x", "Unrelated text about trade."), gold]
    case = Case("c1", "When was the treaty formed?", True, must_include=(("1951",),),
                evidence=("Formed in 1951, the US-Japan Security Treaty",))
    answer = Answer(
        question=case.question, standalone_question=case.question,
        text=f"{gold.text} [1]", refused=False, citations=[Citation(1, gold, gold.text)],
        retrieved=[Scored(c, 1.0 / (i + 1)) for i, c in enumerate(ranked)], latency_s=0.5,
    )
    result = harness.score_case(case, "hybrid/extractive", answer, ranked, support)
    got = result.metrics
    assert (got["hit@1"], got["hit@5"], got["mrr"]) == (0.0, 1.0, pytest.approx(1 / 3))
    assert got["evidence_recall"] == 1.0 and got["must_include"] == 1.0
    assert got["false_refusal"] == 0.0 and got["correct_refusal"] is None
    assert got["support_independent"] == 1.0 and got["citation_validity"] == 1.0
    assert got["quote_exact"] == 1.0 and got["runtime_support"] == 1.0
    assert got["squad_em"] is None
    assert result.passed
    # No confidence from the answerer: an answer stands for confidence 1.
    assert (result.confidence, result.confidence_estimated, result.loss) == (1.0, False, 0.0)

    unanswerable = Case("c2", "Who won in 2024?", False)
    answered = harness.score_case(unanswerable, "h", answer, ranked, support)
    assert answered.metrics["correct_refusal"] == 0.0 and not answered.passed
    assert answered.metrics["hit@1"] is None  # no gold passage to find
    assert answered.loss == 1.0  # answering an unanswerable case is wrong


def test_quote_exact_fails_paraphrase_wrong_passage_and_uncited_text() -> None:
    gold = "Formed in 1951, the US-Japan Security Treaty has been a cornerstone of regional\n" \
           "stability. It was revised in 1960."
    other = "Japan has committed to doubling its defense spending."
    quote = "Formed in 1951, the US-Japan Security Treaty has been a cornerstone of regional " \
            "stability."
    cites = [(1, quote, gold), (2, other, other)]
    assert metrics.quote_exact(f"{quote} [1] {other} [2]", cites) == (4, 4)
    # A changed figure, a paraphrase, a sentence citing the wrong passage, an uncited one.
    swapped = quote.replace("1951", "1952")
    assert metrics.quote_exact(f"{swapped} [1]", [(1, swapped, gold)]) == (0, 2)
    assert metrics.quote_exact(f"{quote} [1]", [(1, quote, gold)]) == (2, 2)
    assert metrics.quote_exact("The treaty dates from 1951 [1].", [(1, quote, gold)]) == (0, 2)
    assert metrics.quote_exact(f"{quote} [2]", [(2, quote, other)]) == (0, 2)
    assert metrics.quote_exact(f"{quote} [1] It was revised in 1960.",
                               [(1, quote, gold)]) == (2, 3)


def test_section_labels_are_checked_as_headings_and_left_out_of_the_quote_checks() -> None:
    text = "It detects glazes that are too thick."
    answer = f"glaze_check{LABEL_JOIN}{text} [1]"
    quoted, ok = metrics.without_labels(answer, [("glaze_check", "Checks > glaze_check")])
    assert ok and quoted == f"{text} [1]"
    assert metrics.quote_exact(quoted, [(1, text, text)]) == (2, 2)
    # A label naming no heading of the cited passage, or missing from the answer, fails.
    assert not metrics.without_labels(answer, [("glaze_check", "Checks > kiln_guard")])[1]
    assert not metrics.without_labels(f"{text} [1]", [("glaze_check", "glaze_check")])[1]
    # Without the label taken out, the labelled sentence is not verbatim in the passage.
    assert metrics.quote_exact(answer, [(1, text, text)]) == (1, 2)


def test_evidence_is_found_whatever_markup_or_spacing_it_was_copied_with() -> None:
    passage = ("The command variable is passed directly to sh -c, which parses it. Any file "
               "can be decompressed; its nice value is -14 on Linux.")
    assert metrics.contains_quote(passage, "passed directly to sh -c , which parses it.")
    assert metrics.contains_quote(passage, "Any \ufb01le can be decompressed")
    assert metrics.contains_quote(passage, "nice value is <code>-14</code> on Linux")
    # Folding forgives the copy, not the words: another figure is another sentence.
    assert not metrics.contains_quote(passage, "nice value is <code>-15</code> on Linux")
    assert not metrics.contains_quote(passage, "passed directly to sh -x, which")


def test_risk_coverage_curve_and_area() -> None:
    # Confidence 0.9: right; 0.8: wrong; 0.5 (twice, tied): one right, one wrong.
    points, area = metrics.risk_coverage([(0.5, 1.0), (0.9, 0.0), (0.8, 1.0), (0.5, 0.0)])
    assert [(p["threshold"], p["coverage"], p["risk"]) for p in points] == [
        (0.9, 0.25, 0.0), (0.8, 0.5, 0.5), (0.5, 1.0, 0.5)]
    assert area == pytest.approx(0.25 * 0.0 + 0.25 * 0.5 + 0.5 * 0.5)
    # Confidence that ranks the wrong answers last does better than one that does not.
    good = metrics.risk_coverage([(0.9, 0.0), (0.8, 0.0), (0.2, 1.0)])[1]
    bad = metrics.risk_coverage([(0.9, 1.0), (0.8, 0.0), (0.2, 0.0)])[1]
    assert good < bad
    assert metrics.risk_coverage([]) == ([], 0.0)


def test_risk_uses_the_answers_confidence_and_each_case_correctness() -> None:
    passage = _chunk("p", "Shigeru Ishiba was born on February 3, 1957.")
    case = Case("b", "When was Ishiba born?", True, must_include=(("1957",),))

    def ask(text: str, refused: bool, confidence: float | None) -> harness.CaseResult:
        answer = Answer(question=case.question, standalone_question=case.question,
                        text=text, refused=refused, confidence=confidence,
                        citations=[] if refused else [Citation(1, passage, passage.text)])
        return harness.score_case(case, "h", answer, [passage], support)

    right = ask(f"{passage.text} [1]", False, 0.8)
    assert (right.confidence, right.confidence_estimated, right.loss) == (0.8, True, 0.0)
    refused = ask("I can't answer that from the documents.", True, None)
    assert (refused.confidence, refused.loss) == (0.0, 1.0)
    assert refused.metrics["refusal_precision"] == 0.0
    curve = harness.risk_coverage([right, refused])
    assert curve["aurc"] == pytest.approx(0.5 * 0.0 + 0.5 * 0.5)
    assert curve["aurc_optimal"] == pytest.approx(0.25)
    assert curve["confidence_estimated"] == 1 and curve["cases"] == 2
    summary = harness.summarize([right, refused])
    assert summary["aurc"].value == pytest.approx(0.25)
    # A SQuAD case is judged by gold_in_answer; one with no measure of correctness is
    # left out of the curve rather than guessed.
    squad = Case("s", "When?", True, gold_answers=("1957",), gold_source=passage.source)
    assert harness._loss(squad, {"gold_in_answer": 1.0}) == 0.0
    assert harness._loss(Case("n", "Why?", True), {}) is None


def test_squad_case_counts_a_refusal_as_the_empty_answer() -> None:
    case = Case("q", "Where?", False, gold_source="/docs/p.txt")
    refused = Answer(question="Where?", standalone_question="Where?",
                     text="I can't answer that from the documents.", refused=True)
    result = harness.score_case(case, "h", refused, [], support)
    assert result.metrics["squad_em"] == 1.0 and result.metrics["correct_refusal"] == 1.0
    assert result.metrics["support_independent"] is None
    assert result.metrics["refusal_precision"] == 1.0


# ----- datasets and gates -----------------------------------------------------------------

def test_seed_set_covers_what_the_issue_asks() -> None:
    cases = load_jsonl(SEED)
    assert len(cases) >= 40
    assert any(c.history for c in cases)
    assert sum(not c.answerable for c in cases) >= 8
    questions = " ".join(c.question for c in cases)
    assert "Soeya" in questions and "Suga" in questions
    assert re.search(r"(?i)ignore your instructions", questions)
    text = CORPUS.joinpath("us-japan-alliance.txt").read_text("utf-8")
    for case in cases:
        for quote in case.evidence:
            assert metrics.contains_quote(text, quote), (case.id, quote)


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "Q?", "answerable": true}\n{"id": "b"}\n')
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: 'question' is required"):
        load_jsonl(bad)
    bad.write_text('{"id": "a", "question": "Q?", "answerable": true, "must_include": [[1]]}\n')
    with pytest.raises(DatasetError, match="must_include"):
        load_jsonl(bad)
    with pytest.raises(DatasetError, match="needs --corpus"):
        load_dataset(SEED, [], tmp_path)


def test_a_set_in_its_own_folder_is_named_after_it(tmp_path: Path) -> None:
    folder = tmp_path / "faq-set"
    (folder / "docs").mkdir(parents=True)
    (folder / "cases.jsonl").write_text('{"id": "a", "question": "Q?", "answerable": false}\n')
    data = load_dataset(folder / "cases.jsonl", [folder / "docs"], tmp_path / "x")
    assert data.name == "faq-set"
    assert load_dataset(SEED, [CORPUS], tmp_path / "y").name == "seed"


def _squad_file(path: Path) -> Path:
    def para(context: str, qas: list[tuple[str, str | None]]) -> dict[str, Any]:
        return {"context": context, "qas": [
            {"id": f"{q[:12]}", "question": q, "is_impossible": a is None,
             "answers": [] if a is None else [{"text": a, "answer_start": context.index(a)}]}
            for q, a in qas]}

    data = {"version": "v2.0", "data": [
        {"title": "Lighthouses", "paragraphs": [
            para("The Bell Rock Lighthouse was built between 1807 and 1810 by Robert "
                 "Stevenson. It stands off the coast of Angus, Scotland.",
                 [("Who built the Bell Rock Lighthouse?", "Robert Stevenson"),
                  ("Who painted the Bell Rock Lighthouse?", None)]),
            para("The Eddystone Lighthouse was rebuilt four times. John Smeaton designed "
                 "the third tower, completed in 1759.",
                 [("When was Smeaton's tower completed?", "1759")]),
        ]},
        {"title": "Glaciers", "paragraphs": [
            para("The Aletsch Glacier is the largest glacier in the Alps. It covers about "
                 "81 square kilometres in the Swiss canton of Valais.",
                 [("How large is the Aletsch Glacier?", "about 81 square kilometres")]),
        ]},
    ]}
    path.write_text(json.dumps(data))
    return path


def test_squad_loader_is_open_corpus_and_samples_reproducibly(tmp_path: Path) -> None:
    path = _squad_file(tmp_path / "tiny.json")
    full = load_squad(path, tmp_path / "docs")
    assert len(full.cases) == 4 and full.total_cases == 4
    assert len(list((tmp_path / "docs").glob("*.txt"))) == 3
    impossible = [c for c in full.cases if not c.answerable]
    assert len(impossible) == 1 and impossible[0].gold_answers == ()
    built = next(c for c in full.cases if c.question.startswith("Who built"))
    assert built.evidence == ("The Bell Rock Lighthouse was built between 1807 and 1810 by "
                              "Robert Stevenson.",)
    a = load_squad(path, tmp_path / "d1", limit=2, seed=7)
    b = load_squad(path, tmp_path / "d2", limit=2, seed=7)
    assert [c.id for c in a.cases] == [c.id for c in b.cases] and len(a.cases) == 2


def test_bars_and_thresholds(tmp_path: Path) -> None:
    assert gate.parse_bar("hit@5=0.9") == gate.Bar("hit@5", 0.9, True)
    for wrong, message in [("hit@5", "METRIC=VALUE"), ("nope=1", "unknown metric"),
                           ("mrr=abc", "not a number"), ("false_refusal=0.1", "--fail-over")]:
        with pytest.raises(ValueError, match=message):
            gate.parse_bar(wrong)
    summaries = {"col": {"hit@5": metrics.Summary(0.8, 10, 0),
                         "false_refusal": metrics.Summary(0.3, 10, 0),
                         "mrr": metrics.Summary(None, 0, 10)}}
    bars = [gate.Bar("hit@5", 0.9), gate.Bar("false_refusal", 0.2, floor=False),
            gate.Bar("mrr", 0.1)]
    misses = gate.check(bars, summaries)
    assert len(misses) == 3 and "not measured" in misses[2]
    assert gate.check([gate.Bar("hit@5", 0.8)], summaries) == []
    toml = tmp_path / "t.toml"
    toml.write_text('[seed.min]\n"hit@5" = 0.5\n[seed.max]\nfalse_refusal = 0.2\n')
    assert gate.load_thresholds(toml, "seed") == [
        gate.Bar("hit@5", 0.5), gate.Bar("false_refusal", 0.2, floor=False)]
    assert gate.load_thresholds(toml, "other") == []
    committed = gate.load_thresholds(THRESHOLDS, "seed")
    assert {b.metric for b in committed} >= {"hit@5", "must_include", "correct_refusal",
                                              "false_refusal", "quote_exact",
                                              "support_independent"}
    # Nothing in the committed bars is the runtime scorer grading its own filter.
    for dataset in ("seed", "squad2-open"):
        assert "runtime_support" not in {b.metric for b in gate.load_thresholds(THRESHOLDS,
                                                                                   dataset)}
    # The judge's figures can be gated; unmeasured (no --judge) they miss the bar.
    judged = gate.parse_bar("judge_faithfulness=0.9")
    assert gate.check([judged], summaries) == ["col: judge_faithfulness was not measured on "
                                               "any case"]


def _one_figure_more(text: str) -> str:
    # The first figure of the text, plus one; citation markers are left alone.
    return re.sub(r"(?<!\[)\b\d+\b(?!\])", lambda m: str(int(m.group(0)) + 1), text, count=1)


def test_gate_fails_an_answerer_that_changes_a_figure(
    monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbeddings, tmp_path: Path
) -> None:
    """The committed seed bars pass the real answerer and fail one that quotes a passage
    with one number changed, as a paraphrasing answerer might."""
    real_build = harness.build_bot

    def gate_misses(broken: bool) -> list[str]:
        def build(settings: Settings, **kwargs: Any) -> Any:
            bot = real_build(settings, **kwargs)
            if broken:
                answer = bot.extractive.answer

                def changed(*args: Any, **kw: Any) -> Any:
                    draft = answer(*args, **kw)
                    return dataclasses.replace(draft, text=_one_figure_more(draft.text))

                bot.extractive.answer = changed  # type: ignore[method-assign]
            return bot

        monkeypatch.setattr(harness, "build_bot", build)
        settings = Settings(data_dir=tmp_path / "data")
        data = load_dataset(SEED, [CORPUS], tmp_path / f"docs-{broken}")
        run = harness.run(data, settings, harness.parse_columns(None, None, settings), embedder)
        return gate.check(gate.load_thresholds(THRESHOLDS, "seed"), run.summaries)

    assert _one_figure_more("In 1957 [1], 12 [2].") == "In 1958 [1], 12 [2]."
    assert gate_misses(broken=False) == []
    misses = gate_misses(broken=True)
    assert any("quote_exact" in miss for miss in misses), misses
    assert any("support_independent" in miss for miss in misses), misses


# ----- the command ------------------------------------------------------------------------

@pytest.fixture
def shared_model(monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbeddings) -> None:
    """``bot eval`` in-process reuses the session's model instead of loading a second copy."""
    monkeypatch.setattr("bot.embeddings.build_embedder", lambda settings: embedder)


def test_bot_eval_seed_writes_all_reports_and_is_deterministic(
    tmp_path: Path, shared_model: None
) -> None:
    runner = CliRunner()
    args = ["eval", str(SEED), "--corpus", str(CORPUS), "--limit", "12", "--seed", "3",
            "--retrieval", "hybrid,lexical", "--thresholds", str(THRESHOLDS)]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert first.exit_code in (0, 1), first.output
    # Terminal table: one row per metric, one column per configuration.
    assert re.search(r"^hit@5\s+\S+.*\s+\S+", first.output, re.MULTILINE)
    assert "hybrid/extractive" in first.output and "lexical/extractive" in first.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["columns"] == ["hybrid/extractive", "lexical/extractive"]
    assert len(report["cases"]) == 24
    case = report["cases"][0]
    assert {"question", "standalone_question", "answer", "refused", "citations",
            "retrieved"} <= set(case["answer"])
    assert set(case["metrics"]) == set(metrics.METRICS)
    assert "NaN" not in (tmp_path / "a" / "report.json").read_text()
    page = (tmp_path / "a" / "report.html").read_text()
    assert "data:image/png;base64," in page and "<script" not in page
    rows = re.findall(r"<tr class=(pass|fail)>", page)
    assert rows == sorted(rows, key=lambda r: r == "pass")  # failures first

    second = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    again = json.loads((tmp_path / "b" / "report.json").read_text())
    for name in report["summary"]:
        for key, value in report["summary"][name].items():
            if not key.startswith("latency"):
                assert again["summary"][name][key] == value, (name, key)
    assert second.exit_code == first.exit_code


def test_bot_eval_fail_under_exits_non_zero(tmp_path: Path, shared_model: None) -> None:
    result = CliRunner().invoke(app, [
        "eval", str(SEED), "--corpus", str(CORPUS), "--limit", "4",
        "--out", str(tmp_path), "--fail-under", "hit@5=1.01", "--fail-under", "mrr=0",
    ])
    assert result.exit_code == 1
    assert "hit@5" in result.output and "below 1.01" in result.output
    assert (tmp_path / "report.json").is_file()


def test_bot_eval_rejects_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_bar = runner.invoke(app, ["eval", str(SEED), "--corpus", str(CORPUS),
                                  "--fail-under", "precision=0.5"])
    assert bad_bar.exit_code == 2 and "unknown metric" in bad_bar.output
    missing = runner.invoke(app, ["eval", str(tmp_path / "none.jsonl"), "--corpus", "x"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    mode = runner.invoke(app, ["eval", str(SEED), "--corpus", str(CORPUS),
                               "--retrieval", "sparse"])
    assert mode.exit_code == 2 and "unknown retrieval mode" in mode.output
    judge_off = runner.invoke(app, ["eval", str(SEED), "--corpus", str(CORPUS), "--judge"])
    assert judge_off.exit_code == 2 and "OPENAI_BASE_URL" in judge_off.output


def test_bot_eval_squad_open_corpus(tmp_path: Path, shared_model: None) -> None:
    squad = _squad_file(tmp_path / "tiny.json")
    result = CliRunner().invoke(app, ["eval", str(squad), "--out", str(tmp_path / "r"),
                                      "--fail-under", "hit@5=0.99"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    summary = report["summary"]["hybrid/extractive"]
    assert summary["hit@5"]["measured"] == 3 and summary["hit@5"]["unmeasured"] == 1
    assert summary["squad_f1"]["measured"] == 4
    assert summary["gold_in_answer"]["value"] is not None


# ----- LLM judge --------------------------------------------------------------------------

def _judge_reply(messages: Messages) -> str:
    system, user = messages[0]["content"], messages[-1]["content"]
    if system.startswith("Split the answer"):
        answer = user.split("Answer:", 1)[1]
        claims = [citations.strip(s) for s, _ in citations.claims(answer)]
        return json.dumps({"claims": [*claims, "The moon is made of cheese."]})
    if system.startswith("Decide whether"):
        passages, claim = user.split("\n\nClaim: ", 1)
        found = claim.rstrip(".").lower() in passages.lower()
        return json.dumps({"verdict": "supported" if found else "unsupported"})
    return 'Sure: {"score": 5}'


def test_judge_tier_against_a_local_endpoint(
    tmp_path: Path, embedder: SentenceTransformerEmbeddings, openai_server: OpenAIServer
) -> None:
    openai_server.reply = _judge_reply
    settings = Settings(data_dir=tmp_path / "d", OPENAI_BASE_URL=openai_server.base_url)
    data = load_dataset(SEED, [CORPUS], tmp_path, limit=6, seed=1)
    run = harness.run(data, settings, harness.parse_columns(None, None, settings), embedder)
    answered = [r for r in run.results["hybrid/extractive"]
                if r.answer and not r.answer["refused"]]
    assert answered
    before = len(openai_server.requests)
    out = judge.judge_run(run, judge.endpoint(settings), repeats=2)
    stats = out["hybrid/extractive"]
    # The judge's mean enters the summaries, where a bar can hold it.
    faith = run.summaries["hybrid/extractive"]["judge_faithfulness"]
    assert faith.value == stats["faithfulness"]["mean"] and faith.measured == len(answered)
    assert gate.check([gate.Bar("judge_faithfulness", 0.99)], run.summaries)
    assert not gate.check([gate.Bar("judge_faithfulness", 0.4)], run.summaries)
    # Every quoted claim is supported; the planted cheese claim is not.
    assert 0.4 < stats["faithfulness"]["mean"] < 1.0
    assert stats["relevance"]["mean"] == 1.0
    assert stats["faithfulness"]["spread"] == 0.0 and len(stats["faithfulness"]["runs"]) == 2
    assert len(openai_server.requests) > before + 2 * 3 * len(answered) - 1

    openai_server.mode = "error"
    with pytest.raises(judge.JudgeError, match="judge endpoint failed"):
        judge.judge_run(run, judge.endpoint(settings), repeats=1)


def test_bot_eval_judge_flag_reports_mean_and_spread(
    tmp_path: Path, shared_model: None, openai_server: OpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openai_server.reply = _judge_reply
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "user-data"))
    result = CliRunner().invoke(app, ["eval", str(SEED), "--corpus", str(CORPUS), "--limit",
                                      "3", "--judge", "--judge-repeats", "2",
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert re.search(r"judge_faithfulness\s+\d\.\d{3} ±\d\.\d{3}", result.output)
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["judge"]["repeats"] == 2
    # The user's store was never touched: the run used a temporary one.
    assert not (tmp_path / "user-data").exists()
