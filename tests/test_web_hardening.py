"""Web uploads of one name from two sessions, Gradio's cached copies, and login attempts."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from bot.uploads import UploadFolder
from bot.web import LoginGate, _forget_uploads


def test_same_name_from_two_sessions_does_not_overwrite(tmp_path: Path) -> None:
    folder = UploadFolder(tmp_path / "uploads", max_mb=1)
    mine, theirs = tmp_path / "a" / "report.txt", tmp_path / "b" / "report.txt"
    for path, text in ((mine, "Ferries leave at nine."), (theirs, "Ferries leave at ten.")):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    first = folder.stage([mine], session="alice")
    second = folder.stage([theirs], session="bob")
    assert first.staged[0].path.name == "report.txt"
    assert second.staged[0].path.name == "report (2).txt"
    assert (tmp_path / "uploads" / "report.txt").read_text() == "Ferries leave at nine."
    # The same session replaces its own file, as before.
    mine.write_text("Ferries leave at eight.", encoding="utf-8")
    again = folder.stage([mine], session="alice")
    assert again.staged[0].path.name == "report.txt"


def test_gradio_cached_uploads_are_deleted_once_staged(tmp_path: Path) -> None:
    cache = Path(gr.utils.get_upload_folder()) / "test-forget"
    cache.mkdir(parents=True, exist_ok=True)
    cached, outside = cache / "notes.txt", tmp_path / "notes.txt"
    cached.write_text("x")
    outside.write_text("x")
    _forget_uploads([str(cached), str(outside)])
    assert not cached.exists() and outside.exists()


def test_login_refuses_every_attempt_after_too_many_wrong_passwords() -> None:
    gate = LoginGate("right-password", limit=10)
    assert gate("u", "right-password")
    accepted = sum(gate("u", f"guess-{i}") for i in range(200))
    assert accepted == 0
    # Past the limit even the right password is refused until the minute has passed.
    assert not gate("u", "right-password")
