"""``bot train``: fit the evidence scorer's two models from question-answering data.

Every dataset is ingested into a private store and every question asked through the real
retrieval, so the features are exactly those the answerer sees. Validation holds out whole
articles or documents (group k-fold): the figures written beside the artifact are measured
on folds the models never saw. Deterministic for a given seed and data.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.conversation import condense, context_of
from bot.evals.datasets import Case, load_dataset
from bot.evals.harness import one_thread
from bot.evals.metrics import gold_in_answer, must_include
from bot.evidence import (
    ANSWER_FEATURES,
    BASE_CANDIDATE_FEATURES,
    CANDIDATE_FEATURES,
    FOLLOW_FEATURES,
    FOLLOW_NEVER,
    RERANK_FEATURES,
    Candidate,
    EvidenceModel,
    EvidenceScorer,
    answer_features,
    answer_shape,
    apply_rerank,
    asked_noun,
    follow_features,
    linear_probabilities,
    numeric_columns,
    numeric_expectation,
    question_signals,
    quoted,
    rerank_features,
    shape_shares,
)
from bot.reader import READER_DIR
from bot.reader_training import Pair, Recipe, held_out_scores
from bot.settings import Settings
from bot.text import name_keys

Progress = Callable[[str], None]


@dataclass
class Question:
    """One asked question: its candidates' features and which hold the answer."""

    group: str
    answerable: bool
    rows: np.ndarray
    labels: np.ndarray
    # What the answer would quote for each candidate, and whether that is a right answer.
    quotes: list[str]
    correct: list[bool]
    signals: tuple[float, float]
    case: Case
    # The question as asked of the retriever (follow-ups rewritten).
    standalone: str = ""
    cands: list[Candidate] = field(default_factory=list)
    # Whether quoting each candidate with the piece after it is a right answer.
    after_correct: list[bool] = field(default_factory=list)


@dataclass
class Collected:
    """Training questions from every dataset, with the hashes of the files read."""

    questions: list[Question] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _group(case: Case, dataset: str) -> str:
    if case.gold_source:
        # SQuAD documents are named "NNN-Article-PPP.txt": the article is the group.
        return f"{dataset}:{Path(case.gold_source).name.rsplit('-', 1)[0]}"
    return f"{dataset}:{case.id.split('-')[0]}"


def _is_correct(case: Case, text: str) -> bool:
    if case.gold_answers:
        return bool(gold_in_answer(case.gold_answers, text))
    if case.must_include:
        return bool(must_include(case.must_include, text))
    return False


def collect(
    specs: Sequence[tuple[Path, Path | None]], settings: Settings, scorer: EvidenceScorer,
    progress: Progress = print,
) -> Collected:
    """Ask every question of every ``(dataset, corpus)`` and keep its candidates."""
    from bot.service import build_bot

    out = Collected()
    for path, corpus in specs:
        name = f"{path.parent.name}/{path.name}"
        out.hashes[name] = _sha256(path)
        if corpus is not None:
            out.hashes[f"{name} corpus"] = _sha256(corpus)
        with tempfile.TemporaryDirectory(prefix="bot-train-") as tmp:
            data = load_dataset(path, [corpus] if corpus else [], Path(tmp) / "docs")
            local = settings.model_copy(update={
                "data_dir": Path(tmp) / "data", "chroma_host": None, "collection": "train",
            })
            bot = build_bot(local, embedder=scorer.embedder)
            started = time.perf_counter()
            report = bot.ingest(data.corpus)
            if report.failed:
                raise RuntimeError(f"{path}: the corpus did not ingest: {report.failed[0]}")
            progress(f"{path.name}: {report.summary()} in {time.perf_counter() - started:.0f} s")
            snap = bot.store.snapshot()
            standalones = [condense(c.question, list(c.history)) for c in data.cases]
            # One batched call instead of a model run per question.
            vectors = scorer.embedder.embed_documents(standalones)
            prepared = _Prepared(scorer.embedder, dict(zip(standalones, vectors, strict=True)))
            bot.retriever.embedder = prepared
            scorer.embedder = prepared
            for i, case in enumerate(data.cases):
                if i and i % 500 == 0:
                    progress(f"{path.name}: {i}/{len(data.cases)} questions")
                standalone = standalones[i]
                retrieved = bot.retriever.retrieve(
                    standalone, None, snap, context_of(standalone, list(case.history))
                )
                cands, rows = scorer.candidates(standalone, retrieved, snap)
                # A question with no candidate is kept: the answerer refuses it.
                asked = name_keys(standalone)
                said = [quoted(c, asked) for c in cands]
                correct = [_is_correct(case, c.text) for c in cands]
                out.questions.append(Question(
                    _group(case, data.name), case.answerable, rows,
                    np.asarray([case.answerable and ok for ok in correct], dtype=np.int8),
                    said, [case.answerable and _is_correct(case, t) for t in said],
                    question_signals(standalone, retrieved, snap), case, standalone, cands,
                    [case.answerable and bool(c.after) and _is_correct(case, f"{t} {c.after}")
                     for c, t in zip(cands, said, strict=True)],
                ))
    return out


