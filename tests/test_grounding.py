"""The support scorer, proven with negative controls: planted errors are flagged, faithful
sentences pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.embeddings import SentenceTransformerEmbeddings
from bot.evals.controls import (
    corpus_passages,
    make_controls,
    measure,
    paraphrase,
    squad_passages,
)
from bot.grounding import critical_terms, support
from tests.conftest import CORPUS

SQUAD = Path("/work/shared/datasets/squad2-dev-split/squad2-open.json")
PASSAGE = (
    "Some experts, like Yoshihide Soeya, professor emeritus at Keio University, envision a "
    "new security paradigm. This would allow Japan to keep its influence. Yoshihide Suga is "
    "a Japanese politician who served as the Prime Minister of Japan from September 2020 to "
    "October 2021. Born on June 29, 1945, in Osaka Prefecture, he graduated from the "
    "University of Tokyo."
)


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


def test_paraphrase_keeps_the_facts() -> None:
    import random

    rng = random.Random(3)
    text = "In 1987, Trump took out a full-page advertisement in three newspapers."
    for _ in range(5):
        rewritten = paraphrase(text, rng)
        assert rewritten is not None
        assert "1987" in rewritten and "Trump" in rewritten



@pytest.mark.parametrize("source", ["corpus", "squad"])
def test_negative_controls_meet_the_targets(
    source: str, embedder: SentenceTransformerEmbeddings
) -> None:
    if source == "corpus":
        passages = corpus_passages(CORPUS)
        controls = make_controls(passages, per_kind=40, seed=0)  # ~40 sentences
    else:
        if not SQUAD.is_file():
            pytest.skip(f"{SQUAD} is not on this machine")
        passages = squad_passages(SQUAD, articles=4)
        controls = make_controls(passages, per_kind=120, seed=1)
    kinds = {c.kind for c in controls}
    assert {"faithful: quoted", "faithful: paraphrased", "error: swapped number or year",
            "error: swapped person or place", "error: citation moved to another passage",
            "error: unsupported clause added"} <= kinds
    errors = sum(not c.faithful for c in controls)
    faithful = sum(c.faithful for c in controls)
    assert errors >= 100 and faithful >= 60

    rates = measure(controls, lambda s, cited: support(s, cited, embedder))
    print(f"\n{source}: {errors} planted errors flagged {rates.flagged_errors:.1%}; "
          f"{faithful} faithful sentences passed {rates.passed_faithful:.1%}")
    for kind, rate in rates.by_kind.items():
        print(f"  {kind}: {rate:.1%}")
    assert rates.flagged_errors >= 0.95
    assert rates.passed_faithful >= 0.95
