"""The runner: ingest a dataset's documents into a fresh temporary store, ask every case
through :meth:`bot.service.Bot.ask`, and score the answers."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.embeddings import Embeddings

from bot import citations
from bot.evals import independent
from bot.evals import metrics as m
from bot.evals.datasets import Case, Dataset
from bot.grounding import Support, support
from bot.guard import QuestionError
from bot.models import Answer
from bot.service import Bot, build_bot
from bot.settings import Settings

Progress = Callable[[str, int, int], None]
RETRIEVAL_MODES = ("hybrid", "dense", "lexical")
BACKENDS = ("extractive", "openai")


@dataclass(frozen=True)
class Column:
    """One configuration compared in a run: a retrieval mode and an answer backend."""

    retrieval: str
    backend: str

    @property
    def name(self) -> str:
        """Label of the column in reports."""
        return f"{self.retrieval}/{self.backend}"


@dataclass
class CaseResult:
    """A case asked under one column, with its answer and per-case metrics."""

    case: Case
    column: str
    answer: dict[str, Any] | None
    metrics: dict[str, float | None]
    failures: list[str]
    ranking: list[str] = field(default_factory=list)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    latency_s: float | None = None
    error: str = ""
    # For the risk-coverage curve: the answer's confidence (or the fallback, 1.0 answered and
    # 0.0 refused, when it gave none) and whether answering was wrong (None: unknown).
    confidence: float | None = None
    confidence_estimated: bool = False
    loss: float | None = None

    @property
    def passed(self) -> bool:
        """True when nothing about the case failed."""
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: the case, the full answer and its metrics."""
        return {
            "id": self.case.id, "column": self.column, "passed": self.passed,
            "failures": self.failures, "case": self.case.as_dict(), "answer": self.answer,
            "metrics": {k: (None if v is None else round(v, 6)) for k, v in self.metrics.items()},
            "ranking": self.ranking, "error": self.error,
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "confidence": None if self.confidence is None else round(self.confidence, 6),
            "confidence_estimated": self.confidence_estimated, "loss": self.loss,
        }


@dataclass
class RunResult:
    """Everything a report needs."""

    dataset: Dataset
    columns: list[Column]
    top_k: int
    results: dict[str, list[CaseResult]]
    summaries: dict[str, dict[str, m.Summary]]
    ingest: str = ""
    judge: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # Per column: the risk-coverage curve of the confidence (see :func:`risk_coverage`).
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_columns(retrieval: str | None, backend: str | None, settings: Settings) -> list[Column]:
    """Columns from comma-separated ``--retrieval`` and ``--backend`` values (their product)."""
    modes = _split(retrieval) or [settings.retrieval_mode]
    backends = _split(backend) or [settings.answer_backend]
    for mode in modes:
        if mode not in RETRIEVAL_MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose from "
                             f"{', '.join(RETRIEVAL_MODES)}")
    for b in backends:
        if b not in BACKENDS:
            raise ValueError(f"unknown backend {b!r}; choose from {', '.join(BACKENDS)}")
    return [Column(r, b) for r in modes for b in backends]


def _split(value: str | None) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))


def eval_settings(base: Settings, data_dir: Path, retrieval: str) -> Settings:
    """``base`` pointed at a private embedded store: a run never touches the user's data."""
    return base.model_copy(update={
        "data_dir": data_dir, "chroma_host": None, "collection": "eval",
        "retrieval_mode": retrieval,
    })