def _cache_key(spec: tuple[Path, Path | None]) -> str:
    # The data's bytes and the feature names: a dataset edited, or a feature added or
    # removed, is asked again.
    path, corpus = spec
    # The numeric features are set after collecting (see with_numeric), so they are not
    # part of the key.
    parts = [_sha256(path), _sha256(corpus) if corpus else "", *BASE_CANDIDATE_FEATURES]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def collect_cached(
    specs: Sequence[tuple[Path, Path | None]], settings: Settings, embedder: Any,
    progress: Progress = print, cache: Path | None = None,
) -> Collected:
    """:func:`collect` with each dataset's questions kept in ``cache``: a dataset whose
    files and feature names are unchanged is not asked again (each is asked in a store of
    its own, so what it yields does not depend on the others)."""
    kept: dict[str, Collected] = {}
    if cache is not None and cache.exists():
        loaded = pickle.loads(cache.read_bytes())
        # A cache of another layout is rebuilt, not misread.
        kept = loaded if isinstance(loaded, dict) else {}
    out, fresh = Collected(), {}
    for spec in specs:
        key = _cache_key(spec)
        part = kept.get(key)
        if part is None:
            with one_thread():
                part = collect([spec], settings, EvidenceScorer(embedder, model=_Untrained()),
                               progress)
        else:
            progress(f"{spec[0].parent.name}/{spec[0].name}: {len(part.questions)} questions "
                     "from the cache")
        fresh[key] = part
        out.questions.extend(part.questions)
        out.hashes.update(part.hashes)
    if cache is not None:
        cache.write_bytes(pickle.dumps(fresh))
    return out


# The weights of the prior tried for the asked nouns' shares (pseudo-questions).
_PRIOR_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def _figure_shape(question: Question) -> str | None:
    """The shape of an answerable question's answer when it is a figure (the first figure
    of its first gold answer, or of the first answer of its first required group that has
    one), "" when it is none, and None for a question with no answer to read."""
    case = question.case
    if not question.answerable:
        return None
    answers = list(case.gold_answers[:1]) or list(case.must_include[0] if case.must_include
                                                   else ())
    if not answers:
        return None
    return next((shape for a in answers if (shape := answer_shape(a))), "")


def _loo_weight(seen: Sequence[tuple[str, str]], counts: Mapping[str, Mapping[str, int]],
                prior: Mapping[str, float]) -> tuple[float, dict[float, float]]:
    """The prior's weight under which each outcome in ``seen`` (noun, outcome) is best
    foretold by its noun's other outcomes (mean leave-one-out log-likelihood), and that
    likelihood for each weight tried."""
    scores = {}
    for weight in _PRIOR_WEIGHTS:
        loglik = 0.0
        for noun, outcome in seen:
            total = sum(counts[noun].values()) - 1
            p = (counts[noun][outcome] - 1 + weight * prior[outcome]) / (total + weight)
            loglik += math.log(max(p, 1e-9))
        scores[weight] = loglik / len(seen)
    return max(scores, key=lambda w: (scores[w], -w)), scores


