"""Domain objects shared by the core and every front end. They render themselves."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

REFUSAL = "I can't answer that from the documents."
NOTHING_INDEXED = ("Nothing is indexed yet. Add documents with `bot ingest PATH` (or upload them "
                   "in the web chat).")
# A numbered section title ("2.1 Directory layout", "3. Usage"), cited as "§ 2.1 ...".
_NUMBERED_SECTION = re.compile(r"^\d+(?:\.\d+)*\.?\s+\S")
# Slack rejects a section block whose text is longer than this.
SLACK_SECTION_CHARS = 3000


@dataclass(frozen=True)
class Chunk:
    """A passage of a source document, the unit that is embedded, retrieved and cited."""

    id: str
    text: str
    source: str
    title: str
    start: int
    end: int
    page: int | None = None
    heading: str = ""
    # Where the passage is, as a reader looks it up: "p. 3-4", "slide 7", "Sheet1 row 12",
    # "lines 12-14" (empty for passages stored before it was recorded).
    place: str = ""
    # The character ranges of its text that are code blocks, "start-end" comma-separated
    # ("" for none, and for passages stored before it was recorded).
    code: str = ""

    @property
    def code_spans(self) -> list[tuple[int, int]]:
        """The ranges of :attr:`code` as ``(start, end)`` offsets into the text."""
        return [(int(s), int(e)) for s, _, e in
                (part.partition("-") for part in self.code.split(",") if part)]

    @property
    def context(self) -> str:
        """The passage's heading path, each part once: "Valgrind FAQ > 4. Valgrind behaves
        unexpectedly > 4.6. Why doesn't ...?". The document's title is left out: shared by
        every passage of a document, it made them alike to search and no easier to find
        (evals/README.md, "What search reads")."""
        parts: list[str] = []
        for part in self.heading.split(" > "):
            part = " ".join(part.split())
            if part and part.lower() not in (c.lower() for c in parts):
                parts.append(part)
        return " > ".join(parts)

    @property
    def searched_text(self) -> str:
        """What search reads of the passage (its vector and its BM25 terms): the text under
        its :attr:`context`. A section's heading, or the FAQ question an answer sits under,
        is part of what the passage is about, though it is not quoted."""
        return f"{self.context}\n\n{self.text}" if self.context else self.text

    @property
    def location(self) -> str:
        """Human-readable place in the source: "p. 4, § 2.1 Directory layout",
        "slide 7, Results", "Sheet1 row 12" or "lines 3-5, Install > Linux"."""
        parts = []
        if self.place:
            parts.append(self.place)
        elif self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading:
            last = self.heading.rsplit(" > ", 1)[-1]
            if _NUMBERED_SECTION.match(last):
                parts.append(f"§ {last}")
            # A slide or sheet named by its place is not named again.
            elif not self.place.lower().startswith(self.heading.lower()):
                parts.append(self.heading)
        return ", ".join(parts)

    @property
    def source_name(self) -> str:
        """The file name of the source, for compact display."""
        return Path(self.source).name


@dataclass(frozen=True)
class Scored:
    """A retrieved chunk with its fused score and the ranks that produced it."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_similarity: float | None = None


@dataclass(frozen=True)
class Citation:
    """One ``[n]`` marker of an answer, resolved to the chunk it points at."""

    n: int
    chunk: Chunk
    quote: str = ""
    # The heading of the passage's section that the answer shows the quote under, when the
    # quote's subject is only a pronoun for it ("bare_urls — It detects URLs ..."); the
    # answer text holds it as ``label + LABEL_JOIN`` right before the quote.
    label: str = ""

    def as_dict(self, name: str = "") -> dict[str, Any]:
        """JSON-ready form; ``source`` is ``name`` (the shown name) when given."""
        return {
            "n": self.n, "id": self.chunk.id, "source": name or self.chunk.source_name,
            "location": self.chunk.location, "text": self.chunk.text, "quote": self.quote,
            "label": self.label,
        }


# Between a section label and the quote it introduces.
LABEL_JOIN = " — "


