"""Negative controls for the support scorer.

From faithful sentences of real passages (quoted verbatim or lightly paraphrased), plant
errors a generated answer could make: a swapped number or year, a swapped person or place,
an added unsupported clause, or a citation moved to the wrong passage. A good scorer passes
the faithful sentences and flags the planted errors. ``python -m bot.evals.controls`` prints
both rates over ``corpus/`` and a SQuAD file.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.grounding import Support
from bot.text import STOPWORDS, content_words, normalize, split_sentences, words

_NUMBER = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?(?![\w])")
_NAME = re.compile(r"(?<=[\s(“\"‘'])([A-Z][a-z]{2,})\b")
_CONNECTORS = ("and", "while", "because", "after")
_SYNONYMS = {
    "began": "started", "start": "begin", "largest": "biggest", "big": "large",
    "helped": "assisted", "also": "additionally", "however": "but", "many": "numerous",
    "important": "significant", "shows": "indicates", "used": "employed",
}
_FRAMES = ("The document states that ", "According to the source, ", "The passage says that ")


@dataclass(frozen=True)
class Control:
    """One sentence to judge against the passages it cites."""

    kind: str
    sentence: str
    cited: tuple[str, ...]
    faithful: bool


def _lower_first(text: str) -> str:
    # Keep names capitalised: only a capitalised common word is lowered.
    first = text.split(" ", 1)[0]
    if first.lower() in STOPWORDS:
        return text[0].lower() + text[1:]
    return text


def paraphrase(sentence: str, rng: random.Random) -> str | None:
    """A light, meaning-preserving rewrite, or None when no rewrite applies."""
    options: list[str] = []
    m = re.match(r"^(In|On|By|During|After|Before) ([^,]{3,40}), (.+?)([.!?])$", sentence)
    if m:
        options.append(f"{m.group(3)[0].upper()}{m.group(3)[1:]} "
                       f"{m.group(1).lower()} {m.group(2)}{m.group(4)}")
    for src, dst in _SYNONYMS.items():
        pattern = re.compile(rf"\b{src}\b", re.IGNORECASE)
        if pattern.search(sentence):
            options.append(pattern.sub(dst, sentence, count=1))
            break
    if " and " in sentence:
        options.append(sentence.replace(" and ", " as well as ", 1))
    frame = rng.choice(_FRAMES)
    options.append(frame + _lower_first(sentence))
    parts = sentence.rstrip(".").rsplit(", ", 1)
    if len(parts) == 2 and len(parts[0].split()) >= 6:
        options.append(parts[0] + ".")
    return rng.choice(options) if options else None


def _swap_number(sentence: str, passage: str, rng: random.Random) -> str | None:
    found = [m for m in _NUMBER.finditer(sentence) if not m.group(0).startswith("0")]
    if not found:
        return None
    target = rng.choice(found)
    value = target.group(0)
    in_passage = [n for n in dict.fromkeys(_NUMBER.findall(passage))
                  if n != value and n not in sentence and len(n) == len(value)]
    if in_passage and rng.random() < 0.5:
        new = rng.choice(in_passage)
    else:
        digits = value.replace(",", "")
        base = float(digits)
        if re.fullmatch(r"1[5-9]\d\d|20\d\d", digits):
            new = str(int(base) + rng.choice([-7, -3, -2, -1, 1, 2, 3, 7]))
        elif "." in digits:
            new = f"{base * rng.choice([0.5, 2.0, 3.0]):.{len(digits.split('.')[1])}f}"
        else:
            new = str(int(base) * rng.choice([2, 3, 10]) + rng.choice([1, 3]))
    return sentence[:target.start()] + new + sentence[target.end():]


def names_in(text: str) -> list[str]:
    """Capitalised words that are not capitalised only for starting a sentence."""
    out = []
    for sentence in split_sentences(text):
        out += [n for n in _NAME.findall(sentence) if n.lower() not in STOPWORDS]
    return list(dict.fromkeys(out))


def _swap_name(
    sentence: str, passage: str, other_names: Sequence[str], rng: random.Random
) -> str | None:
    found = [m for m in _NAME.finditer(sentence) if m.group(1).lower() not in STOPWORDS]
    if not found:
        return None
    target = rng.choice(found)
    in_sentence = {w.removesuffix("'s") for w in words(sentence)}
    local = [n for n in names_in(passage) if n.lower() not in in_sentence]
    pool = local if local and rng.random() < 0.5 else [
        n for n in other_names if n.lower() not in in_sentence]
    if not pool:
        return None
    return sentence[:target.start(1)] + rng.choice(pool) + sentence[target.end(1):]


def _add_clause(
    sentence: str, passage: str, foreign: Sequence[str], rng: random.Random
) -> str | None:
    known = set(content_words(passage))
    for _ in range(10):
        clause = " ".join(rng.choice(foreign).rstrip(".!?").split()[:12])
        # An added clause must claim something: three content words the passage lacks.
        if len(set(content_words(clause)) - known) >= 3:
            break
    else:
        return None
    return (f"{sentence.rstrip('.!?')}, {rng.choice(_CONNECTORS)} "
            f"{_lower_first(clause)}.")


def make_controls(
    passages: Sequence[tuple[str, str]], per_kind: int = 60, seed: int = 0
) -> list[Control]:
    """Faithful sentences and planted errors from ``(group, passage)`` pairs.

    Groups are documents or articles: a moved citation points at another passage of the
    same group (the hardest wrong passage), an added clause comes from another group.
    """
    rng = random.Random(seed)
    by_group: dict[str, list[str]] = {}
    for group, text in passages:
        by_group.setdefault(group, []).append(text)
    sentences = [
        (group, text, s) for group, text in passages for s in split_sentences(text)
        if 6 <= len(s.split()) <= 45 and s.rstrip()[-1:] in ".!?"
    ]
    names_by_group = {g: sorted({n for t in texts for n in names_in(t)})
                      for g, texts in by_group.items()}
    rng.shuffle(sentences)
    out: list[Control] = []
    counts: dict[str, int] = {}

    def add(kind: str, sentence: str | None, cited: str, faithful: bool) -> None:
        if sentence is None or counts.get(kind, 0) >= per_kind:
            return
        counts[kind] = counts.get(kind, 0) + 1
        out.append(Control(kind, sentence, (cited,), faithful))

    for group, text, sentence in sentences:
        others = [g for g in by_group if g != group]
        add("faithful: quoted", sentence, text, True)
        add("faithful: paraphrased", paraphrase(sentence, rng), text, True)
        add("error: swapped number or year", _swap_number(sentence, text, rng), text, False)
        add("error: swapped person or place",
            _swap_name(sentence, text, names_by_group[group] or [
                n for g in others for n in names_by_group[g]], rng), text, False)
        # Clauses come from other documents, or from other passages of a lone document.
        donors = [t for g in others for t in by_group[g]] or [
            t for t in by_group[group] if t != text]
        foreign = [s for t in donors for s in split_sentences(t) if len(s.split()) >= 6]
        if foreign:
            add("error: unsupported clause added", _add_clause(sentence, text, foreign, rng),
                text, False)
        wrong = [t for t in by_group[group]
                 if t != text and normalize(sentence) not in normalize(t)]
        if wrong:
            add("error: citation moved to another passage", sentence, rng.choice(wrong), False)
    return out


@dataclass(frozen=True)
class Rates:
    """How the scorer did on a set of controls."""

    flagged_errors: float
    passed_faithful: float
    by_kind: dict[str, float]
    misses: list[tuple[Control, Support]]


def measure(controls: Sequence[Control], judge: Callable[[str, Sequence[str]], Support]) -> Rates:
    """Share of planted errors flagged and of faithful sentences passed, per kind too."""
    right: dict[str, list[bool]] = {}
    misses = []
    for c in controls:
        verdict = judge(c.sentence, c.cited)
        ok = verdict.supported == c.faithful
        right.setdefault(c.kind, []).append(ok)
        if not ok:
            misses.append((c, verdict))
    flagged = [v for k, vs in right.items() if k.startswith("error") for v in vs]
    passed = [v for k, vs in right.items() if k.startswith("faithful") for v in vs]
    return Rates(
        sum(flagged) / max(len(flagged), 1), sum(passed) / max(len(passed), 1),
        {k: sum(v) / len(v) for k, v in sorted(right.items())}, misses,
    )


def corpus_passages(folder: Path, size: int = 800, overlap: int = 150) -> list[tuple[str, str]]:
    """The chunks the bot would store for the text files under ``folder``, by file."""
    from bot.chunking import chunk_document
    from bot.loaders import load

    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in {".txt", ".md"}:
            doc = load(path)
            seen: set[str] = set()
            for chunk in chunk_document(doc, str(path), size, overlap):
                if chunk.id not in seen:
                    seen.add(chunk.id)
                    out.append((path.name, chunk.text))
    return out


def squad_passages(path: Path, articles: int | None = None) -> list[tuple[str, str]]:
    """The paragraphs of a SQuAD file, grouped by article."""
    import json

    data = json.loads(path.read_text("utf-8"))["data"]
    return [(str(a["title"]), str(p["context"]))
            for a in data[:articles] for p in a["paragraphs"]]


def main(argv: Sequence[str] = ()) -> None:
    """Print the negative-control rates for ``corpus/`` and, if given, a SQuAD file."""
    from bot.embeddings import SentenceTransformerEmbeddings
    from bot.grounding import support
    from bot.settings import PROJECT_DIR

    embedder = SentenceTransformerEmbeddings()
    sets = {"corpus": make_controls(corpus_passages(PROJECT_DIR / "corpus"), per_kind=40)}
    for arg in argv:
        sets[Path(arg).name] = make_controls(squad_passages(Path(arg)), per_kind=200)
    for name, controls in sets.items():
        rates = measure(controls, lambda s, c: support(s, c, embedder))
        print(f"{name}: {len(controls)} controls; planted errors flagged "
              f"{rates.flagged_errors:.1%}, faithful sentences passed {rates.passed_faithful:.1%}")
        for kind, rate in rates.by_kind.items():
            print(f"  {kind:45s} {rate:.1%}")


if __name__ == "__main__":
    main(sys.argv[1:])
