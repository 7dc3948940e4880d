"""Two writer processes on one data folder, a serving process beside them, and kills.

Every process here is a real ``bot`` command. After each run a fresh process checks that
every passage of every committed file has its vector and is found by it (``bot doctor``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock, Timeout

from bot.chunking import chunk_with
from bot.loaders import load
from bot.settings import Settings
from tests.servers import free_port, stop_process

pytestmark = pytest.mark.slow

BOT = Path(sys.executable).with_name("bot")
# Start of the second writer after the first, in seconds: together, while the first embeds,
# and while it commits.
OFFSETS = [0.0, 1.5, 4.0]


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "CHROMA_"))}
    env.update(BOT_DATA_DIR=str(data), HF_HUB_OFFLINE="1", **extra)
    return env


def write_folder(folder: Path, tag: str, files: int = 4, paragraphs: int = 25) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        paras = [
            f"Harbour {tag}{f}-{p} was dredged in {1800 + p} by the {tag} company, whose "
            f"ledger number {f * 1000 + p} records {p * 7 + f} barges of silt."
            for p in range(paragraphs)
        ]
        (folder / f"{tag}-{f}.txt").write_text("\n\n".join(paras), encoding="utf-8")


def passages_of(*paths: Path) -> int:
    """How many passages ingest makes of these files with the default settings."""
    return sum(len(chunk_with(load(p), str(p), Settings())) for p in paths)


def doctor(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BOT), "doctor"], env=env_for(data), capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("offset", OFFSETS)
def test_two_cli_writers_keep_every_vector_and_a_server_sees_both(
    tmp_path: Path, offset: float
) -> None:
    data = tmp_path / "data"
    write_folder(tmp_path / "a", "alpha")
    write_folder(tmp_path / "b", "beta")
    env = env_for(data, BOT_RETRIEVAL_MODE="dense")
    # A serving process in dense mode, open on the store before either writer starts.
    server = subprocess.Popen([str(BOT), "chat"], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = subprocess.Popen([str(BOT), "ingest", str(tmp_path / "a")], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(offset)
        second = subprocess.Popen([str(BOT), "ingest", str(tmp_path / "b")], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for proc in (first, second):
            out, err = proc.communicate(timeout=400)
            assert proc.returncode == 0, (proc.returncode, out, err)
            assert "4 added" in out
        checked = doctor(data)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith("8 files, ")
        started = time.monotonic()
        assert server.stdin is not None
        server.stdin.write("When was Harbour alpha2-7 dredged?\n"
                           "When was Harbour beta3-11 dredged?\n\n")
        server.stdin.flush()
        out, err = server.communicate(timeout=120)
        assert server.returncode == 0, err
        assert time.monotonic() - started < 60
        # input() prints its "you> " prompt without a newline, so replies follow it.
        replies = [line for line in out.splitlines() if "bot> " in line]
        assert len(replies) == 2, out
        assert "1807" in replies[0] and "1811" in replies[1], out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# Start of the CLI writer relative to the web upload, in seconds: the CLI first (the upload
# lands while it embeds and commits), together, and the upload first.
WEB_OFFSETS = [-1.5, 0.0, 1.0]


def write_web_doc(path: Path, tag: str, paragraphs: int = 40) -> None:
    paras = [f"Lighthouse {tag}-{p} was first lit in {1900 + p} by keeper {tag} number "
             f"{p * 3}, whose logbook counts {p * 11} storms." for p in range(paragraphs)]
    path.write_text("\n\n".join(paras), encoding="utf-8")


@pytest.mark.browser
@pytest.mark.parametrize("offset", WEB_OFFSETS)
def test_a_web_upload_and_a_cli_writer_keep_every_vector_and_the_web_sees_both(
    tmp_path: Path, offset: float
) -> None:
    """``bot web`` indexes a file uploaded through Chromium while ``bot ingest`` writes the
    same data folder; both succeed, ``bot doctor`` is clean and the web answers from both."""
    from playwright.sync_api import sync_playwright

    from tests.test_web import CHROMIUM, CHROMIUM_ARGS, ask, upload

    data = tmp_path / "data"
    write_folder(tmp_path / "a", "alpha", files=6, paragraphs=40)
    doc = tmp_path / "lighthouse-log.txt"
    write_web_doc(doc, "omega")
    port = free_port()
    env = env_for(data, BOT_WEB_PORT=str(port))
    url = f"http://127.0.0.1:{port}/"
    web_err = (tmp_path / "web.err").open("w+")
    web = subprocess.Popen([str(BOT), "web"], env=env, stdout=subprocess.DEVNULL,
                           stderr=web_err)
    cli: list[subprocess.Popen[str]] = []

    def start_cli() -> None:
        cli.append(subprocess.Popen([str(BOT), "ingest", str(tmp_path / "a")], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True))

    timer = threading.Timer(max(offset, 0.0), start_cli)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert web.poll() is None, "bot web exited while starting"
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the web app did not come up"
                time.sleep(0.3)
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = chromium.new_page()
                page.set_default_timeout(60_000)
                page.goto(url)
                page.wait_for_selector("#dq-question textarea")
                if offset < 0:
                    start_cli()
                    time.sleep(-offset)
                else:
                    timer.start()
                upload(page, doc)
                # upload() returns on the first change of the status; wait for the verdict.
                page.wait_for_function(
                    "n => document.querySelector('#dq-upload-status').innerText"
                    ".includes(n + ': ')", arg=doc.name)
                status = page.inner_text("#dq-upload-status")
                assert f"lighthouse-log.txt: added ({passages_of(doc)} chunks)" in status, status
                if offset >= 0:
                    timer.join(timeout=30)
                out, err = cli[0].communicate(timeout=300)
                assert cli[0].returncode == 0, (cli[0].returncode, out, err)
                assert "6 added" in out and "Traceback" not in err
                checked = doctor(data)
                assert checked.returncode == 0, checked.stdout + checked.stderr
                every = passages_of(doc, *sorted((tmp_path / "a").iterdir()))
                assert checked.stdout.startswith(f"7 files, {every} passages"), checked.stdout
                assert web.poll() is None, "bot web died"
                # The web process answers from both writers' documents, citing each.
                for question, fact, source in [
                    ("When was Harbour alpha2-7 dredged?", "1807", "alpha-2.txt"),
                    ("When was Lighthouse omega-13 first lit?", "1913", "lighthouse-log.txt"),
                ]:
                    started = time.monotonic()
                    reply = ask(page, question)
                    assert time.monotonic() - started < 10, question
                    assert fact in reply.locator(".dq-text").inner_text(), question
                    cited = reply.locator("details.dq-passage summary").first.inner_text()
                    assert source in cited, (question, cited)
            finally:
                chromium.close()
        assert web.poll() is None, "bot web died"
        web_err.seek(0)
        assert "Traceback" not in web_err.read()
    finally:
        timer.cancel()
        for proc in cli:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stop_process(web)
        web_err.close()


def test_a_second_writer_waits_visibly_and_gives_up_clearly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_folder(tmp_path / "a", "gamma", files=1, paragraphs=3)
    data.mkdir()
    held = FileLock(data / "write.lock", thread_local=False)
    with held:
        done = subprocess.run(
            [str(BOT), "ingest", str(tmp_path / "a")],
            env=env_for(data, BOT_WRITE_LOCK_TIMEOUT="3"), capture_output=True, text=True,
            timeout=300,
        )
    assert "another process is writing to" in done.stderr
    assert done.returncode == 1
    assert "locked for writing for 3 s" in done.stderr and "Traceback" not in done.stderr
    # Once the lock is free the same command goes through.
    again = subprocess.run([str(BOT), "ingest", str(tmp_path / "a")], env=env_for(data),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "1 added" in again.stdout, again.stderr


def test_a_writer_killed_while_holding_the_lock_leaves_a_consistent_store(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    write_folder(tmp_path / "a", "delta", files=12, paragraphs=30)
    env = env_for(data)
    writer = subprocess.Popen([str(BOT), "ingest", str(tmp_path / "a")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    probe = FileLock(data / "write.lock", thread_local=False)
    deadline = time.monotonic() + 300
    killed_holding = False
    while time.monotonic() < deadline and writer.poll() is None:
        if (data / "write.lock").exists():
            try:
                probe.acquire(blocking=False)
                probe.release()
            except Timeout:
                # The writer holds the lock: kill it in the middle of its write.
                writer.send_signal(signal.SIGKILL)
                killed_holding = True
                break
        time.sleep(0.01)
    writer.wait(timeout=60)
    assert killed_holding, "the writer never held the lock"
    checked = doctor(data)
    # Passages stored but not yet published may be left over; nothing published is broken.
    assert "missing passage" not in checked.stdout
    assert "no searchable vector" not in checked.stdout
    finish = subprocess.run([str(BOT), "ingest", str(tmp_path / "a")], env=env,
                            capture_output=True, text=True, timeout=400)
    assert finish.returncode == 0, finish.stderr
    checked = doctor(data)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("12 files, ")


def test_lost_vectors_are_re_embedded_by_ingest_and_found_by_doctor(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    data = tmp_path / "data"
    # Several passages a file, so that three lost vectors are three passages to re-embed.
    write_folder(tmp_path / "a", "omega", files=2, paragraphs=40)
    env = env_for(data)
    subprocess.run([str(BOT), "ingest", str(tmp_path / "a")], env=env, check=True,
                   capture_output=True, timeout=300)

    def drop_vectors(count: int) -> None:
        client = chromadb.PersistentClient(
            path=str(data / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
        chunks = client.get_collection("documents")
        chunks.delete(ids=chunks.get(include=[])["ids"][:count])

    drop_vectors(3)
    broken = doctor(data)
    assert broken.returncode == 1
    assert "missing passage" in broken.stdout and "bot doctor --repair" in broken.stderr
    again = subprocess.run([str(BOT), "ingest", str(tmp_path / "a")], env=env,
                           capture_output=True, text=True, timeout=300)
    # A file whose passages lost their vectors is not "unchanged": they are embedded again.
    assert re.search(r"[12] updated", again.stdout), again.stdout
    # Exactly the lost passages are embedded again (a file that kept all its vectors may
    # rightly stay unchanged).
    assert re.search(r"\b3 chunks embedded", again.stdout), again.stdout
    assert doctor(data).returncode == 0

    drop_vectors(2)
    repaired = subprocess.run([str(BOT), "doctor", "--repair"], env=env, capture_output=True,
                              text=True, timeout=300)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "re-ingested" in repaired.stdout and "the store is consistent" in repaired.stdout


def test_a_server_sees_a_file_removed_and_ingested_again_by_another_process(
    make_bot: Any, tmp_path: Path
) -> None:
    """A web process removes a document, a terminal ingests it again: the web process's next
    answer comes from it (once seen answering from another document until a restart)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    gzip_doc = docs / "gzip-README.txt"
    gzip_doc.write_text("By default gzip compresses with the deflate algorithm, which pairs "
                        "LZ77 with Huffman coding.\n", encoding="utf-8")
    (docs / "zstd-README.txt").write_text(
        "Zstandard is a fast compression algorithm that offers high compression ratios.\n",
        encoding="utf-8")
    data = tmp_path / "data"
    serving = make_bot(data_dir=data)
    assert not serving.ingest([docs]).failed
    question = "What algorithm does gzip use by default?"
    assert serving.ask(question).citations[0].chunk.source == str(gzip_doc.resolve())
    assert serving.remove(str(gzip_doc.resolve()))
    assert all(c.chunk.source != str(gzip_doc.resolve())
               for c in serving.ask(question).citations)
    done = subprocess.run([str(BOT), "ingest", str(docs)], env=env_for(data),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = serving.ask(question)
    assert not answer.refused and "deflate" in answer.text
    assert answer.citations[0].chunk.source == str(gzip_doc.resolve())
    assert [s.name for s in serving.sources()] == ["gzip-README.txt", "zstd-README.txt"]
