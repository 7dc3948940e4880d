"""Controls for groundedness checkers, written by hand apart from any scorer.

``evals/datasets/controls/*.jsonl`` holds sentences a careful person wrote about real
passages of ``corpus/`` and of the SQuAD 2.0 dev file: faithful paraphrases (reordered,
synonyms, voice changed) and planted errors (a swapped number, a swapped name, a negation
added or removed, an entity taken from another document), each with the passage text it
cites. A checker is scored as an error detector: precision and recall of "unsupported" on
the planted errors, and the share of faithful sentences it lets through.
``python -m bot.evals.controls`` prints the figures for the runtime support scorer and the
independent checker.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CONTROLS_DIR = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "controls"

# (sentence, cited passages) -> supported?
Judge = Callable[[str, Sequence[str]], bool]


@dataclass(frozen=True)
class Control:
    """One hand-written sentence to judge against the passages it cites."""

    id: str
    kind: str
    sentence: str
    cited: tuple[str, ...]
    faithful: bool
    source: str = ""


def load_controls(folder: Path = CONTROLS_DIR) -> list[Control]:
    """Every control of the ``*.jsonl`` files in ``folder``."""
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(Control(
                    str(row["id"]), str(row["kind"]), str(row["sentence"]),
                    tuple(str(p) for p in row["passages"]), bool(row["faithful"]),
                    str(row.get("source", "")),
                ))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path.name}:{number}: bad control: {exc}") from exc
    return out


@dataclass(frozen=True)
class Rates:
    """How a checker did on a set of controls; errors are the positive class."""

    precision: float  # flagged sentences that are planted errors
    recall: float  # planted errors flagged
    passed_faithful: float  # faithful sentences accepted
    by_kind: dict[str, float]  # share judged right, per kind
    misses: list[Control]

    def line(self) -> str:
        """The three headline figures."""
        return (f"precision {self.precision:.1%}, recall {self.recall:.1%}, "
                f"faithful passed {self.passed_faithful:.1%}")


def measure(controls: Sequence[Control], judge: Judge) -> Rates:
    """Precision and recall of flagging the planted errors, and faithful sentences passed."""
    flagged_errors = flagged_faithful = errors = faithful = 0
    right: dict[str, list[bool]] = {}
    misses = []
    for c in controls:
        supported = judge(c.sentence, c.cited)
        ok = supported == c.faithful
        right.setdefault(c.kind, []).append(ok)
        if not ok:
            misses.append(c)
        if c.faithful:
            faithful += 1
            flagged_faithful += not supported
        else:
            errors += 1
            flagged_errors += not supported
    flagged = flagged_errors + flagged_faithful
    return Rates(
        flagged_errors / flagged if flagged else 0.0,
        flagged_errors / errors if errors else 0.0,
        (faithful - flagged_faithful) / faithful if faithful else 0.0,
        {k: sum(v) / len(v) for k, v in sorted(right.items())},
        misses,
    )


def main(argv: Sequence[str] = ()) -> None:
    """Print both checkers' figures on the controls (optionally another folder)."""
    from bot.embeddings import SentenceTransformerEmbeddings
    from bot.evals import independent
    from bot.grounding import support

    controls = load_controls(Path(argv[0]) if argv else CONTROLS_DIR)
    embedder = SentenceTransformerEmbeddings()
    judges: dict[str, Judge] = {
        "runtime support scorer": lambda s, c: support(s, c, embedder).supported,
        "independent checker": lambda s, c: independent.check(s, c).supported,
    }
    errors = sum(not c.faithful for c in controls)
    print(f"{len(controls)} controls: {errors} planted errors, {len(controls) - errors} faithful")
    for name, judge in judges.items():
        for part, subset in (("all", controls),
                             ("corpus/", [c for c in controls if c.source.startswith("corpus")]),
                             ("SQuAD", [c for c in controls if c.source.startswith("squad")])):
            rates = measure(subset, judge)
            print(f"{name}, {part}: {rates.line()}")
        for kind, rate in measure(controls, judge).by_kind.items():
            print(f"  {kind:32s} {rate:.1%} judged right")


if __name__ == "__main__":
    main(sys.argv[1:])