def run(
    dataset: Dataset,
    settings: Settings,
    columns: Sequence[Column],
    embedder: Embeddings | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Ask every case under every column and score the answers."""
    from bot.embeddings import build_embedder

    if any(c.backend == "openai" for c in columns) and not settings.llm_configured:
        raise ValueError("the openai backend is not configured (set OPENAI_BASE_URL)")
    embedder = embedder or build_embedder(settings)
    results: dict[str, list[CaseResult]] = {}
    ingest_summary = ""
    with tempfile.TemporaryDirectory(prefix="bot-eval-") as tmp, one_thread():
        bots: dict[str, Bot] = {}
        for column in columns:
            if column.retrieval not in bots:
                bot = build_bot(
                    eval_settings(settings, Path(tmp), column.retrieval), embedder=embedder
                )
                report = bot.ingest(dataset.corpus)
                if report.failed:
                    names = ", ".join(f"{f.source}: {f.message}" for f in report.failed[:3])
                    raise RuntimeError(f"the eval corpus did not ingest: {names}")
                ingest_summary = ingest_summary or report.summary()
                bots[column.retrieval] = bot
        for column in columns:
            bot = bots[column.retrieval]
            scorer = _Scorer(embedder)
            out = []
            for i, case in enumerate(dataset.cases):
                if progress:
                    progress(column.name, i, len(dataset.cases))
                out.append(evaluate_case(bot, case, column, scorer))
            if progress:
                progress(column.name, len(dataset.cases), len(dataset.cases))
            results[column.name] = out
    summaries = {name: summarize(rs) for name, rs in results.items()}
    return RunResult(
        dataset, list(columns), settings.top_k, results, summaries, ingest_summary,
        curves={name: risk_coverage(rs) for name, rs in results.items()},
        settings={
            "top_k": settings.top_k, "candidate_k": settings.candidate_k,
            "min_confidence": settings.min_confidence,
            "max_answer_sentences": settings.max_answer_sentences,
            "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
            "embedding_model": settings.embedding_model or "all-MiniLM-L6-v2 (bundled)",
        },
    )


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the model on one thread: the floating-point sums (and so every score) do not
    depend on the machine's core count, and one-question batches gain nothing from more."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Scorer:
    """The runtime support scorer with memory: the same sentence and passages are judged
    once."""

    def __init__(self, embedder: Embeddings) -> None:
        self.embedder = embedder
        self._memo: dict[tuple[str, tuple[str, ...]], Support] = {}

    def __call__(self, sentence: str, cited: Sequence[str]) -> Support:
        key = (sentence, tuple(cited))
        if key not in self._memo:
            self._memo[key] = support(sentence, cited, self.embedder)
        return self._memo[key]


def evaluate_case(bot: Bot, case: Case, column: Column, scorer: _Scorer) -> CaseResult:
    """Ask one case (and, for the ranking metrics, retrieve to depth 10) and score it."""
    backend = cast(Literal["extractive", "openai"], column.backend)
    try:
        answer = bot.ask(case.question, list(case.history), backend=backend)
        top_k = bot.settings.top_k
        if top_k >= m.RANK_DEPTH:
            ranked = answer.retrieved
        else:
            ranked = bot.ask(case.question, list(case.history), backend="extractive",
                             top_k=m.RANK_DEPTH).retrieved
    except (QuestionError, ValueError, RuntimeError) as exc:
        # The question was turned away before answering: a refusal with no confidence.
        metrics: dict[str, float | None] = dict.fromkeys(m.METRICS)
        if case.answerable:
            metrics["false_refusal"] = 1.0
            metrics["refusal_precision"] = 0.0
        else:
            metrics["correct_refusal"] = 1.0
            metrics["refusal_precision"] = 1.0
        return CaseResult(case, column.name, None, metrics, [f"error: {exc}"], error=str(exc),
                          confidence=0.0, loss=_loss(case, None))
    return score_case(case, column.name, answer, [s.chunk for s in ranked], scorer)


def score_case(
    case: Case, column: str, answer: Answer, ranked: Sequence[Any],
    supports: m.SupportFn,
) -> CaseResult:
    """Per-case metrics of ``answer``; ``ranked`` are the chunks retrieved to depth 10."""
    metrics: dict[str, float | None] = dict.fromkeys(m.METRICS)
    counts: dict[str, tuple[int, int]] = {}
    failures: list[str] = []
    top_k = len(answer.retrieved)

    # Retrieval, on answerable cases with a known gold document or evidence quote.
    gold_flags: list[bool] | None = None
    if case.answerable and case.gold_source:
        gold_flags = [c.source == case.gold_source for c in ranked]
    elif case.answerable and case.evidence:
        gold_flags = [any(m.contains_quote(c.text, q) for q in case.evidence) for c in ranked]
    if gold_flags is not None and answer.retrieved:
        rank = m.first_gold_rank(gold_flags)
        for k in (1, 5, 10):
            metrics[f"hit@{k}"] = float(rank is not None and rank <= k)
        metrics["mrr"] = 1.0 / rank if rank else 0.0
        if rank is None or rank > top_k:
            failures.append("gold passage not retrieved")
    if case.answerable and case.evidence and answer.retrieved:
        texts = [s.chunk.text for s in answer.retrieved]
        found = sum(any(m.contains_quote(t, q) for t in texts) for q in case.evidence)
        metrics["evidence_recall"] = found / len(case.evidence)

    # Refusal.
    if case.answerable:
        metrics["false_refusal"] = float(answer.refused)
        if answer.refused:
            failures.append("refused an answerable question")
    else:
        metrics["correct_refusal"] = float(answer.refused)
        if not answer.refused:
            failures.append("answered an unanswerable question")
    if answer.refused:
        metrics["refusal_precision"] = float(not case.answerable)

    # Answer content.
    plain = "" if answer.refused else citations.strip(answer.text)
    if case.answerable and case.must_include:
        metrics["must_include"] = m.must_include(case.must_include, plain)
        if not metrics["must_include"]:
            failures.append("answer misses a must_include group")
    if plain:
        metrics["answer_words"] = float(len(plain.split()))
    if case.history:
        if not case.answerable:
            metrics["followup_correct"] = float(answer.refused)
        elif case.must_include:
            metrics["followup_correct"] = m.must_include(case.must_include, plain)
    if case.gold_source:
        em, f1 = m.squad_scores(case.gold_answers, plain)
        metrics["squad_em"], metrics["squad_f1"] = em, f1
        if case.answerable:
            metrics["gold_in_answer"] = m.gold_in_answer(case.gold_answers, plain)
            if not metrics["gold_in_answer"] and not answer.refused:
                failures.append("no gold answer in the answer text")

    # Citations and groundedness, on answers that were given. Groundedness is judged by the
    # independent checker: the runtime scorer already filtered generated answers, so its
    # verdict on them is 1.0 by construction and is reported only as its own figure.
    if not answer.refused:
        cited = {c.n: c.chunk.text for c in answer.citations}
        # Section labels name a heading, not a claim: the checks read the quotes without
        # them, once each label is shown to be a heading of the passage it introduces.
        quoted, labels_ok = m.without_labels(
            answer.text, [(c.label, c.chunk.context) for c in answer.citations])
        if not labels_ok:
            failures.append("a section label is not a heading of its cited passage")
        scores = m.citation_scores(quoted, cited, _independent)
        runtime = m.citation_scores(quoted, cited, lambda s, c: supports(s, c).supported)
        if scores.markers:
            metrics["citation_validity"] = scores.valid_markers / scores.markers
            if scores.valid_markers < scores.markers:
                failures.append("a citation marker resolves to nothing")
        if scores.citations:
            metrics["citation_precision"] = scores.precise_citations / scores.citations
        if scores.sentences:
            metrics["support_independent"] = scores.supported_sentences / scores.sentences
            counts["support_independent"] = (scores.supported_sentences, scores.sentences)
            metrics["runtime_support"] = runtime.supported_sentences / runtime.sentences
            counts["runtime_support"] = (runtime.supported_sentences, runtime.sentences)
            if scores.supported_sentences < scores.sentences:
                failures.append("an answer sentence is not supported by its citations "
                                "(independent checker)")
        if answer.backend == "extractive":
            passed, checks = m.quote_exact(
                quoted, [(c.n, c.quote, c.chunk.text) for c in answer.citations])
            if checks:
                metrics["quote_exact"] = passed / checks
                counts["quote_exact"] = (passed, checks)
                if passed < checks:
                    failures.append("a quote or sentence is not verbatim in its cited passage")
        if case.evidence and case.answerable and answer.citations and not any(
            m.contains_quote(c.chunk.text, q) for c in answer.citations for q in case.evidence
        ):
            failures.append("no cited passage holds the evidence")

    # Confidence: None means the answerer did not estimate it; then answering stands for
    # full confidence and refusing for none.
    estimated = answer.confidence is not None
    confidence = answer.confidence if estimated else (0.0 if answer.refused else 1.0)
    return CaseResult(
        case, column, answer.as_dict(), metrics, failures,
        ranking=[f"{c.source_name}#{c.id[:8]}" for c in ranked], counts=counts,
        latency_s=answer.latency_s, confidence=confidence, confidence_estimated=estimated,
        loss=_loss(case, metrics),
    )


def _independent(sentence: str, cited: Sequence[str]) -> bool:
    return independent.check(sentence, cited).supported


def _loss(case: Case, metrics: dict[str, float | None] | None) -> float | None:
    """1.0 when answering this case is wrong: it is unanswerable, or the answer is not
    correct by the case's own measure (``must_include``, or ``gold_in_answer`` on SQuAD).
    None when an answerable case has no such measure."""
    if not case.answerable:
        return 1.0
    key = "must_include" if case.must_include else "gold_in_answer" if case.gold_source else ""
    if not key:
        return None
    value = (metrics or {}).get(key)
    return 1.0 - (value or 0.0)


def risk_coverage(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The risk-coverage curve of the confidence over the cases with a known loss."""
    pairs = [(r.confidence, r.loss) for r in results
             if r.confidence is not None and r.loss is not None]
    points, area = m.risk_coverage(pairs)
    best = m.risk_coverage([(-loss, loss) for _, loss in pairs])[1]
    return {
        "aurc": round(area, 6) if pairs else None,
        "aurc_optimal": round(best, 6) if pairs else None,
        "cases": len(pairs), "unmeasured": len(results) - len(pairs),
        "confidence_estimated": sum(r.confidence_estimated for r in results),
        "points": [{k: round(v, 6) for k, v in p.items()} for p in points],
    }


def summarize(results: Sequence[CaseResult]) -> dict[str, m.Summary]:
    """Run-level value of every metric for one column."""
    out: dict[str, m.Summary] = {}
    for key in m.METRICS:
        if key in ("support_independent", "runtime_support", "quote_exact"):
            out[key] = m.ratio([r.counts.get(key) for r in results])
        elif key == "aurc":
            curve = risk_coverage(results)
            out[key] = m.Summary(curve["aurc"], curve["cases"], curve["unmeasured"])
        elif key.startswith("latency_"):
            lat = [r.latency_s for r in results if r.latency_s is not None]
            q = 50 if key == "latency_p50" else 95
            out[key] = m.Summary(m.percentile(lat, q), len(lat), len(results) - len(lat))
        else:
            out[key] = m.mean([r.metrics.get(key) for r in results])
    return out
