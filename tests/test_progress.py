"""Progress of long commands when the output is piped: plain, periodic, never on a finish."""

from __future__ import annotations

import io

from bot.progress import Progress


def test_piped_progress_prints_plain_lines_with_counts_and_rate() -> None:
    out = io.StringIO()
    bar = Progress("file", stream=out, every_s=0.0)
    bar.update(3, 10, "notes.md")
    bar.update(10, 10)  # the finish is the command's own summary, not a progress line
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("progress: 3/10 files, ") and lines[0].endswith("(notes.md)")
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_piped_progress_is_periodic_and_quiet_when_asked() -> None:
    out = io.StringIO()
    bar = Progress("question", stream=out, every_s=3600.0)
    for done in range(50):
        bar.update(done, 100)
    assert out.getvalue() == ""  # nothing before the first period has passed
    quiet = io.StringIO()
    silent = Progress("file", stream=quiet, quiet=True, every_s=0.0)
    silent.update(1, 2)
    assert quiet.getvalue() == ""
