"""The learned evidence scorer: which piece of the retrieved passages answers the question,
and how likely it is that any does.

Candidates are the sentences of the retrieved passages, and the lines of passages laid out
as lines (lists, code, tables). Each (question, candidate) pair is described by features:
idf-weighted term overlap, dense similarity, retrieval ranks, whether the candidate holds a
named entity or number of the kind the question asks for, names of the question it lacks,
how much of it the question does not already say, the heading path it sits under, position
and neighbour context. Two models fitted by ``bot train`` (see
:mod:`bot.training`) and shipped as a small JSON artifact turn the features into
probabilities: one per candidate ("this candidate holds the answer") and one per question
("the best candidate is a right answer"), the confidence the refusal threshold applies to.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from langchain_core.embeddings import Embeddings

from bot.models import Chunk, Scored
from bot.reader import Reader
from bot.store import Snapshot
from bot.text import (
    LIST_ITEM,
    asked_head,
    content_words,
    entities,
    name_keys,
    name_tokens,
    names,
    normalize,
    split_sentences,
    stem,
    words,
)

# What kind of answer a question asks for, from its wh-phrase, and the entity labels
# (spaCy's OntoNotes scheme) that can hold it.
QUESTION_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "date": (r"\b(when|what (year|month|day|date|century|decade|time)|which (year|month|day"
             r"|century|decade)|how long ago|since when)\b",
             frozenset({"DATE", "TIME"})),
    "number": (r"\bhow (many|much|old|long|far|large|big|high|tall|fast|often|wide|deep"
               r"|heavy)\b|\bwhat (percentage|percent|number|amount|proportion|size|value"
               r"|fraction)\b",
               frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL", "DATE",
                          "TIME", "NUMBER"})),
    "person": (r"\b(who|whom|whose)\b", frozenset({"PERSON", "ORG", "NORP"})),
    "place": (r"\b(where|what (country|city|state|region|place|location)|which (country"
              r"|city|state|region|place))\b",
              frozenset({"GPE", "LOC", "FAC", "ORG"})),
    "reason": (r"\b(why|what (caused|causes|is the reason|was the reason))\b", frozenset()),
    "manner": (r"\bhow (do|does|did|can|could|should|to|is|are|was|were)\b", frozenset()),
    "choice": (r"\b(which|what)\b", frozenset()),
    # Asked with an auxiliary first ("Can I ...?", "Does it ...?"): a yes or no, which the
    # sentence giving it seldom words as the question does.
    "polar": (r"^\W*(is|are|was|were|do|does|did|can|could|should|would|will|has|have|had"
              r"|may|must|might|shall)\b", frozenset()),
}
KIND_NAMES = tuple(QUESTION_KINDS)
_KIND_PATTERNS = {k: re.compile(p, re.IGNORECASE) for k, (p, _) in QUESTION_KINDS.items()}
_DOTTED = re.compile(r"\d+(?:\.\d+)+")
# How lines of lists, option tables and code start: a list item, a directive, a prompt, or
# a statement of code.
_LAID_OUT = re.compile(rf"(?:{LIST_ITEM}|#\s*\w|\$\s|>>>\s|[\w.]+\s*(?:=|\(|\{{|:\s*$))")
_REASON = re.compile(r"\b(because|since|due to|so that|in order to|as a result|therefore|"
                     r"thus|caused|leads? to|reason)\b", re.IGNORECASE)

BASE_CANDIDATE_FEATURES = (
    "lex", "lex_ctx", "focus", "focus_ctx", "lex_prev", "lex_next", "lex_passage", "lex_rel",
    "lex_rank", "bigram",
    "cos", "cos_rel", "cos_rank", "cos_passage", "inv_rank", "fused_rel", "dense_hit",
    "lexical_hit", "expects_type", "type_match", "type_count", "new_entities",
    "reason_match", "names_missing", "numbers_missing", "miss_max", "novel", "new_terms",
    "lex_heading", "names_missing_ctx", "lex_x_cos", "type_x_lex", "first", "log_words",
    "is_line", "cos_ctx", "cos_ctx_rel", "lex_prev_rel", "lex_next_rel", "head_asked",
    "head", "head_ctx", "is_code",
    *(f"kind_{k}" for k in KIND_NAMES),
)
# Whether the question's asked noun calls for a figure ("Which version ...?", "What is the
# value of ...?"), as learnt from the training answers (see numeric_expectation), and whether
# the piece gives a figure the question does not, and one of the shape that noun's figures
# take (a release is "1.11", a year "1999", a size "256").
NUMERIC_FEATURES = ("numeric_expect", "new_number", "numeric_gap", "shape_gap")
CANDIDATE_FEATURES = (*BASE_CANDIDATE_FEATURES, *NUMERIC_FEATURES)
# The reader's view of the best candidates, next to the first stage's (see Ranking).
RERANK_FEATURES = ("stage1", "stage1_rel", "reader", "reader_rel", "reader_rank")
# "p_top5" is how much probability the five best candidates hold together: how the model's
# belief spreads over the pieces, not only how high the best one stands.
ANSWER_FEATURES = (
    "p1", "p2", "margin", "lex_passage", "lex", "lex_ctx", "focus_ctx", "cos", "cos_passage",
    "rare_missing", "unseen", "names_missing", "numbers_missing", "miss_max",
    "expects_type", "type_match", "reader_top", "reader_max", "numeric_expect",
    "numeric_gap", "shape_gap", "p_top5",
)
# Whether the piece after the best one should be quoted with it (see follow_features).
FOLLOW_FEATURES = (
    "p_best", "p_after", "after_rel", "after_candidate", "after_lex", "after_focus",
    "after_type_match", "after_new_entities", "after_reason", "after_log_words",
    "after_is_line", "best_lex", "best_focus", "best_type_match", "best_log_words",
    "best_is_line", "best_colon", "best_question", "expects_type", "best_novel",
    "after_novel",
)
# A follow threshold no probability reaches: the piece after is never quoted.
FOLLOW_NEVER = 2.0
ARTIFACT = "evidence-model.json"


# Cached: a question's numeric features and its training counts each ask for its noun, and
# each asking is a parse.
@lru_cache(maxsize=8192)
def asked_noun(question: str) -> str:
    """The stemmed head noun of what ``question`` asks for ("version" of "Since which Rust
    version ..."), "" when it names none."""
    head = asked_head(question).split()
    return stem(head[-1].lower()) if head else ""


def numeric_expectation(
    question: str, numeric: Mapping[str, Any], own: tuple[int, int] = (0, 0)
) -> float:
    """How often, in the training answers, a question asking for this noun was answered
    with a figure: the smoothed share ``(k + a p) / (n + a)`` of the noun's ``[k, n]``
    counts, ``p`` the share over all nouns and ``a`` the prior's weight, both fitted by
    ``bot train``. 0 for a question that names no asked noun. ``own`` takes a training
    question's own counts out of its noun's, so that no question sees its own answer."""
    noun = asked_noun(question)
    if not noun or not numeric:
        return 0.0
    k, n = numeric["heads"].get(noun, (0, 0))
    k, n = k - own[0], n - own[1]
    prior, weight = float(numeric["prior"]), float(numeric["weight"])
    return (k + weight * prior) / (n + weight)


def figure_shape(word: str) -> str | None:
    """The shape of a figure (a word of :func:`bot.text.words` that starts with a digit):
    "year" (1999), "dotted" (1.11, 3.4.4), "percent", "whole" (256, 1,000) or "other".
    None for a word that is no figure, a name with a digit in it ("sha256") among them."""
    if not word[:1].isdigit():
        return None
    if word.endswith("%"):
        return "percent"
    bare = word.replace(",", "")
    if bare.isdigit():
        return "year" if len(bare) == 4 and 1500 <= int(bare) <= 2099 else "whole"
    return "dotted" if _DOTTED.fullmatch(bare) else "other"


def answer_shape(text: str) -> str | None:
    """The shape of the first figure of ``text`` (None when it has none)."""
    return next((shape for w in words(text) if (shape := figure_shape(w))), None)


def shape_shares(
    question: str, numeric: Mapping[str, Any], own: str | None = None
) -> dict[str, float]:
    """How the figures answering a question of this asked noun were shaped in the training
    answers: each shape's smoothed share ``(c + b q) / (k + b)`` of the noun's ``k``
    figure answers, ``q`` the shape's share over all nouns and ``b`` the prior's weight.
    Empty for a question that names no asked noun. ``own`` takes a training question's own
    answer out of the counts."""
    noun = asked_noun(question)
    prior = numeric.get("shape_prior") or {}
    if not noun or not prior:
        return {}
    counts = dict(numeric.get("shapes", {}).get(noun, {}))
    if own is not None and counts.get(own, 0) > 0:
        counts[own] -= 1
    total, weight = sum(counts.values()), float(numeric["shape_weight"])
    return {shape: (counts.get(shape, 0) + weight * float(share)) / (total + weight)
            for shape, share in prior.items()}


def numeric_columns(
    question: str, texts: Sequence[str], expect: float, shares: Mapping[str, float]
) -> np.ndarray:
    """The :data:`NUMERIC_FEATURES` of each piece of ``texts``: the question's ``expect``
    (:func:`numeric_expectation`), whether the piece gives a new figure, the expectation
    when it gives none, and when it does, the expectation times how unlike the shapes
    (``shares``, :func:`shape_shares`) of the asked noun's figures its best one is."""
    said = set(words(question))
    out = np.zeros((len(texts), len(NUMERIC_FEATURES)), dtype=np.float32)
    for i, text in enumerate(texts):
        shapes = [shape for w in words(text) if w not in said and (shape := figure_shape(w))]
        fit = max((shares.get(shape, 0.0) for shape in shapes), default=0.0)
        new = float(bool(shapes))
        out[i] = (expect, new, expect * (1.0 - new),
                  expect * new * (1.0 - fit) if shares else 0.0)
    return out


def question_kind(question: str) -> str | None:
    """The first kind in :data:`QUESTION_KINDS` whose wh-phrase the question has."""
    for kind, pattern in _KIND_PATTERNS.items():
        if pattern.search(question):
            return kind
    return None


@dataclass(frozen=True)
class Candidate:
    """A sentence or line of a retrieved passage that may be quoted as the answer."""

    rank: int
    chunk: Chunk
    index: int
    text: str
    # The piece just before, in the same passage or the passage before it.
    before: str = ""
    before_chunk: Chunk | None = None
    # The piece just after, in the same passage: where a piece that restates the question
    # ("Isn't that a bug?", "To install it:") leaves the answer.
    after: str = ""

    def comes_after(self, other: Candidate) -> bool:
        """Whether this is the piece right after ``other`` in the same passage."""
        return self.chunk.id == other.chunk.id and self.index == other.index + 1


def answer_phrases(question: str, entities: Sequence[tuple[str, str]]) -> list[str]:
    """Entities of a quoted piece that are of the kind the question asks for and that the
    question does not already name: the words that answer it."""
    kind = question_kind(question)
    wanted = QUESTION_KINDS[kind][1] if kind else frozenset()
    q_words = set(words(question))
    return list(dict.fromkeys(
        ent for label, ent in entities
        if label in wanted and not set(words(ent)) <= q_words
    ))


def asked_cell(question: str, piece: str) -> str:
    """The "Column: value" pair of a table row that the question asks for: the column whose
    name shares the most content words with the question, its value not named there
    already ("What is the target tier of ...?" gives "Target Tier: 1"). Empty for a piece
    that is no row, or when no column name is in the question."""
    cells = _row_cells(piece)
    said = {stem(w) for w in content_words(question)}
    # Words of the row's values that the question names pick the row, not the column.
    asked = said - {stem(w) for _, _, value in cells for w in words(value)}
    best, shared = "", 0
    for segment, name, value in cells:
        overlap = len({stem(w) for w in content_words(name)} & asked)
        told = {stem(w) for w in words(value)}
        if overlap > shared and told and not told <= said:
            best, shared = segment, overlap
    return best


def needs_antecedent(cand: Candidate, names_asked: Sequence[str]) -> bool:
    """Whether ``cand`` is quoted with the piece before it: when that piece names the
    subject the question asks about and ``cand`` itself does not ("Born in 1957, he ...")."""
    toks = name_tokens(cand.text)
    lacking = [stem(n) for n in names_asked if stem(n) not in toks]
    return bool(lacking and cand.before) and all(
        n in name_tokens(cand.before) for n in lacking)


# A piece that opens on a pronoun or on "this ..." ("It detects URLs which are not links.",
# "This flag is deprecated.") speaks of what its section is about, which the section's
# heading names and the piece does not.
_ANAPHORIC = re.compile(r"(?:it|its|they|their|this|these)\b", re.IGNORECASE)
# Punctuation around a word ("(it)", "tags.") that is not part of it.
_EDGE = "\"'“”‘’()[]{},.;:!?"


def section_label(chunk: Chunk, text: str) -> str:
    """The innermost heading of ``chunk`` when the quoted ``text`` opens on a pronoun
    standing for the section's subject and does not name the heading's words itself;
    else empty. Shown before the quote, it says what "it" is."""
    heading = chunk.context.rpartition(" > ")[2]
    if not heading or not _ANAPHORIC.match(text):
        return ""
    return "" if _tokens(heading) <= _tokens(text) else heading


def _tokens(text: str) -> set[str]:
    """Words as written, lower-cased, without the punctuation around them: an identifier
    ("invalid_html_tags") is not found among the plain words it is made of."""
    return {t.strip(_EDGE).lower() for t in text.split()} - {""}


@dataclass
class Ranking:
    """Candidates with their probabilities, best first, and the answer-level confidence."""

    candidates: list[Candidate]
    probabilities: np.ndarray
    confidence: float
    # P(the piece after the best one holds the answer that the best one lacks).
    follow: float = 0.0


def _row_cells(line: str) -> list[tuple[str, str, str]]:
    """The ``(segment, column, value)`` of each "Column: value" pair of ``line`` when it is
    a table row as the loaders write one (``row_text``): two or more such pairs, the first
    at its start; empty when it is no row. A column name holds its parentheses whole,
    which tells a row from a gloss ("The Normans (Norman: Nourmands; French: ...")."""
    cells = []
    named = 0
    for segment in line.split("; "):
        name, colon, value = segment.partition(": ")
        if colon and 0 < len(name) <= 60 and name.count("(") == name.count(")"):
            named += 1
        elif not named:
            return []
        if colon:
            cells.append((segment, name, value))
    return cells if named >= 2 else []


def _is_line(piece: str, lines: set[str]) -> bool:
    return piece in lines and bool(_LAID_OUT.match(piece))


# Where the paragraphs of a passage meet: a blank line, or a line break right after the end
# of a sentence. No sentence runs across one ("... an alliance with the U.S.\nShigeru
# Ishiba ..." is two), as no block of the loaders does.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n|(?<=[.!?\"'’”)\]])[ \t]*\n")


def pieces(text: str, code: Sequence[tuple[int, int]] = ()) -> list[tuple[str, bool]]:
    """The sentences of ``text``, each with whether it is a line of a list, code block or
    table (a whole line of the passage that starts like an item, option or statement, or
    any line of a code block in ``code``), so that such a line is quoted whole and never
    merged with its neighbours. A table row is one piece however many sentences it holds:
    its first column names what the others describe ("Constant: RTLD_LAZY; Description:
    Perform lazy binding. Node.js sets this flag by default.")."""
    return [(piece, line) for piece, line, _ in _pieces(text, code)]


def _pieces(text: str, code: Sequence[tuple[int, int]]) -> list[tuple[str, bool, bool]]:
    """:func:`pieces`, each also with whether it is a line of a code block."""
    lines = {ln.strip() for ln in text.split("\n")} if "\n" in text else set()
    out: list[tuple[str, bool, bool]] = []
    prose: list[str] = []
    at = 0

    def flush() -> None:
        if not prose:
            return
        paragraphs = _PARAGRAPH_BREAK.split("\n".join(prose))
        prose.clear()
        for sentence in (s for para in paragraphs for s in split_sentences(para)):
            parts = [ln.strip() for ln in sentence.split("\n") if ln.strip()]
            if len(parts) > 1 and all(_is_line(p, lines) for p in parts):
                out.extend((p, True, False) for p in parts)
            else:
                piece = sentence.strip()
                out.append((piece, _is_line(piece, lines), False))

    for line in text.split("\n"):
        # A line of a code block is a piece of its own, whatever it looks like (a
        # compiler's message reads like prose and runs over several lines).
        in_code = any(s <= at < e for s, e in code) and bool(line.strip())
        if in_code or _row_cells(line.strip()):
            flush()
            out.append((line.strip(), True, in_code))
        else:
            prose.append(line)
        at += len(line) + 1
    flush()
    return [piece for piece in out if any(ch.isalnum() for ch in piece[0])]


@dataclass(frozen=True)
class _Parts:
    texts: list[str]
    lines: list[bool]
    # Which pieces are lines of a code block.
    code: list[bool]
    vectors: np.ndarray
    entities: list[tuple[tuple[str, str], ...]]


class _Analysis:
    """Per-passage analysis reused across questions: pieces, their vectors and entities."""

    def __init__(self, embedder: Embeddings, size: int = 4096) -> None:
        self.embedder = embedder
        self._cache: LRUCache[str, _Parts] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def __call__(self, chunk: Chunk) -> _Parts:
        return self.many([chunk])[0]

    def many(self, chunks: Sequence[Chunk]) -> list[_Parts]:
        """The analysis of each of ``chunks``. The entities of those not analysed yet are
        tagged in one call, which costs less than one per passage. Each passage is
        embedded alone: the int8 encoder quantises a batch by its own range, so a vector
        would otherwise depend on which other passages happened to be new with it."""
        with self._lock:
            known = {c.id: hit for c in chunks if (hit := self._cache.get(c.id)) is not None}
        new = list({c.id: c for c in chunks if c.id not in known}.values())
        if new:
            found = [_pieces(c.text, c.code_spans) or [(c.text, False, False)] for c in new]
            tags = entities([t for f in found for t, _, _ in f])
            start = 0
            for chunk, f in zip(new, found, strict=True):
                texts = [t for t, _, _ in f]
                vectors = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
                known[chunk.id] = _Parts(texts, [line for _, line, _ in f],
                                         [code for _, _, code in f], vectors,
                                         tags[start:start + len(f)])
                start += len(f)
            with self._lock:
                for chunk in new:
                    self._cache[chunk.id] = known[chunk.id]
        return [known[c.id] for c in chunks]


class EvidenceScorer:
    """Features and probabilities for the candidates of one question's passages."""

    def __init__(self, embedder: Embeddings, model: EvidenceModel | None = None,
                 reader: Reader | None = None) -> None:
        self.embedder = embedder
        self._model = model
        self.reader = reader
        self.analysis = _Analysis(embedder)

    @property
    def model(self) -> EvidenceModel:
        """The given model, else the bundled one (read on first use)."""
        if self._model is None:
            self._model = EvidenceModel.bundled()
        return self._model

    def candidates(
        self, question: str, retrieved: Sequence[Scored], snapshot: Snapshot
    ) -> tuple[list[Candidate], np.ndarray]:
        """Every distinct candidate of ``retrieved`` with its feature row."""
        if not retrieved:
            return [], np.zeros((0, len(CANDIDATE_FEATURES)), dtype=np.float32)
        lexical = snapshot.lexical
        q_terms = set(lexical.terms(question))
        idf = {t: lexical.idf(t) for t in q_terms}
        total = sum(idf.values()) or 1.0
        q_bigrams = _bigrams(lexical.terms(question))
        q_names = [stem(n) for n in name_keys(question)]
        # Names the piece (or the one before it) must hold: a name given in full, and any
        # name no stored passage mentions (a question about "Kelvarnia" is not answered by
        # a passage about "Kelvarn", however alike the rest).
        required = [stem(n) for n in name_keys(question, full_names=True)]
        required += [stem(n) for n in name_keys(question)
                     if (ts := lexical.terms(n)) and not any(lexical.known(t) for t in ts)]
        q_words = set(words(question))
        q_numbers = [w for w in q_words if figure_shape(w)]
        kind = question_kind(question)
        wanted = QUESTION_KINDS[kind][1] if kind else frozenset()
        q_vec = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        top_fused = retrieved[0].score or 1.0

        top_idf = max(idf.values(), default=1.0) or 1.0

        def overlap(terms: set[str]) -> float:
            return sum(idf[t] for t in q_terms & terms) / total

        # What the question asks about beyond the names it mentions ("born" in "When was
        # Ada Lovelace born?"): many pieces name the subject, few say what was asked of it.
        focus_terms = q_terms - set(lexical.terms(" ".join(names(question))))
        focus_total = sum(idf[t] for t in focus_terms)
        # What the question asks for ("Which port ...?"): a piece naming it, and saying
        # something new next to it, is where such answers are written.
        head_terms = set(lexical.terms(asked_head(question))) & q_terms
        head_total = sum(idf[t] for t in head_terms)

        def head(terms: set[str]) -> float:
            return sum(idf[t] for t in head_terms & terms) / head_total if head_total else 0.0

        def focus(terms: set[str]) -> float:
            if not focus_total:
                return overlap(terms)
            return sum(idf[t] for t in focus_terms & terms) / focus_total

        def missing_rarest(terms: set[str]) -> float:
            # The rarest question term the text lacks: one unmatched rare word (a swapped
            # name, a detail the text never gives) is a sign the text does not answer.
            return max((idf[t] for t in q_terms - terms), default=0.0) / top_idf

        cands: list[Candidate] = []
        rows: list[dict[str, float]] = []
        seen: set[str] = set()
        analysed = self.analysis.many([hit.chunk for hit in retrieved])
        for rank, (hit, parts) in enumerate(zip(retrieved, analysed, strict=True)):
            texts = parts.texts
            cos = parts.vectors @ q_vec
            # A piece read with the one before it: the question may match the two together
            # (the lead-in names the subject, the piece says what was asked of it).
            joined = parts.vectors.copy()
            joined[1:] += parts.vectors[:-1]
            norms = np.linalg.norm(joined, axis=1)
            cos_ctx = (joined @ q_vec) / np.where(norms > 0, norms, 1.0)
            piece_terms = [set(lexical.terms(t)) for t in texts]
            passage_words = set(words(hit.chunk.text))
            lex_passage = overlap(set().union(*piece_terms))
            cos_passage = (hit.dense_similarity if hit.dense_similarity is not None
                           else float(np.max(cos)))
            numbers_missing = (sum(n not in passage_words for n in q_numbers)
                               / max(len(q_numbers), 1))
            # The heading path says what the whole passage is about ("os.loadavg()"), so
            # its words and names count for every piece under it.
            heading_terms = set(lexical.terms(hit.chunk.context))
            heading_toks = name_tokens(hit.chunk.context)
            for index, text in enumerate(texts):
                key = normalize(text)
                if key in seen or len(words(text)) < 2:
                    continue
                seen.add(key)
                before, before_chunk = "", None
                if index:
                    before = texts[index - 1]
                elif hit.chunk.id in snapshot.previous:
                    before_chunk = snapshot.chunks[snapshot.previous[hit.chunk.id]]
                    # Only its text is needed: no vectors or entities for that passage.
                    before = (pieces(before_chunk.text, before_chunk.code_spans)
                              or [(before_chunk.text, False)])[-1][0]
                terms = piece_terms[index]
                added = terms - q_terms
                before_terms = set(lexical.terms(before))
                toks = name_tokens(text)
                before_toks = name_tokens(before)
                missing = [n for n in q_names if n not in toks]
                # A passage about one person never answers for another of the same first
                # name, however similar the wording; a name its heading gives is its
                # subject.
                if any(n not in toks and n not in before_toks and n not in heading_toks
                       for n in required):
                    continue
                # Entities the question does not already mention: where an answer can be.
                new = [label for label, ent in parts.entities[index]
                       if not set(words(ent)) <= q_words]
                if any(figure_shape(t) and t not in q_words for t in toks):
                    new.append("NUMBER")
                row = {
                    "lex": overlap(terms),
                    "lex_ctx": overlap(terms | before_terms),
                    "focus": focus(terms),
                    "focus_ctx": focus(terms | before_terms),
                    "lex_prev": overlap(before_terms),
                    "lex_next": overlap(piece_terms[index + 1]) if index + 1 < len(texts)
                    else 0.0,
                    "lex_passage": lex_passage,
                    "bigram": len(q_bigrams & _bigrams(lexical.terms(text)))
                    / max(len(q_bigrams), 1),
                    "cos": float(cos[index]),
                    "cos_ctx": float(cos_ctx[index]),
                    "cos_passage": float(cos_passage),
                    "inv_rank": 1.0 / (rank + 1),
                    "fused_rel": hit.score / top_fused,
                    "dense_hit": float(hit.dense_rank is not None),
                    "lexical_hit": float(hit.lexical_rank is not None),
                    "expects_type": float(bool(wanted)),
                    "type_match": float(any(label in wanted for label in new)),
                    "type_count": math.log1p(sum(label in wanted for label in new)),
                    "new_entities": math.log1p(len(new)),
                    "reason_match": float(kind == "reason" and bool(_REASON.search(text))),
                    "names_missing": len(missing) / max(len(q_names), 1),
                    "names_missing_ctx": sum(
                        n not in heading_toks and n not in before_toks for n in missing)
                    / max(len(q_names), 1),
                    "lex_heading": overlap(heading_terms),
                    "head_asked": float(bool(head_total)),
                    "head": head(terms),
                    "head_ctx": head(terms | before_terms | heading_terms),
                    "numbers_missing": numbers_missing,
                    "miss_max": missing_rarest(terms | before_terms),
                    # An answer says something the question does not: a piece made only
                    # of the question's own words (a table row naming just the constant
                    # asked about, a heading restating it) holds no answer.
                    "novel": len(added) / max(len(terms), 1),
                    "new_terms": math.log1p(len(added)),
                    "first": float(index == 0),
                    "log_words": math.log1p(len(words(text))),
                    "is_line": float(parts.lines[index]),
                    "is_code": float(parts.code[index]),
                }
                row["lex_x_cos"] = row["lex"] * row["cos"]
                row["type_x_lex"] = row["type_match"] * row["lex_ctx"]
                for k in KIND_NAMES:
                    row[f"kind_{k}"] = float(kind == k)
                after = texts[index + 1] if index + 1 < len(texts) else ""
                cands.append(Candidate(rank, hit.chunk, index, text, before, before_chunk,
                                       after))
                rows.append(row)
        _relative(rows)
        base = np.asarray([[r[f] for f in BASE_CANDIDATE_FEATURES] for r in rows],
                          dtype=np.float32).reshape(-1, len(BASE_CANDIDATE_FEATURES))
        numeric = self.model.numeric
        return cands, np.hstack([base, numeric_columns(
            question, [c.text for c in cands], numeric_expectation(question, numeric),
            shape_shares(question, numeric))])

    def score(self, question: str, retrieved: Sequence[Scored], snapshot: Snapshot) -> Ranking:
        """Candidates best first, their probabilities and the answer confidence."""
        cands, matrix = self.candidates(question, retrieved, snapshot)
        if not cands:
            return Ranking([], np.zeros(0), 0.0)
        model = self.model
        probs = model.candidate_probabilities(matrix)
        order = sorted(range(len(cands)), key=lambda i: (-probs[i], cands[i].rank,
                                                         cands[i].index))
        reader = np.zeros(0)
        if model.top_k and self.reader is not None:
            top = order[:model.top_k]
            asked = name_keys(question)
            reader = self.reader.score(question, [quoted(cands[i], asked) for i in top])
            reranked = model.rerank_probabilities(rerank_features(probs[top], reader))
            probs, order, reader = apply_rerank(probs, order, reranked, reader)
        confidence = model.confidence(answer_features(
            probs[order], matrix[order], question_signals(question, retrieved, snapshot),
            reader))
        follow = 0.0
        if model.follows and cands[order[0]].after:
            row = follow_features(cands, matrix, probs, order[0])
            follow = float(model.follow_probability(row))
        return Ranking([cands[i] for i in order], probs[order], confidence, follow)


def apply_rerank(
    probs: np.ndarray, order: list[int], reranked: np.ndarray, reader: np.ndarray
) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Probabilities and order once the first ``len(reranked)`` of ``order`` are reread:
    those first, by their new probability, the rest below them; and the reader's logits in
    the new order."""
    top = order[:len(reranked)]
    inner = sorted(range(len(top)), key=lambda j: (-reranked[j], j))
    probs = probs.copy()
    probs[top] = reranked
    rest = order[len(top):]
    probs[rest] = np.minimum(probs[rest], float(reranked.min()))
    return probs, [top[j] for j in inner] + rest, reader[inner]


def quoted(cand: Candidate, names_asked: Sequence[str]) -> str:
    """What the answerer quotes for ``cand``: with the piece before it when that one names
    the subject (see :func:`needs_antecedent`)."""
    return f"{cand.before} {cand.text}" if needs_antecedent(cand, names_asked) else cand.text


def follow_features(
    cands: Sequence[Candidate], rows: np.ndarray, probs: np.ndarray, best: int
) -> np.ndarray:
    """The row that decides whether the piece after candidate ``best`` is quoted with it:
    how the two pieces each match the question, and how the best one ends (a question or
    a lead-in often stops short of the answer). The piece after may be no candidate at all
    (a repeat of another piece, or a name of the question missing): its features are 0."""
    col = {f: i for i, f in enumerate(CANDIDATE_FEATURES)}
    cand = cands[best]
    top = rows[best]
    after = next((i for i, c in enumerate(cands) if c.comes_after(cand)), None)
    p_best = float(probs[best])
    p_after = float(probs[after]) if after is not None else 0.0
    nxt = rows[after] if after is not None else np.zeros(len(CANDIDATE_FEATURES))
    end = cand.text.rstrip()
    values = {
        "p_best": _logit(p_best), "p_after": p_after, "after_rel": p_after / max(p_best, 1e-6),
        "after_candidate": float(after is not None),
        "after_lex": float(nxt[col["lex"]]), "after_focus": float(nxt[col["focus"]]),
        "after_type_match": float(nxt[col["type_match"]]),
        "after_new_entities": float(nxt[col["new_entities"]]),
        "after_reason": float(nxt[col["reason_match"]]),
        "after_log_words": math.log1p(len(words(cand.after))),
        "after_is_line": float(nxt[col["is_line"]]),
        "best_lex": float(top[col["lex"]]), "best_focus": float(top[col["focus"]]),
        "best_type_match": float(top[col["type_match"]]),
        "best_log_words": float(top[col["log_words"]]),
        "best_is_line": float(top[col["is_line"]]),
        "best_colon": float(end.endswith(":")), "best_question": float(end.endswith("?")),
        "expects_type": float(top[col["expects_type"]]),
        "best_novel": float(top[col["novel"]]), "after_novel": float(nxt[col["novel"]]),
    }
    return np.asarray([values[f] for f in FOLLOW_FEATURES], dtype=np.float32)


def rerank_features(stage1: np.ndarray, reader: np.ndarray) -> np.ndarray:
    """The rerank rows of the best candidates: their first-stage probability and reader
    logit, each also against the best of the group, and the rank the reader gives."""
    first = np.asarray([_logit(float(p)) for p in stage1])
    order = np.argsort(-reader, kind="stable")
    rank = np.empty(len(reader))
    rank[order] = np.arange(len(reader))
    values = {"stage1": first, "stage1_rel": first - first.max(), "reader": reader,
              "reader_rel": reader - reader.max(), "reader_rank": 1.0 / (rank + 1)}
    return np.stack([values[f] for f in RERANK_FEATURES], axis=1).astype(np.float32)


def _relative(rows: list[dict[str, float]]) -> None:
    """Add each candidate's standing among the question's candidates: the gap to the best
    overlap and similarity, and its rank by each (1 for the best); and how its neighbours'
    overlap stands against the best, since the piece that restates the question best often
    has the answer right after it or right before it."""
    if not rows:
        return
    for key in ("lex", "cos"):
        values = [r[key] for r in rows]
        best = max(values)
        order = sorted(range(len(values)), key=lambda i: -values[i])
        for position, i in enumerate(order):
            rows[i][f"{key}_rel"] = values[i] - best
            rows[i][f"{key}_rank"] = 1.0 / (position + 1)
    best_lex = max(r["lex"] for r in rows)
    best_ctx = max(r["cos_ctx"] for r in rows)
    for r in rows:
        r["lex_prev_rel"] = r["lex_prev"] - best_lex
        r["lex_next_rel"] = r["lex_next"] - best_lex
        r["cos_ctx_rel"] = r["cos_ctx"] - best_ctx


def _bigrams(terms: Sequence[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(terms))


def question_signals(
    question: str, retrieved: Sequence[Scored], snapshot: Snapshot
) -> tuple[float, float]:
    """Whether the question's rarest term is absent from the best passage, and the share
    of the question's weight in terms no stored passage has: both hint that the documents
    do not hold the answer."""
    lexical = snapshot.lexical
    terms = lexical.terms(question)
    if not terms or not retrieved:
        return 0.0, 0.0
    rarest = max(terms, key=lexical.idf)
    rare_missing = float(rarest not in set(lexical.terms(retrieved[0].chunk.text)))
    weights = {t: lexical.idf(t) for t in terms}
    # Passage counts are of quoted text; a word only a heading has is not unseen.
    headed = {t for hit in retrieved for t in lexical.terms(hit.chunk.context)}
    unseen = sum(w for t, w in weights.items() if not lexical.known(t) and t not in headed)
    return rare_missing, unseen / (sum(weights.values()) or 1.0)


def answer_features(
    probs: np.ndarray, rows: np.ndarray, signals: tuple[float, float], reader: np.ndarray
) -> np.ndarray:
    """The answer-level feature row from candidates sorted best first (``reader``: the
    reader's logits of the first of them, in the same order; empty without a reader)."""
    col = {f: i for i, f in enumerate(CANDIDATE_FEATURES)}
    top = rows[0]
    p1 = float(probs[0])
    p2 = float(probs[1]) if len(probs) > 1 else 0.0
    values = {
        "p1": _logit(p1), "p2": _logit(p2), "margin": p1 - p2,
        "lex_passage": float(top[col["lex_passage"]]), "lex": float(top[col["lex"]]),
        "lex_ctx": float(top[col["lex_ctx"]]), "miss_max": float(top[col["miss_max"]]),
        "focus_ctx": float(top[col["focus_ctx"]]),
        "cos": float(top[col["cos"]]), "cos_passage": float(top[col["cos_passage"]]),
        "rare_missing": signals[0], "unseen": signals[1],
        "names_missing": float(top[col["names_missing"]]),
        "numbers_missing": float(top[col["numbers_missing"]]),
        "expects_type": float(top[col["expects_type"]]),
        "type_match": float(top[col["type_match"]]),
        "reader_top": float(reader[0]) if len(reader) else 0.0,
        "reader_max": float(reader.max()) if len(reader) else 0.0,
        "numeric_expect": float(top[col["numeric_expect"]]),
        "numeric_gap": float(top[col["numeric_gap"]]),
        "shape_gap": float(top[col["shape_gap"]]),
        "p_top5": float(np.sum(probs[:5])),
    }
    return np.asarray([values[f] for f in ANSWER_FEATURES], dtype=np.float32)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class EvidenceModel:
    """Two logistic models read from the JSON artifact written by ``bot train``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        rerank = spec.get("rerank", {"features": list(RERANK_FEATURES)})
        follow = spec.get("follow", {"features": list(FOLLOW_FEATURES)})
        if (tuple(spec["candidate"]["features"]) != CANDIDATE_FEATURES
                or tuple(spec["answer"]["features"]) != ANSWER_FEATURES
                or tuple(rerank["features"]) != RERANK_FEATURES
                or tuple(follow["features"]) != FOLLOW_FEATURES):
            raise ValueError("the evidence model was trained on other features; "
                             "retrain it with `bot train`")

    @classmethod
    def load(cls, path: Path) -> EvidenceModel:
        """Read an artifact file."""
        return cls(json.loads(path.read_text("utf-8")))

    @classmethod
    def bundled(cls) -> EvidenceModel:
        """The artifact shipped with the package."""
        return cls(json.loads(resources.files("bot").joinpath(ARTIFACT).read_text("utf-8")))

    @cached_property
    def _candidate(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        return _linear(self.spec["candidate"])

    @cached_property
    def _answer(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        return _linear(self.spec["answer"])

    @cached_property
    def _rerank(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        return _linear(self.spec["rerank"])

    @cached_property
    def _follow(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        return _linear(self.spec["follow"])

    @property
    def follows(self) -> bool:
        """Whether the model decides when to quote the piece after the best one."""
        return "follow" in self.spec

    @property
    def follow_threshold(self) -> float:
        """The follow probability from which the piece after the best one is quoted too,
        chosen on validation folds (above 1: never)."""
        return float(self.spec.get("follow", {}).get("threshold", FOLLOW_NEVER))

    def follow_probability(self, row: np.ndarray) -> float:
        """P(the piece after the best one holds the answer that the best one lacks)."""
        return float(_predict(self._follow, row.reshape(1, -1))[0])

    @cached_property
    def numeric(self) -> dict[str, Any]:
        """The training answers' counts by asked noun (see :func:`numeric_expectation`);
        empty for a model without them."""
        return dict(self.spec.get("numeric", {}))

    @property
    def top_k(self) -> int:
        """How many of the best candidates the reader rereads (0: a model without one)."""
        return int(self.spec.get("rerank", {}).get("top_k", 0))

    @property
    def threshold(self) -> float:
        """The confidence below which the bot refuses, chosen on validation folds."""
        return float(self.spec["threshold"])

    @property
    def second_ratio(self) -> float:
        """How close (as a share of the best's probability) the second best candidate must
        come to be quoted too, chosen on validation folds."""
        return float(self.spec["second_ratio"])

    def candidate_probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(candidate holds the answer) for each row."""
        return _predict(self._candidate, rows)

    def rerank_probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(candidate holds the answer) once the reader has read it."""
        return _predict(self._rerank, rows)

    def confidence(self, row: np.ndarray) -> float:
        """P(the best candidate answers the question)."""
        return float(_predict(self._answer, row.reshape(1, -1))[0])


def _linear(part: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    return (np.asarray(part["mean"], dtype=np.float64), np.asarray(part["scale"], np.float64),
            np.asarray(part["coef"], dtype=np.float64), float(part["intercept"]))


def linear_probabilities(part: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    """Probabilities of one logistic model of the artifact (``mean``, ``scale``, ``coef``,
    ``intercept``) for ``rows``."""
    return _predict(_linear(part), rows)


def _predict(
    params: tuple[np.ndarray, np.ndarray, np.ndarray, float], rows: np.ndarray
) -> np.ndarray:
    mean, scale, coef, intercept = params
    z = ((np.asarray(rows, dtype=np.float64) - mean) / scale) @ coef + intercept
    return np.asarray(1.0 / (1.0 + np.exp(-z)))