def fit_numeric(questions: Sequence[Question]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Count, for each asked noun, the answerable questions asking for it, those of them
    answered with a figure, and those figures' shapes; fit each prior's weight by the
    leave-one-out likelihood of those answers. Returns the artifact's ``numeric`` part and
    a report."""
    figures: dict[str, Counter[str]] = {}
    shapes: dict[str, Counter[str]] = {}
    for q in questions:
        noun = asked_noun(q.standalone or q.case.question)
        shape = _figure_shape(q)
        if noun and shape is not None:
            figures.setdefault(noun, Counter())[str(bool(shape))] += 1
            if shape:
                shapes.setdefault(noun, Counter())[shape] += 1
    if not figures:
        return {}, {"nouns": 0}
    seen = [(noun, o) for noun, c in figures.items() for o in c.elements()]
    prior = sum(c["True"] for c in figures.values()) / len(seen)
    weight, scores = _loo_weight(seen, figures, {"True": prior, "False": 1.0 - prior})
    shaped = [(noun, o) for noun, c in shapes.items() for o in c.elements()]
    overall = Counter(o for _, o in shaped)
    shape_prior = {o: n / len(shaped) for o, n in sorted(overall.items())}
    # No figure among the answers: no shapes to learn, and shape_shares gives none.
    shape_weight, shape_scores = (_loo_weight(shaped, shapes, shape_prior) if shaped
                                  else (1.0, {}))
    numeric = {
        "heads": {noun: [c["True"], c.total()] for noun, c in sorted(figures.items())},
        "prior": round(prior, 6), "weight": weight,
        "shapes": {noun: dict(sorted(c.items())) for noun, c in sorted(shapes.items())},
        "shape_prior": {o: round(p, 6) for o, p in shape_prior.items()},
        "shape_weight": shape_weight,
    }
    return numeric, {
        "nouns": len(figures), "questions": len(seen), "prior": round(prior, 4),
        "weight": weight,
        "mean_log_likelihood": {str(w): round(v, 4) for w, v in scores.items()},
        "figure_answers": len(shaped), "shape_prior": numeric["shape_prior"],
        "shape_weight": shape_weight,
        "shape_mean_log_likelihood": {str(w): round(v, 4) for w, v in shape_scores.items()},
    }


def with_numeric(questions: Sequence[Question], numeric: dict[str, Any]) -> None:
    """Set each question's numeric features, its own answer left out of its noun's
    counts."""
    for q in questions:
        standalone = q.standalone or q.case.question
        shape = _figure_shape(q) if asked_noun(standalone) else None
        own = (0, 0) if shape is None else (int(bool(shape)), 1)
        expect = numeric_expectation(standalone, numeric, own=own)
        shares = shape_shares(standalone, numeric, own=shape or None)
        q.rows = np.hstack([
            q.rows[:, :len(BASE_CANDIDATE_FEATURES)],
            numeric_columns(standalone, [c.text for c in q.cands], expect, shares),
        ]).astype(np.float32)


def default_datasets(project: Path) -> list[tuple[Path, Path | None]]:
    """The training data the shipped model is fitted on, where present."""
    shared = project.parent / "shared" / "datasets"
    specs: list[tuple[Path, Path | None]] = [
        (shared / "squad2-dev-split" / "squad2-open.json", None),
        (shared / "squad2-train-sample" / "squad2-train-first10.json", None),
        *((project / "evals" / "datasets" / name / "cases.jsonl",
           project / "evals" / "datasets" / name / "docs")
          for name in ("manuals-train", "faq-train", "specs-train", "guides-train",
                       "code-train", "ref-train", "cli-train", "api-train", "howto-train",
                       "notes-train", "pkgdocs-train")),
    ]
    return [(p, c) for p, c in specs if p.exists()]


class _Prepared(Embeddings):
    """An embedder whose query vectors were computed beforehand in one batch."""

    def __init__(self, inner: Embeddings, queries: dict[str, list[float]]) -> None:
        self.inner = getattr(inner, "inner", inner)
        self.queries = queries

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        hit = self.queries.get(text)
        return hit if hit is not None else self.inner.embed_query(text)


# ----- fitting -----------------------------------------------------------------------------

def _fit_logistic(
    x: np.ndarray, y: np.ndarray, seed: int, c: float = 1.0, weight: np.ndarray | None = None
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit((x - mean) / scale, y, sample_weight=weight)
    return {"mean": mean.tolist(), "scale": scale.tolist(),
            "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}


class _Boosted:
    """Gradient-boosted trees, the comparison model."""

    def __init__(self, seed: int) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.model = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed
        )

    def fit(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> _Boosted:
        self.model.fit(x, y, sample_weight=weight)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(x)[:, 1])


def is_document(question: Question) -> bool:
    """Whether a question was asked of documents (manuals, FAQs, specifications) rather
    than of SQuAD's encyclopaedia paragraphs."""
    return not question.case.gold_source


def _document_mask(questions: Sequence[Question]) -> np.ndarray:
    """Which of ``questions`` were asked of documents (see :func:`is_document`)."""
    return np.asarray([is_document(q) for q in questions], dtype=bool)


def document_weights(questions: Sequence[Question], share: float | None) -> np.ndarray:
    """A weight per question that gives the document questions ``share`` of the total
    (None: every question weighs the same)."""
    docs = _document_mask(questions)
    weight = np.ones(len(questions))
    if share is not None and docs.any() and not docs.all():
        weight[docs] = share / (1 - share) * (~docs).sum() / docs.sum()
    return weight


# Shares of the candidate model's fitting weight tried for the document questions: a few
# hundred of them sit beside thousands of SQuAD questions, whose answers are worded much
# like the questions; None leaves every question one weight.
DOCUMENT_SHARES: tuple[float | None, ...] = (None, 0.1, 0.25, 0.5)


def _stack(questions: Sequence[Question]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.concatenate([q.rows for q in questions])
    y = np.concatenate([q.labels for q in questions])
    owner = np.concatenate([np.full(len(q.rows), i) for i, q in enumerate(questions)])
    return x, y, owner


def _folds(questions: Sequence[Question], k: int) -> list[np.ndarray]:
    """Question indices of each fold; whole groups (articles, documents) stay together."""
    groups = sorted({q.group for q in questions})
    sizes = {g: sum(1 for q in questions if q.group == g) for g in groups}
    buckets: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    # Largest groups first into the lightest fold: balanced folds, deterministic.
    for g in sorted(groups, key=lambda g: (-sizes[g], g)):
        i = load.index(min(load))
        buckets[i].append(g)
        load[i] += sizes[g]
    return [np.asarray([i for i, q in enumerate(questions) if q.group in set(b)])
            for b in buckets if b]


@dataclass
class Outcome:
    """Per-question result of answering with a given candidate model."""

    answerable: bool
    correct: bool
    confidence_row: np.ndarray
    words: int
    empty: bool = False


@dataclass
class Ranked:
    """A question's candidates as the answerer would rank them: probabilities, order best
    first, and the reader's logits of the reread ones in that order."""

    probs: np.ndarray
    order: list[int]
    reader: np.ndarray


def first_stage(probs: Sequence[np.ndarray]) -> list[Ranked]:
    """Rankings by the first-stage probabilities alone (no reader)."""
    return [Ranked(p, [int(i) for i in np.argsort(-p, kind="stable")], np.zeros(0))
            for p in probs]


def _outcomes(
    questions: Sequence[Question], ranked: Sequence[Ranked], second_ratio: float,
    follow: np.ndarray | None = None, follow_threshold: float = FOLLOW_NEVER,
) -> list[Outcome]:
    """What answering each question would give: the best candidate, and the second best
    too when its probability is at least ``second_ratio`` of the best's; and the piece
    after the best one when its ``follow`` probability reaches ``follow_threshold``."""
    out = []
    for n, (q, r) in enumerate(zip(questions, ranked, strict=True)):
        p, order = r.probs, r.order
        if not len(p):
            out.append(Outcome(q.answerable, False, np.zeros(len(ANSWER_FEATURES)), 0, True))
            continue
        best = order[0]
        follows = follow is not None and follow[n] >= follow_threshold
        chosen = [best]
        # A second best that is the piece after the best is quoted once, with it.
        if (len(order) > 1 and p[order[1]] >= second_ratio * p[best]
                and not (follows and q.cands[order[1]].comes_after(q.cands[best]))):
            chosen.append(order[1])
        correct = any(q.correct[i] for i in chosen)
        words = sum(len(q.quotes[i].split()) for i in chosen)
        if follows:
            correct = correct or q.after_correct[best]
            words += len(q.cands[best].after.split())
        out.append(Outcome(
            q.answerable, correct,
            answer_features(p[order], q.rows[order], q.signals, r.reader), words,
        ))
    return out


def _both_classes(labels: np.ndarray) -> bool:
    """Whether ``labels`` hold positives and negatives: a logistic model can be fitted."""
    return 0 < int(labels.sum()) < len(labels)


def follow_rows(
    questions: Sequence[Question], ranked: Sequence[Ranked]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The follow rows of every question whose best candidate has a piece after it, their
    labels (that piece makes a wrong answer right) and the questions they belong to."""
    rows, labels, owners = [], [], []
    for n, (q, r) in enumerate(zip(questions, ranked, strict=True)):
        if not r.order or not q.cands[r.order[0]].after:
            continue
        best = r.order[0]
        rows.append(follow_features(q.cands, q.rows, r.probs, best))
        labels.append(int(q.after_correct[best] and not q.correct[best]))
        owners.append(n)
    width = len(FOLLOW_FEATURES)
    return (np.asarray(rows, dtype=np.float32).reshape(-1, width),
            np.asarray(labels, dtype=np.int8), np.asarray(owners, dtype=np.int64))


# The longest answers may be on average, in words: a quote, not a page.
MAX_MEAN_WORDS = 40.0


def _kinds(questions: Sequence[Question]) -> list[np.ndarray]:
    """Indices of the answerable questions of each kind of text present: SQuAD's
    encyclopaedia paragraphs and the documents (manuals, FAQs, specifications)."""
    docs = _document_mask(questions)
    answerable = np.asarray([q.answerable for q in questions])
    return [idx for kind in (~docs, docs)
            if len(idx := np.flatnonzero(kind & answerable))]


def choose_composition(
    questions: Sequence[Question], ranked: Sequence[Ranked], follow: np.ndarray
) -> tuple[float, float, dict[str, dict[str, float]]]:
    """How close the second candidate must come to the best to be quoted too, and the
    follow probability from which the piece after the best is quoted: the pair that puts
    a right answer in the most answers while they stay short on average.

    Each kind of text counts once, in both the share of right answers and the mean length,
    as in the candidate model's document share: a few hundred document questions, whose
    sentences are short and whose answer is often the piece after the one that restates the
    question, would otherwise be outvoted by thousands of SQuAD questions."""
    ratios = [1.01, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    follows = [FOLLOW_NEVER, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.03]
    kinds = _kinds(questions)
    table: dict[str, dict[str, float]] = {}
    best, best_right = (1.01, FOLLOW_NEVER), -1.0
    for ratio in ratios:
        for level in follows:
            outs = _outcomes(questions, ranked, ratio, follow, level)
            right = float(np.mean([np.mean([outs[i].correct for i in idx]) for idx in kinds]))
            words = float(np.mean([np.mean([outs[i].words for i in idx if not outs[i].empty]
                                           or [0]) for idx in kinds]))
            table[f"{ratio:.2f}/{level:.2f}"] = {"right": round(right, 4),
                                                 "mean_words": round(words, 2)}
            if words <= MAX_MEAN_WORDS and right > best_right:
                best, best_right = (ratio, level), right
    return best[0], best[1], table


def _top_right(question: Question, probs: np.ndarray) -> bool:
    return bool(len(probs)) and question.correct[int(np.argmax(probs))]


def _top1(questions: Sequence[Question], ranked: Sequence[Ranked]) -> float:
    """Share of answerable questions whose best-ranked candidate is a right answer."""
    return float(np.mean([bool(r.order) and q.correct[r.order[0]]
                          for q, r in zip(questions, ranked, strict=True) if q.answerable]))


def _held_out(
    questions: Sequence[Question], fold_idx: list[np.ndarray], weights: np.ndarray,
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]],
) -> list[np.ndarray]:
    """Each question's candidate probabilities from a model ``fit`` on the other folds
    (rows, labels, per-row weights), so that no question is scored by a model that saw it."""
    probs: list[np.ndarray] = [np.zeros(0)] * len(questions)
    for held in fold_idx:
        held_set = set(held.tolist())
        kept = [i for i in range(len(questions)) if i not in held_set]
        x, y, owner = _stack([questions[i] for i in kept])
        predict = fit(x, y, weights[kept][owner])
        for i in held:
            rows = questions[i].rows
            probs[i] = predict(rows) if len(rows) else np.zeros(0)
    return probs


def _logistic_fit(seed: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray],
                                        Callable[[np.ndarray], np.ndarray]]:
    def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        spec = _fit_logistic(x, y, seed, weight=w)
        return lambda rows: linear_probabilities(spec, rows)
    return fit


def _choose_document_share(
    questions: Sequence[Question], fold_idx: list[np.ndarray], seed: int, progress: Progress
) -> tuple[float | None, dict[str, dict[str, float]], list[np.ndarray]]:
    """The weight share of the document questions (:data:`DOCUMENT_SHARES`) under which
    the candidate model's held-out top-1 is best on average over the two kinds of text,
    SQuAD's paragraphs and the documents, each counted as much as the other; the table of
    shares tried, and the held-out probabilities under the chosen one."""
    docs = _document_mask(questions)
    if docs.all() or not docs.any():
        return None, {}, _held_out(questions, fold_idx, np.ones(len(questions)),
                                   _logistic_fit(seed))
    table: dict[str, dict[str, float]] = {}
    best, best_score, best_probs = None, -1.0, list[np.ndarray]()
    for share in DOCUMENT_SHARES:
        probs = _held_out(questions, fold_idx, document_weights(questions, share),
                          _logistic_fit(seed))
        by_kind = {
            kind: float(np.mean([_top_right(questions[i], probs[i])
                                 for i in range(len(questions))
                                 if questions[i].answerable and docs[i] == is_doc]))
            for kind, is_doc in (("squad", False), ("documents", True))
        }
        score = (by_kind["squad"] + by_kind["documents"]) / 2
        table[str(share)] = {k: round(v, 4) for k, v in by_kind.items()}
        progress(f"document share {share}: held-out top-1 squad {by_kind['squad']:.3f}, "
                 f"documents {by_kind['documents']:.3f}")
        if score > best_score:
            best, best_score, best_probs = share, score, probs
    return best, table, best_probs


def _answer_metrics(
    outcomes: Sequence[Outcome], confidence: np.ndarray, threshold: float
) -> dict[str, float]:
    answered = confidence >= threshold
    ans = np.asarray([o.answerable for o in outcomes])
    right = np.asarray([o.correct for o in outcomes])
    n_ans, n_un = max(int(ans.sum()), 1), max(int((~ans).sum()), 1)
    words = [o.words for o, a in zip(outcomes, answered, strict=True) if a]
    return {
        "gold_in_answer": float((answered & right & ans).sum() / n_ans),
        "correct_when_answered": float((answered & right & ans).sum()
                                       / max(int((answered & ans).sum()), 1)),
        "unanswerable_refused": float((~answered & ~ans).sum() / n_un),
        "answerable_refused": float((~answered & ans).sum() / n_ans),
        "aurc": aurc(confidence, ans & right),
        "mean_words": float(np.mean(words)) if words else 0.0,
    }


def _compare_answer_models(
    questions: Sequence[Question], rows: np.ndarray, good: np.ndarray, usable: np.ndarray,
    fold_idx: list[np.ndarray], logistic: np.ndarray, seed: int,
) -> dict[str, dict[str, float]]:
    """Held-out AURC of the logistic answer model (``logistic``: its held-out confidence)
    against gradient-boosted trees on the same rows and folds, per kind of text."""
    boosted = np.zeros(len(rows))
    for held in fold_idx:
        mask = np.ones(len(rows), dtype=bool)
        mask[held] = False
        model = _Boosted(seed).fit(rows[mask & usable], good[mask & usable])
        boosted[held] = np.where(usable[held], model.predict(rows[held]), 0.0)
    docs = _document_mask(questions)
    return {
        name: {kind: round(aurc(conf[sel], good[sel].astype(bool)), 4)
               for kind, sel in (("squad", ~docs), ("documents", docs)) if sel.any()}
        for name, conf in (("logistic", logistic), ("boosted", boosted))
    }


def aurc(confidence: np.ndarray, good: np.ndarray) -> float:
    """Area under the risk-coverage curve: answer the most confident first; lower is better."""
    order = np.argsort(-confidence, kind="stable")
    wrong = (~np.asarray(good, dtype=bool))[order].astype(np.float64)
    risks = np.cumsum(wrong) / np.arange(1, len(wrong) + 1)
    return float(risks.mean()) if len(risks) else 0.0


def threshold_for(confidence: np.ndarray, answerable: np.ndarray, refusal_rate: float) -> float:
    """The confidence that refuses ``refusal_rate`` of the answerable questions."""
    values = np.sort(confidence[answerable])
    if not len(values):
        return 0.5
    return float(np.quantile(values, refusal_rate, method="lower"))


def train(
    specs: Sequence[tuple[Path, Path | None]], out: Path, settings: Settings,
    embedder: Any, *, seed: int = 0, folds: int = 5, refusal_rate: float = 0.10,
    progress: Progress = print, cache: Path | None = None, compare: bool = True,
    reader: Recipe | None = None,
) -> dict[str, Any]:
    """Collect, cross-validate, fit on everything, and write the artifact to ``out`` (and,
    unless ``reader`` is None, the fine-tuned reader into the folder beside it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = collect_cached(specs, settings, embedder, progress, cache)
    questions = data.questions
    numeric, numeric_report = fit_numeric(questions)
    with_numeric(questions, numeric)
    progress(f"asked nouns: {numeric_report}")
    progress(f"{len(questions)} questions, "
             f"{sum(len(q.rows) for q in questions)} candidates, "
             f"{len({q.group for q in questions})} groups")
    fold_idx = _folds(questions, folds)
    report: dict[str, Any] = {"folds": len(fold_idx), "candidate_models": {}}

    # Stage 1, compared on held-out folds: which candidate holds the answer.
    oof: dict[str, list[np.ndarray]] = {}
    per_fold: dict[str, list[float]] = {}
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    share, shares_report, logistic = _choose_document_share(questions, fold_idx, seed,
                                                             progress)
    report["document_share"] = {"chosen": share, "tried": shares_report}
    report["asked_nouns"] = numeric_report
    weights = document_weights(questions, share)
    for name in ("logistic", "boosted") if compare else ("logistic",):
        # The logistic model's held-out probabilities under the chosen share are those the
        # choice already computed.
        probs = logistic if name == "logistic" else _held_out(
            questions, fold_idx, weights,
            lambda x, y, w: _Boosted(seed).fit(x, y, w).predict)
        oof[name] = probs
        per_fold[name] = [
            float(np.mean([_top_right(questions[i], probs[i])
                           for i in held if questions[i].answerable] or [False]))
            for held in fold_idx
        ]
        top1 = float(np.mean([_top_right(questions[i], probs[i]) for i in answerable]))
        report["candidate_models"][name] = {
            "top1_correct_answerable": round(top1, 4),
            "per_fold": [round(v, 4) for v in per_fold[name]],
        }
        progress(f"candidate model {name}: held-out top-1 right on answerable {top1:.3f}")
    chosen = "logistic"
    if "boosted" in per_fold:
        gains = np.asarray(per_fold["boosted"]) - np.asarray(per_fold["logistic"])
        margin = 2 * float(gains.std(ddof=1)) / math.sqrt(len(gains))
        report["boosted_minus_logistic"] = {"mean": round(float(gains.mean()), 4),
                                            "two_standard_errors": round(margin, 4)}
        # Trees ship only when they beat the linear model beyond fold-to-fold noise: the
        # linear model is a readable JSON artifact that needs nothing to run.
        if gains.mean() > margin:
            chosen = "boosted"
    report["chosen_candidate_model"] = chosen

    # The reader rereads the first stage's best candidates (held-out scores throughout).
    ranked = first_stage(oof["logistic"])
    rerank_spec: dict[str, Any] | None = None
    if reader is not None:
        ranked, rerank_spec, reader_report = _reread(
            questions, oof["logistic"], fold_idx, reader, out.parent / READER_DIR,
            data.hashes, seed, progress)
        report["reader"] = reader_report

    # Whether to quote the piece after the best one, held out by the same folds.
    f_rows, f_labels, f_owner = follow_rows(questions, ranked)
    follow = np.zeros(len(questions))
    for held in fold_idx:
        inside = np.isin(f_owner, held)
        if inside.any() and _both_classes(f_labels[~inside]):
            spec = _fit_logistic(f_rows[~inside], f_labels[~inside], seed)
            follow[f_owner[inside]] = linear_probabilities(spec, f_rows[inside])
    report["follow_examples"] = {"rows": len(f_labels), "positive": int(f_labels.sum())}

    # Stage 2 on the held-out rankings: is the answer composed from them right?
    second_ratio, follow_threshold, grid = choose_composition(questions, ranked, follow)
    report["composition"] = {"second_ratio": second_ratio,
                             "follow_threshold": follow_threshold, "grid": grid}
    progress(f"second candidate quoted when within {second_ratio:.2f} of the best; "
             f"the piece after the best from a follow probability of {follow_threshold:.2f}")
    outcomes = _outcomes(questions, ranked, second_ratio, follow, follow_threshold)
    rows = np.stack([o.confidence_row for o in outcomes])
    good = np.asarray([o.answerable and o.correct for o in outcomes], dtype=np.int8)
    answerable_mask = np.asarray([o.answerable for o in outcomes])
    # Questions without a candidate are refused whatever the model says: confidence 0.
    usable = np.asarray([not o.empty for o in outcomes])
    confidence = np.zeros(len(outcomes))
    train_conf: list[tuple[np.ndarray, np.ndarray]] = []
    for held in fold_idx:
        mask = np.ones(len(outcomes), dtype=bool)
        mask[held] = False
        spec = _fit_logistic(rows[mask & usable], good[mask & usable], seed)
        confidence[held] = np.where(usable[held], linear_probabilities(spec, rows[held]), 0.0)
        train_conf.append((np.where(usable[mask], linear_probabilities(spec, rows[mask]), 0.0),
                           answerable_mask[mask]))

    if compare:
        report["answer_models"] = _compare_answer_models(
            questions, rows, good, usable, fold_idx, confidence, seed)
        progress("answer models, held-out AURC: " + json.dumps(report["answer_models"]))

    def held_out_at(rate: float, idx: np.ndarray | None = None) -> dict[str, float]:
        # Each fold is answered with the threshold chosen on the other folds.
        answered = np.zeros(len(outcomes), dtype=bool)
        for held, (conf, ans) in zip(fold_idx, train_conf, strict=True):
            answered[held] = confidence[held] >= threshold_for(conf, ans, rate)
        sel = np.arange(len(outcomes)) if idx is None else idx
        m = _answer_metrics([outcomes[i] for i in sel], answered[sel].astype(float), 0.5)
        m["aurc"] = aurc(confidence[sel], good[sel].astype(bool))
        return {k: round(v, 4) for k, v in m.items()}

    report["held_out"] = held_out_at(refusal_rate)
    report["operating_points"] = {
        f"{rate:.2f}": held_out_at(rate) for rate in (0.05, 0.10, 0.15, 0.20, 0.25, 0.30)}
    report["held_out_by_dataset"] = {
        source: held_out_at(refusal_rate, np.asarray(
            [i for i, q in enumerate(questions) if q.group.startswith(source + ":")]))
        for source in sorted({q.group.split(":")[0] for q in questions})
    }
    progress("held-out answers: " + json.dumps(report["held_out"]))
    for rate, point in report["operating_points"].items():
        progress(f"  refusing {rate} of answerable: " + json.dumps(point))

    # Final models on all data. The candidate model shipped is the logistic one, a readable
    # JSON artifact that needs no library to run; the report says if trees did better. The
    # answer model is fitted on held-out stage-1 probabilities, as a new question gets them.
    x, y, owner = _stack(questions)
    candidate_spec = _fit_logistic(x, y, seed, weight=weights[owner])
    answer_spec = _fit_logistic(rows[usable], good[usable], seed)
    # Data where the piece after never helps (or always does) ships no follow model.
    follow_spec = _fit_logistic(f_rows, f_labels, seed) if _both_classes(f_labels) else None
    report["shipped_candidate_model"] = "logistic"
    threshold = threshold_for(confidence, answerable_mask, refusal_rate)
    artifact = {
        "version": 1,
        "candidate": {"features": list(CANDIDATE_FEATURES), **candidate_spec},
        "answer": {"features": list(ANSWER_FEATURES), **answer_spec},
        **({"rerank": rerank_spec} if rerank_spec else {}),
        **({"follow": {"features": list(FOLLOW_FEATURES), **follow_spec,
                       "threshold": follow_threshold}} if follow_spec else {}),
        **({"numeric": numeric} if numeric else {}),
        "threshold": round(threshold, 6),
        "second_ratio": second_ratio,
        "threshold_meaning": f"refuses {refusal_rate:.0%} of answerable questions on "
                             "held-out folds",
        "trained_on": data.hashes,
        "seed": seed,
        "validation": report,
        "python": platform.python_version(),
    }
    out.write_text(json.dumps(artifact, indent=1) + "\n", "utf-8")
    EvidenceModel.load(out)  # the artifact must read back
    return artifact


# Candidates the reader rereads per question, and wrong ones per question it learns from
# (the first stage's best: the confusable ones).
READER_TOP_K = 8
READER_NEGATIVES = 3


def _reread(
    questions: Sequence[Question], stage1: Sequence[np.ndarray], fold_idx: list[np.ndarray],
    recipe: Recipe, folder: Path, hashes: dict[str, str], seed: int, progress: Progress,
) -> tuple[list[Ranked], dict[str, Any], dict[str, Any]]:
    """Fine-tune the reader and fit the rerank model; the held-out rankings they give.

    Reader scores are held out by halves (whole groups), the rerank model by the folds;
    the shipped reader is then fine-tuned on every question and written to ``folder``."""
    from bot.reader_training import fine_tune, save

    tops = [[int(i) for i in np.argsort(-p, kind="stable")[:READER_TOP_K]] for p in stage1]

    def pairs_of(i: int) -> list[Pair]:
        q = questions[i]
        return [Pair(q.standalone, q.quotes[c], int(q.correct[c])) for c in tops[i]]

    def train_pairs_of(i: int) -> list[Pair]:
        pairs = pairs_of(i)
        return ([p for p in pairs if p.label]
                + [p for p in pairs if not p.label][:READER_NEGATIVES])

    halves = [h.tolist() for h in _folds(questions, 2)]
    scores = held_out_scores(halves, pairs_of, train_pairs_of, recipe, seed, progress)
    rows = {i: rerank_features(stage1[i][tops[i]], scores[i]) for i in scores if tops[i]}
    labels = {i: np.asarray([questions[i].correct[c] for c in tops[i]], dtype=np.int8)
              for i in rows}

    def fit(idx: Sequence[int]) -> dict[str, Any]:
        keep = [i for i in idx if i in rows]
        return _fit_logistic(np.concatenate([rows[i] for i in keep]),
                             np.concatenate([labels[i] for i in keep]), seed)

    ranked = first_stage(stage1)
    for held in fold_idx:
        held_set = set(held.tolist())
        spec = fit([i for i in range(len(questions)) if i not in held_set])
        for i in held_set & set(rows):
            probs, order, reader = apply_rerank(
                stage1[i], ranked[i].order, linear_probabilities(spec, rows[i]), scores[i])
            ranked[i] = Ranked(probs, order, reader)
    report = {
        "top_k": READER_TOP_K,
        "recipe": asdict(recipe),
        "top1_first_stage": round(_top1(questions, first_stage(stage1)), 4),
        "top1_reader_alone": round(float(np.mean([
            bool(tops[i]) and questions[i].correct[tops[i][int(np.argmax(scores[i]))]]
            for i, q in enumerate(questions) if q.answerable])), 4),
        "top1_reranked": round(_top1(questions, ranked), 4),
        "top1_ceiling_top_k": round(float(np.mean([
            any(q.correct[c] for c in tops[i]) for i, q in enumerate(questions)
            if q.answerable])), 4),
    }
    progress("reader: " + json.dumps(report))
    all_pairs = [p for i in range(len(questions)) for p in train_pairs_of(i)]
    progress(f"reader: fine-tuning the shipped reader on {len(all_pairs)} pairs")
    save(fine_tune(all_pairs, recipe, seed, progress), recipe, folder,
         {"trained_on": hashes, "seed": seed, "validation": report})
    spec = {"features": list(RERANK_FEATURES), "top_k": READER_TOP_K,
            **fit(range(len(questions)))}
    return ranked, spec, report


class _Untrained(EvidenceModel):
    """Collecting features needs no model."""

    def __init__(self) -> None:
        self.spec = {}
