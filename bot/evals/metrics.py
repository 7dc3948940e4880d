"""Offline, deterministic metrics. A case that cannot be measured yields ``None`` (counted as
unmeasured), never NaN."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot import citations
from bot.citations import claims
from bot.grounding import Support
from bot.models import LABEL_JOIN
from bot.text import normalize

# Metric key -> (label, higher is better).
METRICS: dict[str, tuple[str, bool]] = {
    "hit@1": ("retrieval hit@1", True),
    "hit@5": ("retrieval hit@5", True),
    "hit@10": ("retrieval hit@10", True),
    "mrr": ("retrieval MRR@10", True),
    "evidence_recall": ("gold-evidence recall@k (k = top_k)", True),
    "must_include": ("must_include accuracy", True),
    "squad_em": ("SQuAD exact match", True),
    "squad_f1": ("SQuAD F1", True),
    "gold_in_answer": ("gold answer in answer text", True),
    "citation_validity": ("citations that resolve", True),
    "quote_exact": ("extractive answers: quotes and sentences verbatim in the cited passage",
                    True),
    "support_independent": ("answer sentences supported by their citations (independent "
                            "checker)", True),
    "citation_precision": ("citation precision (ALCE, independent checker)", True),
    "runtime_support": ("runtime support scorer's own verdict (the answer-time filter; not "
                        "an independent measure)", True),
    "correct_refusal": ("correct refusals (refusal recall)", True),
    "refusal_precision": ("refusals that were of unanswerable cases", True),
    "false_refusal": ("false refusals (answerable)", False),
    "aurc": ("area under the risk-coverage curve of the confidence", False),
    "followup_correct": ("follow-up cases answered right or rightly refused", True),
    "answer_words": ("words per given answer (markers excluded)", False),
    "latency_p50": ("latency p50 (s)", False),
    "latency_p95": ("latency p95 (s)", False),
}
# Bars may also name the LLM judge's figures; they are measured only with ``--judge``.
JUDGE_METRICS: dict[str, tuple[str, bool]] = {
    "judge_faithfulness": ("LLM judge: claims supported by the cited passages", True),
    "judge_relevance": ("LLM judge: answer relevance", True),
}
RANK_DEPTH = 10

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)

SupportFn = Callable[[str, Sequence[str]], Support]
# (sentence, cited passages) -> supported?
Judge = Callable[[str, Sequence[str]], bool]


# ----- SQuAD (official normalisation, as in the SQuAD 2.0 evaluation script) ---------------

def squad_normalize(text: str) -> str:
    """Lower case, drop punctuation and articles, fold whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact(gold: str, prediction: str) -> float:
    """1.0 when the normalised strings are equal."""
    return float(squad_normalize(gold) == squad_normalize(prediction))


