"""Bad and hostile input: every case gets a clear error and nothing stored before is lost.

Each file case first ingests a good version of the file, then replaces it with the hostile
content and ingests again. The hostile version must be refused with a message that says
why, while the good version, and the rest of the store, stay answerable exactly as before.
"""

from __future__ import annotations

import io
import os
import random
import re
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.guard import QuestionError
from bot.models import Answer
from bot.service import Bot
from bot.settings import Settings
from tests.conftest import CORPUS, bot_for

BASELINE_QUESTION = "When was the US-Japan Security Treaty formed?"


@dataclass
class Stored:
    bot: Bot
    docs: Path
    baseline: Answer


def _signature(answer: Answer) -> tuple[str, bool, list[str]]:
    return answer.text, answer.refused, [c.chunk.id for c in answer.citations]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Stored:
    """A store holding the corpus, and the answer it gives before any hostile input."""
    root = tmp_path_factory.mktemp("hostile")
    bot = bot_for(Settings(data_dir=root / "data"), embedder)  # type: ignore[arg-type]
    assert not bot.ingest([CORPUS]).failed
    baseline = bot.ask(BASELINE_QUESTION)
    assert not baseline.refused and baseline.citations
    docs = root / "docs"
    docs.mkdir()
    return Stored(bot, docs, baseline)


def assert_intact(s: Stored, *, expect: dict[str, str]) -> None:
    """The corpus and every earlier good file are still stored and answered as before."""
    stored = {info.source: info.sha256 for info in s.bot.sources()}
    for source, sha in expect.items():
        assert stored.get(source) == sha, f"{source} lost or changed"
    assert any(Path(src).parent == CORPUS for src in stored)
    assert _signature(s.bot.ask(BASELINE_QUESTION)) == _signature(s.baseline)


# ----- good and hostile file contents ---------------------------------------------------

def _fact(name: str) -> tuple[str, str]:
    rng = random.Random(name)
    count = rng.randint(12, 97)
    sentence = f"The {name} observatory keeps {count} brass telescopes in its north tower."
    return sentence, f"How many brass telescopes does the {name} observatory keep?"


def _pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return buf.getvalue()


def _docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def good_bytes(suffix: str, text: str) -> bytes:
    if suffix == ".pdf":
        return _pdf(text)
    if suffix == ".docx":
        return _docx(text)
    if suffix == ".html":
        return f"<html><body><h1>Notes</h1><p>{text}</p></body></html>".encode()
    return f"{text}\n".encode()


def encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_pdf(text))))
    writer.encrypt("a-user-password")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def zip_bomb_docx(text: str) -> bytes:
    """A real .docx plus one member of 300 MB of zeros (about 300 kB compressed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_docx(text))) as src, zipfile.ZipFile(
        buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        with dst.open("word/media/padding.bin", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(300):
                member.write(zeros)
    return buf.getvalue()


def deep_html(text: str) -> bytes:
    depth = 10_000
    return (
        "<html><body>" + "<div>" * depth + f"<p>{text}</p>" + "</div>" * depth + "</body></html>"
    ).encode()


@dataclass(frozen=True)
class FileCase:
    id: str
    suffix: str
    make: Callable[[str], bytes]
    expected: str  # regex the per-file message must match; "" means the file is accepted
    status: str = "failed"  # the verdict when ``expected`` is set


FILE_CASES = [
    FileCase("empty", ".txt", lambda t: b"", r"empty file", "skipped"),
    FileCase("blank", ".md", lambda t: b"  \n\n\t\n", r"no text found"),
    FileCase("zero-byte-pdf", ".pdf", lambda t: b"", r"empty file", "skipped"),
    FileCase(
        "binary-as-txt", ".txt", lambda t: random.Random(7).randbytes(64 * 1024),
        r"looks binary|not valid UTF-8",
    ),
    FileCase(
        "latin-1", ".txt", lambda t: f"Café crème, façade naïve. {t}".encode("latin-1"), "",
    ),
    FileCase("utf-16", ".txt", lambda t: f"Façade. {t}\n".encode("utf-16"), ""),
    FileCase(
        "corrupt-pdf", ".pdf", lambda t: b"%PDF-1.7\n" + random.Random(3).randbytes(8192),
        r"PDF is corrupt",
    ),
    FileCase("truncated-pdf", ".pdf", lambda t: _pdf(t)[: len(_pdf(t)) // 2], r"PDF is corrupt"),
    FileCase("password-pdf", ".pdf", encrypted_pdf, r"password-protected"),
    FileCase("not-a-docx", ".docx", lambda t: t.encode(), r"not a Word document"),
    FileCase("zip-bomb-docx", ".docx", zip_bomb_docx, r"zip bomb"),
    FileCase("deep-html", ".html", deep_html, ""),
]

NAMES = [
    "Kelvarn", "Dunmoret", "Ossavel", "Tirrowan", "Brennac", "Quillory", "Marrowind", "Hestavor",
    "Calloway", "Serrimont", "Pellinor", "Varcombe",
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.id for c in FILE_CASES])
def test_hostile_file_keeps_previous_version(stored: Stored, case: FileCase) -> None:
    name = NAMES[FILE_CASES.index(case)]
    path = stored.docs / f"{case.id}{case.suffix}"
    old_fact, question = _fact(name)
    path.write_bytes(good_bytes(case.suffix, old_fact))
    first = stored.bot.ingest([path])
    assert [f.status for f in first.files] == ["added"], first.as_dict()
    before = {i.source: i.sha256 for i in stored.bot.sources()}
    answer = stored.bot.ask(question)
    assert not answer.refused and answer.citations[0].chunk.source == str(path.resolve())

    new_fact, new_question = _fact(name + "ia")
    path.write_bytes(case.make(new_fact))
    report = stored.bot.ingest([path])
    (result,) = report.files
    if case.expected:
        assert result.status == case.status, result
        assert re.search(case.expected, result.message), result.message
        assert_intact(stored, expect=before)
        again = stored.bot.ask(question)
        assert _signature(again) == _signature(answer)
        assert stored.bot.ask(new_question).refused
    else:
        assert result.status == "updated", result
        got = stored.bot.ask(new_question)
        assert not got.refused, got.text
        assert got.citations[0].chunk.source == str(path.resolve())
        assert re.search(r"\b\d+ brass telescopes\b", got.text)
        assert stored.bot.ask(question).refused or all(
            c.chunk.source != str(path.resolve()) for c in stored.bot.ask(question).citations
        )
        before.pop(str(path.resolve()))
        assert_intact(stored, expect=before)


def test_200mb_file_refused_without_reading_it(stored: Stored) -> None:
    path = stored.docs / "huge.txt"
    fact, question = _fact("Ravenholt")
    path.write_bytes(good_bytes(".txt", fact))
    assert stored.bot.ingest([path]).files[0].status == "added"
    before = {i.source: i.sha256 for i in stored.bot.sources()}
    try:
        # Sparse: 200 MB long, next to nothing on disk, created instantly.
        with path.open("r+b") as fh:
            fh.truncate(200 * 1024 * 1024)
        tracemalloc.start()
        try:
            report = stored.bot.ingest([path])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        path.unlink()
    (result,) = report.files
    assert result.status == "failed"
    assert re.search(r"over the .* MB limit \(setting BOT_MAX_FILE_MB\)", result.message)
    assert peak < 20 * 1024 * 1024, f"ingest held {peak / 1e6:.0f} MB for a refused file"
    assert_intact(stored, expect=before)
    assert not stored.bot.ask(question).refused


def test_symlink_outside_folder_is_not_followed(stored: Stored, tmp_path: Path) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    secret, secret_question = _fact("Wexmoor")
    (outside / "secret.txt").write_text(secret + "\n")
    folder = stored.docs / "linked"
    folder.mkdir()
    own, own_question = _fact("Althorne")
    (folder / "own.txt").write_text(own + "\n")
    (folder / "secret.txt").symlink_to(outside / "secret.txt")
    (folder / "private-dir").symlink_to(outside, target_is_directory=True)
    (folder / "alias.txt").symlink_to(folder / "own.txt")

    report = stored.bot.ingest([folder])
    by_name = {Path(f.source).name: f for f in report.files}
    assert by_name["secret.txt"].status == "skipped"
    assert "outside the folder" in by_name["secret.txt"].message
    assert by_name["own.txt"].status == "added"
    sources = [i.source for i in stored.bot.sources()]
    assert not any(str(outside) in s or s.endswith("secret.txt") for s in sources)
    assert stored.bot.ask(secret_question).refused
    assert not stored.bot.ask(own_question).refused


# ----- upload file names ----------------------------------------------------------------
# The browser upload stores files under the name bot.web.safe_name gives them.

UPLOAD_NAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system.ini", "system.ini"),
    ("/etc/shadow", "shadow"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
    ("notes\x00.txt", "notes.txt"),
    ("in\x00side.md", "inside.md"),
    (".bashrc", "bashrc"),
    ("a<b>c:d|e?.txt", "a_b_c_d_e_.txt"),
    ("q\u202eftp.txt", "q_ftp.txt"),
    ("line\nbreak.md", "line_break.md"),
    ("..", "upload"),
    ("", "upload"),
    ("/", "upload"),
    ("\x00", "upload"),
]


@pytest.mark.parametrize(("raw", "expected"), UPLOAD_NAMES)
def test_upload_names_are_sanitised(raw: str, expected: str, tmp_path: Path) -> None:
    from bot.web import safe_name

    name = safe_name(raw)
    assert name == expected
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_upload_name_of_1000_characters_keeps_extension(tmp_path: Path) -> None:
    from bot.web import safe_name

    name = safe_name("é" * 1000 + ".pdf")
    assert name.endswith(".pdf") and name.startswith("é")
    # Names are created with .part and .previous variants next to them: leave room.
    assert len(f".{name}.previous".encode()) <= 255
    (tmp_path / f".{name}.previous").write_bytes(b"x")


# ----- questions ------------------------------------------------------------------------

def test_100k_character_question_is_refused_clearly(stored: Stored) -> None:
    question = ("Why did the alliance form? " * 4000)[:100_000]
    with pytest.raises(QuestionError, match=r"100,000 characters long; the limit is 2,000"):
        stored.bot.ask(question)
    assert_intact(stored, expect={})


@pytest.mark.parametrize(
    "noise",
    ["\x00", "\x07\x1b", "\u200f", "\u202e", "\u2066\u2069", "\r\n\t", "\ufeff", "\u200b"],
    ids=["nul", "bell-escape", "rlm", "rlo", "isolates", "newlines", "bom", "zwsp"],
)
def test_control_and_bidi_characters_are_ignored(stored: Stored, noise: str) -> None:
    question = noise + f" {noise} ".join(BASELINE_QUESTION.split(" ")) + noise
    if not noise.isspace():
        question = question.replace("Treaty", f"Tre{noise}aty")
    answer = stored.bot.ask(question)
    assert answer.question == BASELINE_QUESTION
    assert _signature(answer) == _signature(stored.baseline)


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01\u200f\u202e", "\n\t\r"])
def test_question_with_nothing_left_is_refused_clearly(stored: Stored, question: str) -> None:
    with pytest.raises(QuestionError, match="the question is empty"):
        stored.bot.ask(question)


def test_hostile_files_in_one_run_do_not_stop_the_others(stored: Stored) -> None:
    folder = stored.docs / "mixed"
    folder.mkdir()
    fact, question = _fact("Norrigan")
    (folder / "good.txt").write_text(fact + "\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "encrypted.pdf").write_bytes(encrypted_pdf("hidden"))
    (folder / "binary.txt").write_bytes(os.urandom(4096) + b"\x00")
    report = stored.bot.ingest([folder])
    status = {Path(f.source).name: f.status for f in report.files}
    assert status == {
        "good.txt": "added", "empty.txt": "skipped", "encrypted.pdf": "failed",
        "binary.txt": "failed",
    }
    assert not stored.bot.ask(question).refused
