"""Eval datasets: the project's JSONL cases and SQuAD 2.0 files as open-corpus benchmarks."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.text import sentence_spans


class DatasetError(ValueError):
    """A dataset file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Case:
    """One question of an eval set, with what a good answer must show."""

    id: str
    question: str
    answerable: bool
    history: tuple[dict[str, str], ...] = ()
    reference: str = ""
    # Every group must match the answer; any alternative of a group will do.
    must_include: tuple[tuple[str, ...], ...] = ()
    # Quotes that must appear in a retrieved (and cited) passage.
    evidence: tuple[str, ...] = ()
    # SQuAD only: the gold answers and the document the question was written on.
    gold_answers: tuple[str, ...] = ()
    gold_source: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id, "question": self.question, "answerable": self.answerable,
            "history": list(self.history), "reference": self.reference,
            "must_include": [list(g) for g in self.must_include],
            "evidence": list(self.evidence), "gold_answers": list(self.gold_answers),
            "gold_source": self.gold_source,
        }


@dataclass
class Dataset:
    """Cases plus the documents they are asked against."""

    name: str
    kind: str  # "jsonl" or "squad"
    cases: list[Case]
    corpus: list[Path] = field(default_factory=list)
    total_cases: int = 0


def load_jsonl(path: Path) -> list[Case]:
    """Cases of a JSONL file, one object a line; blank lines and ``#`` lines are skipped."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc
    cases: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON: {exc.msg}") from exc
        case = _case(obj, where)
        if case.id in seen:
            raise DatasetError(f"{where}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: no cases")
    return cases


def _case(obj: Any, where: str) -> Case:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: each line must be a JSON object")
    for key, kind in (("id", str), ("question", str), ("answerable", bool)):
        if not isinstance(obj.get(key), kind):
            raise DatasetError(f"{where}: {key!r} is required and must be a {kind.__name__}")
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and isinstance(t.get("role"), str)
        and isinstance(t.get("content"), str) for t in history
    ):
        raise DatasetError(f"{where}: 'history' must be a list of {{role, content}} objects")
    groups = obj.get("must_include") or []
    if not isinstance(groups, list):
        raise DatasetError(f"{where}: 'must_include' must be a list of lists of strings")
    must: list[tuple[str, ...]] = []
    for group in groups:
        alternatives = [group] if isinstance(group, str) else group
        if not isinstance(alternatives, list) or not alternatives or not all(
            isinstance(a, str) and a.strip() for a in alternatives
        ):
            raise DatasetError(f"{where}: 'must_include' must be a list of lists of strings")
        must.append(tuple(alternatives))
    evidence = obj.get("evidence") or []
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise DatasetError(f"{where}: 'evidence' must be a list of strings")
    reference = obj.get("reference") or ""
    if not isinstance(reference, str):
        raise DatasetError(f"{where}: 'reference' must be a string")
    return Case(
        id=obj["id"], question=obj["question"], answerable=obj["answerable"],
        history=tuple({"role": t["role"], "content": t["content"]} for t in history),
        reference=reference, must_include=tuple(must), evidence=tuple(evidence),
    )


def load_squad(
    path: Path, docs_dir: Path, limit: int | None = None, seed: int = 0
) -> Dataset:
    """A SQuAD 2.0 file as an open-corpus benchmark.

    Every paragraph is written to ``docs_dir`` as one document, so every question is asked
    against the whole collection. ``limit`` samples that many questions with ``seed``
    (the same sample on every run); the corpus is always complete.
    """
    try:
        data = json.loads(path.read_text("utf-8"))
        articles = data["data"]
        if not isinstance(articles, list):
            raise TypeError("'data' is not a list")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a SQuAD 2.0 JSON file: {exc}") from exc
    docs_dir.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    for a_index, article in enumerate(articles):
        title = re.sub(r"[^\w-]+", "_", str(article.get("title", "article")))[:60]
        for p_index, paragraph in enumerate(article.get("paragraphs", [])):
            context = str(paragraph["context"])
            doc = docs_dir / f"{a_index:03d}-{title}-{p_index:03d}.txt"
            doc.write_text(context, "utf-8")
            source = str(doc.resolve())
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                answers = [] if impossible else qa.get("answers", [])
                golds = tuple(dict.fromkeys(str(x["text"]) for x in answers if x.get("text")))
                cases.append(Case(
                    id=str(qa["id"]), question=str(qa["question"]),
                    answerable=not impossible and bool(golds),
                    reference=golds[0] if golds else "",
                    evidence=_evidence(context, answers),
                    gold_answers=golds, gold_source=source,
                ))
    total = len(cases)
    if limit is not None and limit < total:
        picked = sorted(random.Random(seed).sample(range(total), limit))
        cases = [cases[i] for i in picked]
    return Dataset(path.stem, "squad", cases, [docs_dir], total)


def _evidence(context: str, answers: list[dict[str, Any]]) -> tuple[str, ...]:
    """The sentence of the paragraph that holds the first gold answer."""
    if not answers:
        return ()
    start = int(answers[0].get("answer_start", -1))
    for s, e in sentence_spans(context):
        if s <= start < e:
            return (context[s:e],)
    return ()


def load_dataset(
    path: Path, corpus: list[Path], docs_dir: Path, limit: int | None = None, seed: int = 0
) -> Dataset:
    """A JSONL (``--corpus`` required) or SQuAD JSON dataset, by file type."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.suffix.lower() == ".jsonl":
        if not corpus:
            raise DatasetError(f"{path}: a JSONL dataset needs --corpus DIR to ask against")
        for c in corpus:
            if not c.exists():
                raise DatasetError(f"{c}: no such file or folder")
        cases = load_jsonl(path)
        total = len(cases)
        if limit is not None and limit < total:
            picked = sorted(random.Random(seed).sample(range(total), limit))
            cases = [cases[i] for i in picked]
        # A set kept as NAME/cases.jsonl beside NAME/docs is named after its folder, so its
        # reports, bars and training figures do not all read "cases".
        name = path.parent.name if path.stem == "cases" and path.parent.name else path.stem
        return Dataset(name, "jsonl", cases, list(corpus), total)
    if path.suffix.lower() == ".json":
        return load_squad(path, docs_dir, limit, seed)
    raise DatasetError(f"{path}: expected a .jsonl case file or a SQuAD 2.0 .json file")
