"""False-positive and catch rates of ``bot.guard`` on ``evals/datasets/guard``.

Run ``python -m bot.guard_rates``. "held-out" counts only rows from sources the weights were
not fitted on (see ``bot.guard_train.split``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.guard import addresses_the_bot, is_steering
from bot.guard_train import load, split

# data set -> (check, True when the check should fire)
CHECKS: dict[str, tuple[Callable[[str], bool], bool]] = {
    "questions": (is_steering, False),
    "passages": (addresses_the_bot, False),
    "steering": (is_steering, True),
    "planted": (addresses_the_bot, True),
}


def flagged_share(check: Callable[[str], bool], texts: Sequence[str]) -> float:
    """Share of ``texts`` that ``check`` flags."""
    return sum(map(check, texts)) / len(texts) if texts else 0.0


def rates() -> dict[str, dict[str, tuple[float, int]]]:
    """{data set: {"all"|"held-out": (flagged share, rows)}}."""
    out: dict[str, dict[str, tuple[float, int]]] = {}
    for name, (check, _) in CHECKS.items():
        texts = [r["text"] for r in load(name)]
        held = split(name)[1]
        out[name] = {
            "all": (flagged_share(check, texts), len(texts)),
            "held-out": (flagged_share(check, held), len(held)),
        }
    return out


def misses(name: str) -> list[str]:
    """Rows of a data set that the guard gets wrong."""
    check, should_fire = CHECKS[name]
    return [r["text"] for r in load(name) if check(r["text"]) != should_fire]


def report() -> None:
    """Print the rates (false positives on ordinary text, catches on injections)."""
    for name, by in rates().items():
        kind = "caught" if CHECKS[name][1] else "false positives"
        cells = "  ".join(f"{k} {share:6.1%} of {n:3d}" for k, (share, n) in by.items())
        print(f"{name:10s} {kind:16s} {cells}")


if __name__ == "__main__":
    import sys

    report()
    if "--misses" in sys.argv:
        for name in CHECKS:
            for text in misses(name):
                print(f"[{name}] {text[:160]}")