def squad_f1(gold: str, prediction: str) -> float:
    """Token-overlap F1 of the normalised strings (both empty counts as a match)."""
    g = squad_normalize(gold).split()
    p = squad_normalize(prediction).split()
    if not g or not p:
        return float(g == p)
    same = sum((Counter(g) & Counter(p)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_scores(golds: Sequence[str], prediction: str) -> tuple[float, float]:
    """Best EM and F1 over the gold answers; no gold answer means the empty answer is right."""
    golds = list(golds) or [""]
    return (max(squad_exact(g, prediction) for g in golds),
            max(squad_f1(g, prediction) for g in golds))


def gold_in_answer(golds: Sequence[str], answer: str) -> float | None:
    """1.0 when some normalised gold answer occurs in the normalised answer text."""
    if not golds:
        return None
    text = f" {squad_normalize(answer)} "
    return float(any(f" {squad_normalize(g)} " in text for g in golds if squad_normalize(g)))


# ----- answers ----------------------------------------------------------------------------

def must_include(groups: Sequence[Sequence[str]], text: str) -> float | None:
    """1.0 when every group has an alternative in ``text`` (case-insensitive)."""
    if not groups:
        return None
    low = normalize(text).replace("’", "'")
    return float(all(
        any(normalize(a).replace("’", "'") in low for a in group) for group in groups
    ))


@dataclass(frozen=True)
class CitationScores:
    """Citation checks of one answer."""

    markers: int
    valid_markers: int
    sentences: int
    supported_sentences: int
    citations: int
    precise_citations: int


def citation_scores(answer: str, cited: dict[int, str], supports: Judge) -> CitationScores:
    """Resolve every marker and judge each sentence and citation in the ALCE sense.

    A sentence is supported when the support scorer accepts it against the union of its
    cited passages (recall). A citation is precise when its sentence is supported and it is
    not superfluous: it supports the sentence alone, or the others do not without it.
    """
    markers = valid = sentences = supported = citations = precise = 0
    for sentence, numbers in claims(answer):
        sentences += 1
        markers += len(numbers)
        texts = {n: cited[n] for n in numbers if n in cited}
        valid += len(texts)
        citations += len(numbers)
        if not texts:
            continue
        if not supports(sentence, list(texts.values())):
            continue
        supported += 1
        if len(texts) == 1:
            precise += 1
            continue
        for n, text in texts.items():
            alone = supports(sentence, [text])
            others = [t for m, t in texts.items() if m != n]
            if alone or not supports(sentence, others):
                precise += 1
    return CitationScores(markers, valid, sentences, supported, citations, precise)


def _ws(text: str) -> str:
    # Whitespace-folded only: case, spelling and punctuation must be exactly the source's.
    # A space before punctuation is dropped on every side, as markers leave none there.
    return re.sub(r" ([.,;:!?])", r"\1", " ".join(text.split()))


def without_labels(answer: str, labels: Sequence[tuple[str, str]]) -> tuple[str, bool]:
    """``answer`` without the section labels of its citations, and whether every label is
    a heading of its cited passage. ``labels`` are ``(label, heading path)`` per citation;
    each label is taken out where it introduces a quote (``label`` + :data:`LABEL_JOIN`)."""
    ok = True
    for label, path in labels:
        if not label:
            continue
        shown = f"{label}{LABEL_JOIN}"
        ok = ok and shown in answer and label in path.split(" > ")
        answer = answer.replace(shown, "", 1)
    return answer, ok


def quote_exact(answer: str, quotes: Sequence[tuple[int, str, str]]) -> tuple[int, int]:
    """Checks passed and checks made that an extractive answer only quotes its sources.

    ``quotes`` are ``(n, quote, cited passage)`` per citation. Each quote must occur in its
    passage and in the answer text, and each sentence of the answer must occur in one of
    the passages its markers cite (an uncited sentence fails). Any paraphrase, changed
    figure or wrong passage fails a check.
    """
    passed = checks = 0
    shown = _ws(citations.strip(answer))
    passages = {n: _ws(text) for n, _, text in quotes}
    for _, quote, text in quotes:
        checks += 1
        q = _ws(quote)
        passed += bool(q) and q in _ws(text) and q in shown
    for sentence, numbers in claims(answer):
        checks += 1
        passed += any(_ws(sentence) in passages.get(n, "") for n in numbers)
    return passed, checks


def risk_coverage(pairs: Sequence[tuple[float, float]]) -> tuple[list[dict[str, float]], float]:
    """Risk-coverage curve and its area from ``(confidence, loss)`` per case.

    Cases are accepted from the most confident down; a point is taken after each distinct
    confidence (tied cases enter together, so the area does not depend on their order).
    ``risk`` is the mean loss of the accepted cases, and the area is the mean over all
    cases of the risk at the point where each case enters.
    """
    ordered = sorted(pairs, key=lambda p: -p[0])
    points: list[dict[str, float]] = []
    area = lost = 0.0
    i = 0
    n = len(ordered)
    while i < n:
        j = i
        while j < n and ordered[j][0] == ordered[i][0]:
            lost += ordered[j][1]
            j += 1
        risk = lost / j
        area += risk * (j - i) / n
        points.append({"threshold": ordered[i][0], "coverage": j / n, "risk": risk})
        i = j
    return points, area


# ----- retrieval --------------------------------------------------------------------------

def first_gold_rank(is_gold: Iterable[bool]) -> int | None:
    """1-based rank of the first gold result, or None."""
    for rank, gold in enumerate(is_gold, start=1):
        if gold:
            return rank
    return None


def contains_quote(text: str, quote: str) -> bool:
    """Whether ``quote`` occurs in ``text`` (whitespace, case, apostrophes, markup tags,
    compatibility characters and a space before punctuation folded)."""
    return _fold(quote) in _fold(text)


# A tag of HTML or XML markup ("<code>", "</p>").
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def _fold(text: str) -> str:
    # A case's evidence is copied from the source file or from an earlier reading of it:
    # markup around a word, a PDF's "ﬁ" ligature or a space left before a comma where
    # inline code ended does not make it another sentence.
    text = _ws(normalize(unicodedata.normalize("NFKC", _TAG.sub("", text))))
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


# ----- aggregation ------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Summary:
    """A metric over a run: its value (None when nothing was measurable) and counts."""

    value: float | None
    measured: int
    unmeasured: int

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready form (null, never NaN)."""
        value = None if self.value is None else round(self.value, 6)
        return {"value": value, "measured": self.measured, "unmeasured": self.unmeasured}


def mean(values: Sequence[float | None]) -> Summary:
    """Mean of the measured values; ``None`` entries count as unmeasured."""
    got = [v for v in values if v is not None and not math.isnan(v)]
    return Summary(sum(got) / len(got) if got else None, len(got), len(values) - len(got))


def ratio(pairs: Sequence[tuple[int, int] | None]) -> Summary:
    """Pooled ``sum(numerators) / sum(denominators)``; empty denominators are unmeasured."""
    got = [p for p in pairs if p is not None and p[1] > 0]
    den = sum(p[1] for p in got)
    value = sum(p[0] for p in got) / den if den else None
    return Summary(value, len(got), len(pairs) - len(got))
