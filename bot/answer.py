"""Answer composition: extractive quoting, and checking any generated reply's citations."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from langchain_core.embeddings import Embeddings

from bot import citations as markers
from bot.grounding import support
from bot.models import REFUSAL, Chunk, Citation, Scored
from bot.store import Snapshot
from bot.text import normalize, split_sentences, words

_MONTHS = frozenset(
    """
    january february march april may june july august september october november december
    """.split()
)
_NUMBER_WORDS = frozenset(
    """
    one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty
    hundred thousand million billion trillion dozen half percent
    """.split()
)
# Score factor for a sentence that matches none of what the question asks about.
FOCUS_PENALTY = 0.7
_CAPITAL_MID = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")


@dataclass
class Draft:
    """An answer before it is wrapped with the question and retrieval details."""

    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    confidence: float | None = None


def refusal(note: str = "") -> Draft:
    """The fixed refusal, with an optional explanation."""
    return Draft(REFUSAL, True, [], [note] if note else [])


def expected_type(question: str) -> str | None:
    """What kind of answer the question asks for: date, number, name, place, or None."""
    q = question.lower()
    if re.search(
        r"\b(when|what year|which year|date|what day|what century|how long ago)\b", q
    ):
        return "date"
    if re.search(
        r"\bhow (many|much|old|long|far|large|big)\b"
        r"|\bwhat (percentage|percent|number|amount)\b", q
    ):
        return "number"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "name"
    if re.search(r"\bwhere\b", q):
        return "place"
    return None


def has_type(sentence: str, kind: str | None) -> bool:
    """Whether ``sentence`` contains something of the expected answer type."""
    if kind is None:
        return True
    toks = words(sentence)
    if kind == "date":
        return any(
            re.fullmatch(r"\d{3,4}s?", t) or t in _MONTHS or t in {"century", "ago"}
            for t in toks
        )
    if kind == "number":
        return any(t[0].isdigit() or t in _NUMBER_WORDS for t in toks)
    return bool(_CAPITAL_MID.search(sentence))


@dataclass(frozen=True)
class _Candidate:
    rank: int
    text: str
    index: int
    score: float
    # The sentence just before, when it is what names the subject of this one.
    antecedent: str = ""
    antecedent_chunk: Chunk | None = None


class ExtractiveAnswerer:
    """Quotes the sentences of the retrieved passages that best answer the question."""

    def __init__(
        self, embedder: Embeddings, min_score: float, max_sentences: int,
        cache_size: int = 4096,
    ) -> None:
        self.embedder = embedder
        self.min_score = min_score
        self.max_sentences = max_sentences
        # Sentence vectors per passage: popular passages are retrieved again and again, and
        # embedding them is most of the cost of an answer. Each passage is embedded on its
        # own, so its vectors do not depend on which other passages came with it.
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def sentence_vectors(self, chunk: Chunk) -> np.ndarray:
        """Unit vectors of the sentences of ``chunk`` (in :func:`split_sentences` order)."""
        with self._lock:
            hit = self._vectors.get(chunk.id)
            if hit is not None:
                self._vectors.move_to_end(chunk.id)
                return hit
        sents = split_sentences(chunk.text) or [chunk.text]
        vectors = np.asarray(self.embedder.embed_documents(sents), dtype=np.float32)
        with self._lock:
            self._vectors[chunk.id] = vectors
            if len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        return vectors

    def score_sentences(
        self, question: str, retrieved: Sequence[Scored], snapshot: Snapshot
    ) -> list[_Candidate]:
        """Every sentence of the retrieved passages with its evidence score, best first.

        The score mixes idf-weighted overlap with the question's terms, embedding
        similarity, and whether the sentence holds the kind of answer asked for. Names in
        the question must be in the sentence, or, for a sentence that names nobody the
        question asks about ("Born in 1957, he ..."), in the sentence just before it: never
        further back, so that a passage about one person cannot answer for another.
        """
        lexical = snapshot.lexical
        q_terms = set(lexical.terms(question))
        weight = sum(lexical.idf(t) for t in q_terms) or 1.0
        names = _question_names(question)
        kind = expected_type(question)
        # What the question asks about beyond the names it mentions ("wife" in "Who is
        # Suga's wife?"): a sentence that names the person but matches none of it is weak,
        # unless it holds the date or number asked for (the words may be paraphrased).
        focus = q_terms - set(lexical.terms(" ".join(_capitalised(question))))
        raw: list[tuple[int, int, str, str, Chunk | None]] = []
        vecs: list[np.ndarray] = []
        seen: set[str] = set()
        for rank, hit in enumerate(retrieved):
            sents = split_sentences(hit.chunk.text)
            chunk_vectors: np.ndarray | None = None
            for index, sent in enumerate(sents):
                key = normalize(sent)
                if key in seen or len(words(sent)) < 3:
                    continue
                seen.add(key)
                before, before_chunk = "", None
                if index:
                    before = sents[index - 1]
                elif hit.chunk.id in snapshot.previous:
                    before_chunk = snapshot.chunks[snapshot.previous[hit.chunk.id]]
                    before = (split_sentences(before_chunk.text) or [""])[-1]
                raw.append((rank, index, sent, before, before_chunk))
                if chunk_vectors is None:
                    chunk_vectors = self.sentence_vectors(hit.chunk)
                vecs.append(chunk_vectors[index])
        if not raw:
            return []
        dense = np.stack(vecs) @ np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        out = []
        for (rank, index, sent, before, before_chunk), cos in zip(raw, dense, strict=True):
            sent_words = set(words(sent))
            in_sentence = q_terms & set(lexical.terms(sent))
            antecedent = ""
            # Names the sentence lacks ("Ishiba" in "He was appointed Defense Minister")
            # may come from the sentence just before it, and only from there.
            absent = [n for n in names if n not in sent_words]
            if absent and before and all(n in set(words(before)) for n in absent):
                antecedent = before
                in_sentence |= q_terms & set(lexical.terms(before))
            score = 0.6 * sum(lexical.idf(t) for t in in_sentence) / weight + 0.4 * float(cos)
            typed = kind in ("date", "number") and has_type(sent, kind)
            if focus and not focus & in_sentence and not typed:
                score *= FOCUS_PENALTY
            if not has_type(sent, kind):
                score *= 0.6
            named = sent_words | (set(words(antecedent)) if antecedent else set())
            if any(n not in named for n in names):
                score *= 0.5
            out.append(_Candidate(
                rank, sent, index, score, antecedent, before_chunk if antecedent else None
            ))
        out.sort(key=lambda c: (-c.score, c.rank, c.index))
        return out

    def answer(self, question: str, retrieved: Sequence[Scored], snapshot: Snapshot) -> Draft:
        """Compose a cited answer, or refuse when the evidence is too weak."""
        candidates = self.score_sentences(question, retrieved, snapshot)
        if not candidates or candidates[0].score < self.min_score:
            return refusal()
        best = candidates[0].score
        chosen = [candidates[0]]
        for cand in candidates[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if cand.score >= max(self.min_score, 0.85 * best) and cand.rank == chosen[0].rank:
                chosen.append(cand)
        # Keep quoted sentences in document order so the answer reads like the source.
        chosen.sort(key=lambda c: (c.rank, c.index))
        citations: list[Citation] = []
        numbers: dict[str, int] = {}

        def cite(chunk: Chunk, quote: str) -> str:
            if chunk.id not in numbers:
                numbers[chunk.id] = len(numbers) + 1
                citations.append(Citation(numbers[chunk.id], chunk, quote))
            return f"[{numbers[chunk.id]}]"

        parts = []
        quoted: set[str] = set()
        for cand in chosen:
            chunk = retrieved[cand.rank].chunk
            if cand.antecedent and normalize(cand.antecedent) not in quoted:
                quoted.add(normalize(cand.antecedent))
                if cand.antecedent_chunk is not None:
                    ante = cand.antecedent
                    parts.append(f"{ante} {cite(cand.antecedent_chunk, ante)}")
                    parts.append(f"{cand.text} {cite(chunk, cand.text)}")
                else:
                    text = f"{cand.antecedent} {cand.text}"
                    parts.append(f"{text} {cite(chunk, text)}")
            else:
                parts.append(f"{cand.text} {cite(chunk, cand.text)}")
            quoted.add(normalize(cand.text))
        return Draft(" ".join(parts), False, citations)


def _capitalised(question: str) -> list[str]:
    """Capitalised words of a question after its first word."""
    return [w for w in re.findall(r"[^\W\d_][\w'’-]*", question)[1:] if w[:1].isupper()]


def _question_names(question: str) -> list[str]:
    """The names a passage must mention: the last word of each capitalised run of words
    after the question's first word ("Shigeru Ishiba" asks for "ishiba")."""
    names: list[str] = []
    run: list[str] = []
    for tok in [*question.split()[1:], ""]:
        word = re.sub(r"(?:['’]s)?[^\w]*$", "", tok)
        if word[:1].isupper() and word.isalpha() and len(word) > 1:
            run.append(word.lower())
            if word == tok:
                continue
        if run:
            names.append(run[-1])
            run = []
    return list(dict.fromkeys(names))