@dataclass
class Answer:
    """The result of :meth:`bot.service.Bot.ask`."""

    question: str
    standalone_question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Scored] = field(default_factory=list)
    backend: str = "extractive"
    notes: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    # Estimated probability that the documents answer the question (None: not estimated).
    confidence: float | None = None
    # Phrases of the quoted text that answer what was asked (a date, a name, a number), for
    # renderings to emphasise.
    highlights: list[str] = field(default_factory=list)
    # Stored source -> the name shown for it (see :func:`display_names`).
    names: dict[str, str] = field(default_factory=dict)

    def name(self, chunk: Chunk) -> str:
        """How this answer names the document ``chunk`` comes from."""
        return self.names.get(chunk.source) or chunk.source_name

    def as_dict(self) -> dict[str, Any]:
        """The JSON object ``bot ask --json`` prints."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.text,
            "refused": self.refused,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "highlights": list(self.highlights),
            "backend": self.backend,
            "notes": list(self.notes),
            "citations": [c.as_dict(self.name(c.chunk)) for c in self.citations],
            "retrieved": [
                {
                    "id": s.chunk.id, "source": self.name(s.chunk), "location": s.chunk.location,
                    "text": s.chunk.text, "score": round(s.score, 6),
                    "dense_rank": s.dense_rank, "lexical_rank": s.lexical_rank,
                }
                for s in self.retrieved
            ],
            "latency_s": round(self.latency_s, 4),
        }

    def as_markdown(self) -> str:
        """Answer text followed by a numbered list of sources, for chat UIs and terminals."""
        lines = [emphasise(self.text, self.highlights, "**", "**")]
        for note in self.notes:
            lines.append(f"\n_{note}_")
        if self.citations:
            lines.append("\n**Sources**")
            for c in self.citations:
                quote = _shorten(c.quote or c.chunk.text, 240)
                lines.append(f"[{c.n}] {self.name(c.chunk)} ({c.chunk.location}): “{quote}”")
        elif self.refused and self.retrieved:
            lines.append("\n**Closest passages**")
            for s in self.retrieved[:3]:
                lines.append(
                    f"- {self.name(s.chunk)} ({s.chunk.location}): “{_shorten(s.chunk.text, 160)}”"
                )
        return "\n".join(lines)

    def _listed(self) -> tuple[str, list[tuple[str, str]]]:
        """The heading and (where, quote) rows of the sources shown under the answer."""
        if self.citations:
            return "Sources", [
                (f"[{c.n}] {self.name(c.chunk)}" + (f", {c.chunk.location}"
                                                    if c.chunk.location else ""),
                 _shorten(c.quote or c.chunk.text, 240))
                for c in self.citations
            ]
        if self.refused and self.retrieved:
            return "Closest passages", [
                (f"- {self.name(s.chunk)}" + (f", {s.chunk.location}" if s.chunk.location
                                              else ""), _shorten(s.chunk.text, 160))
                for s in self.retrieved[:3]
            ]
        return "", []

    def as_text(self) -> str:
        """Plain text for a pipe or a file: the answer, notes, then the sources, no markup."""
        lines = [self.text, *(f"({note})" for note in self.notes)]
        heading, rows = self._listed()
        if rows:
            lines += ["", f"{heading}:"]
            lines += [f"{where}\n    “{quote}”" for where, quote in rows]
        return "\n".join(lines)

    def as_rich(self) -> Any:
        """A ``rich`` renderable for a terminal: the answering phrase in bold, notes dimmed,
        sources listed with where to find them."""
        from rich.console import Group
        from rich.text import Text

        body = Text(self.text, style="bold red" if self.refused else "")
        for phrase in self.highlights:
            at = self.text.find(phrase) if phrase else -1
            if at >= 0:
                body.stylize("bold green", at, at + len(phrase))
        parts: list[Any] = [body, *(Text(note, style="dim italic") for note in self.notes)]
        heading, rows = self._listed()
        if rows:
            parts.append(Text(f"\n{heading}", style="bold"))
            for where, quote in rows:
                parts.append(Text.assemble((where, "cyan"), "\n    ", (f"“{quote}”", "dim")))
        return Group(*parts)

    def as_slack_blocks(self) -> list[dict[str, Any]]:
        """Slack Block Kit blocks: the answer in mrkdwn and a compact sources context."""
        text = emphasise(_slack_escape(self.text), [_slack_escape(h) for h in self.highlights],
                         "*", "*")
        if self.refused:
            text = f":no_entry_sign: *{_slack_escape(self.text)}*"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": part}}
            for part in _split(text, SLACK_SECTION_CHARS)
        ]
        for note in self.notes:
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(note)}]}
            )
        if self.citations:
            elements = [
                {
                    "type": "mrkdwn",
                    "text": _slack_escape(
                        f"[{c.n}] {self.name(c.chunk)} ({c.chunk.location}): "
                        f"“{_shorten(c.quote or c.chunk.text, 150)}”"
                    ),
                }
                for c in self.citations[:10]
            ]
            blocks.append({"type": "context", "elements": elements})
        elif self.refused and self.retrieved:
            closest = "; ".join(
                f"{self.name(s.chunk)} ({s.chunk.location})" for s in self.retrieved[:3]
            )
            blocks.append(
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": _slack_escape(f"Closest passages: {closest}")}
                ]}
            )
        return blocks


@dataclass
class FileReport:
    """What ingest did with one file."""

    source: str
    status: str  # "added", "updated", "unchanged", "removed", "skipped", "failed"
    chunks: int = 0
    embedded: int = 0
    message: str = ""
    # Where a failure happened: reading the file, or writing it to the store.
    stage: Literal["read", "store"] = "read"


@dataclass
class IngestReport:
    """Summary of an ingest run."""

    files: list[FileReport] = field(default_factory=list)
    # Ingested folder (as given) -> stored files under it that no longer exist (not pruned).
    gone: dict[str, int] = field(default_factory=dict)

    @property
    def nothing_ingestible(self) -> bool:
        """True when no file could be read: every file was skipped or failed to load."""
        return not any(
            f.status in {"added", "updated", "unchanged", "removed"}
            or (f.status == "failed" and f.stage == "store")
            for f in self.files
        )

    def hints(self) -> list[str]:
        """What to do next, for the terminal: stored files whose originals are gone."""
        return [
            f"{n} stored file{'s' if n > 1 else ''} no longer exist{'' if n > 1 else 's'} "
            f"under {folder}; `bot ingest {folder} --prune` drops "
            f"{'them' if n > 1 else 'it'}"
            for folder, n in self.gone.items() if n
        ]

    def count(self, status: str) -> int:
        """Number of files that ended with ``status``."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> list[FileReport]:
        """Files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def embedded(self) -> int:
        """Chunks that had to be embedded (zero on an unchanged re-ingest)."""
        return sum(f.embedded for f in self.files)

    def summary(self) -> str:
        """One line for the terminal."""
        parts = [
            f"{self.count(s)} {s}"
            for s in ("added", "updated", "unchanged", "removed", "skipped", "failed")
            if self.count(s)
        ]
        return (", ".join(parts) or "nothing to do") + f"; {self.embedded} chunks embedded"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"files": [asdict(f) for f in self.files], "gone": self.gone,
                "summary": self.summary()}


@dataclass(frozen=True)
class SourceInfo:
    """One indexed document: ``source`` is its stored key (an absolute path), ``name`` how
    people see it (see :func:`display_names`)."""

    source: str
    title: str
    chunks: int
    sha256: str
    name: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, naming the document as people see it, not by its server path."""
        return {"source": self.name or Path(self.source).name, "title": self.title,
                "chunks": self.chunks, "sha256": self.sha256}


def display_names(sources: Iterable[str]) -> dict[str, str]:
    """Each stored path's shortest unique ending: the file name, or as many parent folders
    as it takes to tell it apart ("setup.md", "v2/setup.md"); never the absolute path."""
    paths = {s: Path(s).parts for s in sources}
    # Every ending counted once, so a store of many files is named in linear time.
    endings = Counter(p[-depth:] for p in paths.values() for depth in range(1, len(p) + 1))
    names = {}
    for source, parts in paths.items():
        for depth in range(1, len(parts) + 1):
            tail = parts[-depth:]
            if endings[tail] == 1:
                break
        names[source] = "/".join(tail) if depth < len(parts) else source
    return names


def emphasise(text: str, phrases: list[str], before: str, after: str) -> str:
    """``text`` with the first occurrence of each phrase wrapped in ``before``/``after``."""
    for phrase in phrases:
        at = text.find(phrase) if phrase else -1
        if at >= 0:
            end = at + len(phrase)
            text = f"{text[:at]}{before}{phrase}{after}{text[end:]}"
    return text


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _split(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line or word breaks."""
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text or not parts else parts


def _slack_escape(text: str) -> str:
    # Slack treats &, < and > as control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
