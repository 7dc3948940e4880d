"""Groundedness checkers, measured on controls written by hand apart from them: the runtime
support scorer (``bot/grounding.py``) and the independent checker of the evals
(``bot/evals/independent.py``)."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from bot.embeddings import SentenceTransformerEmbeddings
from bot.evals import independent
from bot.evals.controls import CONTROLS_DIR, load_controls, measure
from bot.grounding import critical_terms, support
from bot.settings import PROJECT_DIR
from tests.conftest import CORPUS

PASSAGE = (
    "Some experts, like Yoshihide Soeya, professor emeritus at Keio University, envision a "
    "new security paradigm. This would allow Japan to keep its influence. Yoshihide Suga is "
    "a Japanese politician who served as the Prime Minister of Japan from September 2020 to "
    "October 2021. Born on June 29, 1945, in Osaka Prefecture, he graduated from the "
    "University of Tokyo."
)


def squad_file() -> Path | None:
    """The SQuAD 2.0 dev file: ``$BOT_EVAL_SQUAD``, else the shared datasets folder next to
    the project (the places scripts/test.sh looks); None when neither has it."""
    for candidate in (os.environ.get("BOT_EVAL_SQUAD", ""),
                      PROJECT_DIR.parent / "shared/datasets/squad2-dev-split/squad2-open.json"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def test_quoted_sentence_is_supported() -> None:
    verdict = support("Born on June 29, 1945, in Osaka Prefecture, he graduated from the "
                      "University of Tokyo.", [PASSAGE])
    assert verdict.supported and verdict.score == 1.0


def test_person_from_elsewhere_in_the_passage_is_flagged() -> None:
    verdict = support("Yoshihide Soeya served as the Prime Minister of Japan from "
                      "September 2020 to October 2021.", [PASSAGE])
    assert not verdict.supported
    assert "soeya" in verdict.reason


def test_swapped_year_is_flagged_with_the_term_named() -> None:
    verdict = support("Born on June 29, 1954, in Osaka Prefecture, he graduated from the "
                      "University of Tokyo.", [PASSAGE])
    assert not verdict.supported
    assert "1954" in verdict.reason


def test_name_and_fact_from_adjacent_sentences_are_supported() -> None:
    verdict = support("Yoshihide Suga was born on June 29, 1945, in Osaka Prefecture.",
                      [PASSAGE])
    assert verdict.supported, verdict.reason


def test_added_clause_and_missing_citation_are_flagged() -> None:
    added = support("Yoshihide Suga served as the Prime Minister of Japan from September "
                    "2020 to October 2021, after winning a landslide general election "
                    "victory.", [PASSAGE])
    assert not added.supported
    assert not support("Suga graduated from the University of Tokyo.", []).supported


def test_attribution_frame_is_not_a_claim() -> None:
    verdict = support("According to the document, Yoshihide Soeya is a professor emeritus "
                      "at Keio University.", [PASSAGE])
    assert verdict.supported, verdict.reason


def test_critical_terms_skip_sentence_initial_words() -> None:
    terms = critical_terms("However, Suga was born in 1945 in Osaka.")
    assert terms == ["1945", "suga", "osaka"]


# ----- the independent checker -----------------------------------------------------------

def test_independent_checker_flags_planted_errors_and_passes_paraphrase() -> None:
    check = independent.check
    assert check("Suga served as Japan's Prime Minister from September 2020 to October 2021.",
                 [PASSAGE]).supported
    assert check("In Osaka Prefecture on June 29, 1945, he was born.", [PASSAGE]).supported
    swapped = check("Born on June 29, 1954, in Osaka Prefecture, he graduated from the "
                    "University of Tokyo.", [PASSAGE])
    assert not swapped.supported and "1954" in swapped.reason
    negated = check("Born on June 29, 1945, in Osaka Prefecture, he did not graduate from the "
                    "University of Tokyo.", [PASSAGE])
    assert not negated.supported and "negation" in negated.reason
    # Soeya is named in the passage, but far from the premiership.
    assert not check("Yoshihide Soeya served as the Prime Minister of Japan from September "
                     "2020 to October 2021.", [PASSAGE]).supported
    assert not check("Suga graduated from the University of Tokyo.", []).supported
    # Unsupported content words, no number or name at stake.
    assert not check("He graduated from the university after studying medicine and "
                     "astronomy abroad for many years.", [PASSAGE]).supported


def test_independent_checker_shares_no_code_with_the_runtime_scorer() -> None:
    tree = ast.parse(Path(independent.__file__).read_text("utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    assert imported <= {"__future__", "re", "collections.abc", "dataclasses"}, imported


# ----- hand-written controls --------------------------------------------------------------

def test_controls_are_hand_written_about_real_passages() -> None:
    from bot.grounding import _FRAME

    controls = load_controls()
    faithful = [c for c in controls if c.faithful]
    errors = [c for c in controls if not c.faithful]
    assert len(faithful) >= 60 and len(errors) >= 60
    assert {"swapped number", "swapped name", "negation",
            "entity from another document"} <= {c.kind for c in errors}
    assert len({c.id for c in controls}) == len(controls)
    # None leans on the attribution frames the runtime scorer strips.
    assert not [c.id for c in controls if _FRAME.match(c.sentence)]
    # The cited passages are the real ones: corpus chunks and SQuAD paragraphs.
    fold = lambda t: " ".join(t.split())  # noqa: E731
    corpus = fold(CORPUS.joinpath("us-japan-alliance.txt").read_text("utf-8"))
    for c in controls:
        if c.source.startswith("corpus"):
            assert all(fold(p) in corpus for p in c.cited), c.id
    assert sum(c.source.startswith("corpus") for c in controls) >= 40
    assert sum(c.source.startswith("squad") for c in controls) >= 80


def test_squad_controls_cite_paragraphs_of_the_squad_file() -> None:
    path = squad_file()
    if path is None:
        pytest.skip("squad2-open.json not found: set BOT_EVAL_SQUAD to check the SQuAD "
                    "controls against it")
    paragraphs = {p["context"] for a in json.loads(path.read_text("utf-8"))["data"]
                  for p in a["paragraphs"]}
    squad = [c for c in load_controls() if c.source.startswith("squad")]
    assert squad and all(set(c.cited) <= paragraphs for c in squad)


def test_independent_checker_on_the_controls() -> None:
    rates = measure(load_controls(), lambda s, c: independent.check(s, c).supported)
    print(f"\nindependent checker: {rates.line()}")
    # Measured: precision 92.3%, recall 96.0%, faithful passed 91.8% (evals/README.md).
    assert rates.precision >= 0.88 and rates.recall >= 0.92
    assert rates.passed_faithful >= 0.88


def test_runtime_scorer_on_the_controls(embedder: SentenceTransformerEmbeddings) -> None:
    rates = measure(load_controls(), lambda s, c: support(s, c, embedder).supported)
    print(f"\nruntime support scorer: {rates.line()}")
    for kind, rate in rates.by_kind.items():
        print(f"  {kind}: {rate:.1%}")
    # Measured: precision 78.3%, recall 72.0%, faithful passed 79.5% (evals/README.md);
    # these floors catch a regression, they are not targets.
    assert rates.precision >= 0.74 and rates.recall >= 0.67
    assert rates.passed_faithful >= 0.75


def test_controls_loader_names_the_bad_line(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text('{"id": "a", "kind": "k", "sentence": "S.", '
                                      '"passages": ["P."], "faithful": true}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"c.jsonl:2"):
        load_controls(tmp_path)
    assert CONTROLS_DIR.is_dir()