def check_reply(
    reply: str, retrieved: Sequence[Scored], embedder: Embeddings | None
) -> Draft:
    """Keep the sentences of a generated reply whose ``[n]`` citations resolve and support them.

    Markers that point at no retrieved passage are removed; sentences without a valid
    marker, or that the support scorer finds unsupported, are dropped with a note.
    """
    sentences: list[str] = []
    for piece in split_sentences(reply.strip()):
        # "... stability. [1]" splits into the sentence and a marker-only piece: rejoin them.
        if sentences and markers.is_only_markers(piece):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    kept: list[str] = []
    renumber: dict[int, int] = {}
    citations: list[Citation] = []
    dropped = 0
    for sentence in sentences:
        cited = sorted(n for n in markers.numbers(sentence) if 1 <= n <= len(retrieved))
        bare = markers.strip(sentence)
        if not cited or not bare:
            dropped += bool(bare)
            continue
        verdict = support(bare, [retrieved[n - 1].chunk.text for n in cited], embedder)
        if not verdict.supported:
            dropped += 1
            continue
        labels = []
        for n in cited:
            if n not in renumber:
                renumber[n] = len(renumber) + 1
                citations.append(Citation(renumber[n], retrieved[n - 1].chunk, bare))
            labels.append(f"[{renumber[n]}]")
        kept.append(f"{bare} {''.join(labels)}")
    if not kept:
        return refusal("The generated reply had no sentence supported by the documents.")
    notes = []
    if dropped:
        notes.append(
            f"{dropped} sentence(s) of the generated reply were removed: not supported by "
            "the cited passages."
        )
    return Draft(" ".join(kept), False, citations, notes)
