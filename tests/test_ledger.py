"""An unchanged re-ingest is answered from the ingest ledger, and only when the store is
exactly as the ledger describes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.ingest import unchanged_report
from bot.ledger import LEDGER_FILE
from bot.service import Bot
from bot.settings import PROJECT_DIR, Settings


def _folder(tmp_path: Path, name: str, **files: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for stem, text in files.items():
        (folder / f"{stem}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def _docs(tmp_path: Path) -> Path:
    return _folder(tmp_path, "docs", harbour="The Kelvarn harbour opened in 1911.",
                   mill="The Ostrel paper mill closed in 1987 after a flood.")


def test_unchanged_files_are_reported_as_the_full_ingest_reports_them(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    assert bot.ingest([docs]).count("added") == 2
    quick = unchanged_report(bot.settings, [docs])
    full = bot.ingest([docs])
    assert quick is not None and full.count("unchanged") == 2
    assert quick.files == full.files and quick.gone == full.gone


def test_a_changed_file_takes_the_full_ingest_which_leaves_a_new_ledger(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    bot.ingest([docs])
    (docs / "mill.txt").write_text("The Ostrel paper mill reopened in 1990.\n", encoding="utf-8")
    assert unchanged_report(bot.settings, [docs]) is None
    assert bot.ingest([docs]).count("updated") == 1
    quick = unchanged_report(bot.settings, [docs])
    assert quick is not None and quick.count("unchanged") == 2


def test_a_new_file_takes_the_full_ingest(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    bot.ingest([docs])
    (docs / "bridge.txt").write_text("The Vessar bridge was built in 1932.\n", encoding="utf-8")
    assert unchanged_report(bot.settings, [docs]) is None


def test_files_of_earlier_runs_stay_in_the_ledger(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    more = _folder(tmp_path, "more", bridge="The Vessar bridge was built in 1932.")
    bot = make_bot()
    bot.ingest([docs])
    bot.ingest([more])
    quick = unchanged_report(bot.settings, [docs, more])
    assert quick is not None and quick.count("unchanged") == 3


def test_a_write_that_bypasses_the_ledger_is_noticed(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    bot.ingest([docs])
    # Straight to the store, as a writer that keeps no ledger would.
    assert bot.store.remove_file(str((docs / "mill.txt").resolve()))
    assert unchanged_report(bot.settings, [docs]) is None
    assert bot.ingest([docs]).count("added") == 1


def test_a_commit_by_another_writer_mid_run_leaves_no_ledger(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    more = _folder(tmp_path, "more", bridge="The Vessar bridge was built in 1932.")
    bot, other = make_bot(), make_bot()
    done: list[str] = []

    def meanwhile(step: int, total: int, name: str) -> None:
        if not done:
            done.append(name)
            other.ingest([more])

    bot.ingest([docs], progress=meanwhile)
    assert done
    # The run cannot tell what the other writer did between its own commits.
    assert not (bot.settings.data_dir / LEDGER_FILE).exists()
    assert unchanged_report(bot.settings, [docs, more]) is None
    assert bot.ingest([docs, more]).count("unchanged") == 3
    quick = unchanged_report(bot.settings, [docs, more])
    assert quick is not None and quick.count("unchanged") == 3


def test_removed_and_gone_files(make_bot: Callable[..., Bot], tmp_path: Path) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    bot.ingest([docs])
    (docs / "mill.txt").unlink()
    quick = unchanged_report(bot.settings, [docs])
    full = bot.ingest([docs])
    assert quick is not None and quick.gone == full.gone == {str(docs): 1}
    # Pruning has work to do: the full ingest does it.
    assert unchanged_report(bot.settings, [docs], prune=True) is None
    assert bot.ingest([docs], prune=True).count("removed") == 1
    assert unchanged_report(bot.settings, [docs], prune=True) is not None
    assert bot.remove(str((docs / "harbour.txt").resolve()))
    assert unchanged_report(bot.settings, [docs]) is None


def test_other_settings_take_the_full_ingest(
    make_bot: Callable[..., Bot], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    make_bot().ingest([docs])
    assert unchanged_report(make_settings(), [docs]) is not None
    assert unchanged_report(make_settings(chunk_size=400), [docs]) is None
    assert unchanged_report(make_settings(collection="other"), [docs]) is None
    assert unchanged_report(make_settings(chroma_host="127.0.0.1"), [docs]) is None


def test_a_damaged_ledger_is_ignored(make_bot: Callable[..., Bot], tmp_path: Path) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    bot.ingest([docs])
    (bot.settings.data_dir / LEDGER_FILE).write_text('{"version": 1, "files": [', "utf-8")
    assert unchanged_report(bot.settings, [docs]) is None
    assert bot.ingest([docs]).count("unchanged") == 2
    assert unchanged_report(bot.settings, [docs]) is not None


def test_the_cli_re_ingests_unchanged_files_without_chroma_or_the_model(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    docs = _docs(tmp_path)
    bot = make_bot()
    bot.ingest([docs])
    # The packages the fast path must not need are made unimportable.
    script = (
        "import sys\n"
        "for name in ('chromadb', 'sentence_transformers', 'onnxruntime', 'langchain_core'):\n"
        "    sys.modules[name] = None\n"
        "from bot.cli import main\n"
        f"sys.argv = ['bot', 'ingest', '--json', {str(docs)!r}]\n"
        "main()\n"
    )
    env = {**os.environ, "BOT_DATA_DIR": str(bot.settings.data_dir)}
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    statuses = [f["status"] for f in json.loads(done.stdout)["files"]]
    assert statuses == ["unchanged", "unchanged"]
