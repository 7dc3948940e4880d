"""Bars a run must clear: ``--fail-under``/``--fail-over`` flags and a thresholds TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.evals.metrics import JUDGE_METRICS, METRICS, Summary

GATED = METRICS | JUDGE_METRICS


@dataclass(frozen=True)
class Bar:
    """``metric`` must be at least (``floor``) or at most (ceiling) ``value``."""

    metric: str
    value: float
    floor: bool = True

    def check(self, summary: Summary) -> str | None:
        """A message when the bar is missed; an unmeasured metric misses every bar."""
        if summary.value is None:
            return f"{self.metric} was not measured on any case"
        if self.floor and summary.value < self.value:
            return f"{self.metric} = {summary.value:.4f} is below {self.value:g}"
        if not self.floor and summary.value > self.value:
            return f"{self.metric} = {summary.value:.4f} is above {self.value:g}"
        return None


def parse_bar(text: str, floor: bool = True) -> Bar:
    """``METRIC=VALUE`` into a :class:`Bar`, with errors a user can act on."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"expected METRIC=VALUE, got {text!r}")
    if name not in GATED:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(GATED)}")
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {raw!r} is not a number") from exc
    higher_is_better = GATED[name][1]
    if floor and not higher_is_better:
        raise ValueError(f"{name} is better when lower: use --fail-over {name}={raw}")
    if not floor and higher_is_better:
        raise ValueError(f"{name} is better when higher: use --fail-under {name}={raw}")
    return Bar(name, value, floor)


def load_thresholds(path: Path, dataset: str) -> list[Bar]:
    """The bars of table ``[dataset]`` in a TOML file: ``min`` and ``max`` sub-tables.

    A dataset with no table has no bars; a malformed file is an error.
    """
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read thresholds: {exc}") from exc
    table = data.get(dataset, {})
    bars: list[Bar] = []
    for key, floor in (("min", True), ("max", False)):
        for name, value in table.get(key, {}).items():
            bars.append(parse_bar(f"{name}={value}", floor))
    return bars


def check(bars: list[Bar], summaries: dict[str, dict[str, Summary]]) -> list[str]:
    """Every missed bar, for every column.

    The judge's figures are in the summaries only when ``--judge`` ran against an endpoint;
    a bar on them otherwise misses as unmeasured, like any other metric.
    """
    misses = []
    for column, summary in summaries.items():
        for bar in bars:
            miss = bar.check(summary.get(bar.metric, Summary(None, 0, 0)))
            if miss:
                misses.append(f"{column}: {miss}")
    return misses
