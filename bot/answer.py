"""Answer composition: extractive quoting, and checking any generated reply's citations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from langchain_core.embeddings import Embeddings

from bot import citations as markers
from bot.citations import Numbering
from bot.evidence import (
    Candidate,
    EvidenceModel,
    EvidenceScorer,
    Ranking,
    answer_phrases,
    asked_cell,
    needs_antecedent,
    section_label,
)
from bot.grounding import support
from bot.models import LABEL_JOIN, REFUSAL, Chunk, Citation, Scored
from bot.reader import Reader
from bot.store import Snapshot
from bot.text import entities, name_keys, split_sentences, starts_like_item


@dataclass
class Draft:
    """An answer before it is wrapped with the question and retrieval details."""

    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    confidence: float | None = None
    highlights: list[str] = field(default_factory=list)


def refusal(note: str = "", confidence: float | None = None) -> Draft:
    """The fixed refusal, with an optional explanation."""
    return Draft(REFUSAL, True, [], [note] if note else [], confidence)


class ExtractiveAnswerer:
    """Quotes the pieces of the retrieved passages that the evidence model finds answer the
    question, or refuses when its confidence is below the threshold."""

    def __init__(
        self, embedder: Embeddings, min_confidence: float | None, max_sentences: int,
        model: EvidenceModel | None = None, reader: Reader | None = None,
    ) -> None:
        self.scorer = EvidenceScorer(embedder, model, reader)
        self.min_confidence = min_confidence
        self.max_sentences = max_sentences

    def warm_up(self) -> None:
        """Read the evidence model and load the entity tagger now, so the first question
        does not wait for them."""
        _ = self.scorer.model
        entities(["Warm-up on Monday in Paris."])

    @staticmethod
    def _asks_for_steps(question: str) -> bool:
        return bool(_STEPS.search(question))

    def _block(
        self, best: Candidate, snapshot: Snapshot
    ) -> tuple[list[tuple[str, str]], list[Citation]] | None:
        """The whole list or code block the best piece belongs to or leads into ("To
        install it:"), as quotes with their markers: a question asking how, or for steps or
        options, wants all of it. None when the best piece is plain prose."""
        parts = self.scorer.analysis(best.chunk)
        if parts.lines[best.index]:
            lo, hi = _line_block(parts.lines, best.index)
            return self._quote_lines(best.chunk, lo, hi, 1)
        lead_in = best.text.rstrip().endswith(":")
        if lead_in and best.index + 1 < len(parts.lines) and parts.lines[best.index + 1]:
            hi = _line_block(parts.lines, best.index + 1)[1]
            return self._quote_lines(best.chunk, best.index, hi, 1)
        # Lists whose items are passages of their own, one after the other.
        items = self._item_run(best.chunk, snapshot, lead_in)
        if not items:
            return None
        quotes: list[tuple[str, str]] = []
        cited: list[Citation] = []
        for n, chunk in enumerate(items, start=1):
            quotes.append((chunk.text, Numbering.label([n])))
            cited.append(Citation(n, chunk, chunk.text))
        return quotes, cited

    @staticmethod
    def _item_run(start: Chunk, snapshot: Snapshot, lead_in: bool) -> list[Chunk]:
        """``start`` and the list items around it (or after it, for a lead-in), under one
        heading; empty when ``start`` is neither an item nor a lead-in to one."""
        def item(cid: str | None) -> Chunk | None:
            chunk = snapshot.chunks.get(cid) if cid else None
            same = chunk is not None and chunk.heading == start.heading
            return chunk if same and chunk and starts_like_item(chunk.text) else None

        if not lead_in and not starts_like_item(start.text):
            return []
        first = start
        if not lead_in:
            for _ in range(MAX_BLOCK_LINES):
                before = item(snapshot.previous.get(first.id))
                if before is None:
                    break
                first = before
        chain = [first]
        while len(chain) < MAX_BLOCK_LINES:
            nxt = item(snapshot.following.get(chain[-1].id))
            if nxt is None:
                break
            chain.append(nxt)
        return chain if len(chain) > 1 else []

    def _quote_lines(
        self, chunk: Chunk, lo: int, hi: int, n: int
    ) -> tuple[list[tuple[str, str]], list[Citation]]:
        parts = self.scorer.analysis(chunk)
        text = chunk.text
        start = text.find(parts.texts[lo])
        end = text.find(parts.texts[hi], max(start, 0))
        found = start >= 0 and end >= 0
        quote = text[start:end + len(parts.texts[hi])] if found else parts.texts[lo]
        return [(quote, Numbering.label([n]))], [Citation(n, chunk, quote)]

    @property
    def threshold(self) -> float:
        """Confidence below which the answer is a refusal: the setting, else the model's."""
        if self.min_confidence is None:
            return self.scorer.model.threshold
        return self.min_confidence

    def rank(self, question: str, retrieved: Sequence[Scored], snapshot: Snapshot) -> Ranking:
        """Candidates best first with their probabilities and the answer confidence."""
        return self.scorer.score(question, retrieved, snapshot)

    def answer(self, question: str, retrieved: Sequence[Scored], snapshot: Snapshot) -> Draft:
        """Compose a cited answer, or refuse when the evidence is too weak."""
        ranking = self.rank(question, retrieved, snapshot)
        if not ranking.candidates or ranking.confidence < self.threshold:
            return refusal(confidence=ranking.confidence)
        best = ranking.candidates[0]
        if self._asks_for_steps(question):
            block = self._block(best, snapshot)
            if block is not None:
                return Draft(" ".join(f"{quote} {cite}" for quote, cite in block[0]), False,
                             block[1], confidence=ranking.confidence)
        chosen = [best]
        model = self.scorer.model
        # The piece after the best one, when the model finds the answer there: a piece
        # that restates the question or leads in ("Isn't that a bug?") is quoted with it.
        follows = bool(best.after) and ranking.follow >= model.follow_threshold
        # When the model is torn between two pieces, both are quoted, each with its own
        # citation (every piece names what the question names, so nothing is blended).
        probs = ranking.probabilities
        if (len(probs) > 1 and self.max_sentences > 1
                and probs[1] >= model.second_ratio * probs[0]):
            second = ranking.candidates[1]
            if not (follows and second.comes_after(best)):
                chosen.append(second)
        # Best first: a reader takes the first piece for the answer (when the model is torn
        # between two rows of one table, the row it prefers leads).
        names_asked = name_keys(question)
        numbering = Numbering()
        citations: list[Citation] = []

        def cite(chunk: Chunk, quote: str, label: str = "") -> str:
            n, first = numbering(chunk.id)
            if first:
                citations.append(Citation(n, chunk, quote, label))
            return Numbering.label([n])

        parts = []
        indices = {(c.chunk.id, c.index) for c in chosen}
        quoted = {(c.chunk.id, c.text) for c in chosen}
        for cand in chosen:
            extend = cand is best and follows
            # The subject of a piece may be named only in the piece before it ("Born in
            # 1957, he ..."): quote that one too, so the answer says who it is about,
            # unless it is quoted already (the end of the passage before, chosen too).
            before_quoted = cand.before_chunk is not None and (
                cand.before_chunk.id, cand.before) in quoted
            if needs_antecedent(cand, names_asked) and not before_quoted and (
                cand.chunk.id, cand.index - 1) not in indices:
                if cand.before_chunk is not None:
                    parts.append(f"{cand.before} {cite(cand.before_chunk, cand.before)}")
                    text = _span(cand.chunk.text, cand.text, cand.after) if extend \
                        else cand.text
                else:
                    text = _span(cand.chunk.text, cand.before, cand.after) if extend \
                        else f"{cand.before} {cand.text}"
            else:
                text = _span(cand.chunk.text, cand.text, cand.after) if extend else cand.text
            # A label only where the quote opens the answer's words from this passage:
            # a passage cited twice keeps its first citation, and its label with it.
            label = section_label(cand.chunk, text) if cand.chunk.id not in {
                c.chunk.id for c in citations} else ""
            parts.append(f"{label}{LABEL_JOIN if label else ''}{text} "
                         f"{cite(cand.chunk, text, label)}")
        tags = self.scorer.analysis(best.chunk).entities
        found = list(tags[best.index]) + (list(tags[best.index + 1]) if follows else [])
        # In a table row, the column asked about is the answer ("Target Tier: 1").
        cells = [cell for c in chosen if (cell := asked_cell(question, c.text))]
        return Draft(" ".join(parts), False, citations, confidence=ranking.confidence,
                     highlights=list(dict.fromkeys(cells + answer_phrases(question, found))))


_STEPS = re.compile(r"\b(how (do|can|should|would) (i|we|you)|how to|steps?|list|options"
                    r"|ways?|which (commands?|flags?|settings?))\b", re.IGNORECASE)
# Most lines of a list or code block quoted as one answer.
MAX_BLOCK_LINES = 12


def _span(text: str, first: str, last: str) -> str:
    """The passage ``text`` from piece ``first`` to the end of piece ``last``, as written
    there; the two joined by a space when they cannot be found in order."""
    start = text.find(first)
    end = text.find(last, max(start, 0) + len(first)) if start >= 0 else -1
    return text[start:end + len(last)] if end >= 0 else f"{first} {last}"


def _line_block(lines: Sequence[bool], index: int) -> tuple[int, int]:
    """First and last index of the run of lines around ``index``."""
    lo = hi = index
    while lo > 0 and lines[lo - 1] and hi - lo + 1 < MAX_BLOCK_LINES:
        lo -= 1
    while hi + 1 < len(lines) and lines[hi + 1] and hi - lo + 1 < MAX_BLOCK_LINES:
        hi += 1
    return lo, hi


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
    numbering = Numbering()
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
            local, first = numbering(n)
            if first:
                citations.append(Citation(local, retrieved[n - 1].chunk, bare))
            labels.append(local)
        kept.append(f"{bare} {Numbering.label(labels)}")
    if not kept:
        return refusal("The generated reply had no sentence supported by the documents.")
    notes = []
    if dropped:
        notes.append(
            f"{dropped} sentence(s) of the generated reply were removed: not supported by "
            "the cited passages."
        )
    return Draft(" ".join(kept), False, citations, notes)
