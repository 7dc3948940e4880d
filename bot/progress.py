"""Progress of long commands: a live bar in a terminal, a plain line now and then when piped."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Seconds between plain progress lines when the output is not a terminal (a log, CI).
PLAIN_EVERY_S = 5.0


class Progress:
    """Counts of work done, shown on ``stream`` (stderr by default) as it goes."""

    def __init__(self, unit: str, *, stream: TextIO | None = None, quiet: bool = False,
                 every_s: float = PLAIN_EVERY_S) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.every_s = every_s
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar = None
        if not quiet and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit=unit, file=self.stream, leave=False)

    def update(self, done: int, total: int, label: str = "") -> None:
        """``done`` of ``total`` finished; ``label`` names what is being worked on."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_line < self.every_s or (total and done >= total):
            return
        self._last_line = now
        rate = done / max(now - self.started, 1e-9)
        where = f" ({label})" if label else ""
        print(f"progress: {done}/{total} {self.unit}s, {rate:.1f}/s{where}",
              file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar; plain lines need no closing."""
        if self._bar is not None:
            self._bar.close()
