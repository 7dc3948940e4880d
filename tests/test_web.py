"""The browser chat, driven through Debian's Chromium with Playwright.

One app instance (real Chroma, real bundled embedder, a real OpenAI-compatible test server on
127.0.0.1) serves the whole module; every test opens its own browser context, which is a new
Gradio session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.embeddings import SentenceTransformerEmbeddings
from bot.models import REFUSAL
from bot.settings import PROJECT_DIR, Settings
from bot.web import build_app, launch_options
from tests.conftest import CORPUS, bot_for
from tests.openai_server import OpenAIServer
from tests.servers import ChromaServer, free_port

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
BUBBLES = "#dq-chat .dq-answer, #dq-chat .dq-refusal, #dq-chat .dq-error"
WAIT_MS = 90_000
# Questions about corpus/, offered on an empty chat (there are none by default).
EXAMPLES = ["When was the US-Japan Security Treaty formed?", "Who is Shigeru Ishiba?"]


def quoting_reply(messages: list[dict[str, Any]]) -> str:
    """An LLM stand-in that quotes the first sentence of source [1] and cites it."""
    last = str(messages[-1]["content"])
    if last.startswith("Conversation:"):
        return last.rsplit("Last question:", 1)[-1].strip()
    found = re.search(r"\[1\] \([^)]*\)\n(.+?)(?:\n\n\[2\]|\n\nQuestion:)", last, re.S)
    if not found:
        return "NOT_IN_DOCUMENTS"
    first = re.split(r"(?<=[.!?])\s+", found.group(1).strip())[0]
    return f"{first} [1]"


class Served:
    """A running app: its URL, settings and the LLM test server behind it."""

    def __init__(self, url: str, settings: Settings, llm: OpenAIServer) -> None:
        self.url = url
        self.settings = settings
        self.llm = llm


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbeddings
) -> Iterator[Served]:
    with OpenAIServer() as llm:
        llm.reply = quoting_reply
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("web-data"), web_port=free_port(),
            web_max_upload_mb=0.05, openai_base_url=llm.base_url, openai_api_key="test-key",
            llm_timeout=5, web_examples=EXAMPLES,
        )
        bot = bot_for(settings, embedder)
        assert not bot.ingest([CORPUS]).failed
        demo = build_app(bot, settings)
        demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(settings))
        try:
            yield Served(f"http://127.0.0.1:{settings.web_port}/", settings, llm)
        finally:
            demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(browser: Any, served: Served) -> Iterator[Any]:
    """``open_page()`` -> a page of the app in a fresh browser context (a new session)."""
    contexts = []

    def factory(url: str | None = None) -> Any:
        context = browser.new_context(viewport={"width": 1400, "height": 950})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.hosts = set()
        page.on("request", lambda r: page.hosts.add(urlparse(r.url).hostname))
        page.goto(url or served.url)
        page.wait_for_selector("#dq-question textarea")
        return page

    yield factory
    for context in contexts:
        context.close()


def ask(page: Any, question: str) -> Any:
    """Ask through the page and return the locator of the new reply bubble."""
    before = page.locator(BUBBLES).count()
    page.fill("#dq-question textarea", question)
    page.click("#dq-ask")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[BUBBLES, before]
    )
    return page.locator(BUBBLES).last


def upload(page: Any, *paths: Path, shot: str = "") -> str:
    """Upload files in the Documents tab and return the status text; with ``shot``, a
    screenshot of the page while a file is being indexed is saved under that name."""
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#dq-upload input[type=file]", [str(p) for p in paths])
    page.wait_for_function(
        "names => names.every(n => document.querySelector('#dq-upload').innerText.includes(n))",
        arg=[p.stem for p in paths],
    )
    page.evaluate("() => { document.querySelector('#dq-upload-status').dataset.old = "
                  "document.querySelector('#dq-upload-status').innerText }")
    # Every state the page passes through while indexing: the file lines, the Ask button
    # and the line above the chat.
    page.evaluate(
        "() => { window.__progress = []; new MutationObserver(() => {"
        " const status = document.querySelector('#dq-upload-status');"
        " if (status.querySelector('.dq-s-indexing, .dq-s-waiting')) window.__progress.push("
        "[status.innerText, document.querySelector('#dq-ask').innerText,"
        " document.querySelector('#dq-known').innerText].join(' | ')); })"
        ".observe(document.body, {subtree: true, childList: true, characterData: true}); }"
    )
    page.click("#dq-index")
    if shot:
        page.wait_for_selector("#dq-upload-status .dq-s-indexing")
        page.screenshot(path=str(ARTIFACTS / shot))
    page.wait_for_function(
        "() => { const el = document.querySelector('#dq-upload-status'); "
        "return el.querySelector('.dq-status') && el.innerText !== el.dataset.old"
        " && !el.querySelector('.dq-s-indexing, .dq-s-waiting')"
        " && document.querySelector('#dq-ask').innerText.trim() === 'Ask' }"
    )
    page.progress = page.evaluate("() => window.__progress")
    return str(page.inner_text("#dq-upload-status"))


def sentence_text(answer_text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", answer_text).strip()


def test_answer_cites_a_passage_that_holds_the_support(open_page: Any) -> None:
    page = open_page()
    reply = ask(page, "When was the US-Japan Security Treaty formed?")
    body = reply.locator(".dq-text").inner_text()
    assert "1951" in body
    markers = reply.locator("a.dq-cite")
    assert markers.count() >= 1
    passage = reply.locator("details.dq-passage").first
    assert passage.get_attribute("open") is None
    markers.first.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#dq-chat .dq-answer details.dq-passage')]"
        ".some(d => d.open)"
    )
    opened = reply.locator("details.dq-passage[open]").first
    summary = opened.locator("summary").inner_text()
    # The location reads as a place in the file, not as character offsets.
    assert "us-japan-alliance.txt" in summary and re.search(r"\blines? \d+", summary)
    assert "chars" not in summary
    support = opened.locator("mark.dq-support").inner_text()
    assert "1951" in support
    assert support in opened.locator(".dq-ptext").inner_text()
    assert support.strip() in sentence_text(body)
    panel = page.locator("#dq-sources details.dq-passage")
    assert panel.count() == reply.locator("details.dq-passage").count() >= 1
    panel_text = [panel.nth(i).locator(".dq-ptext").inner_text() for i in range(panel.count())]
    assert len(set(panel_text)) == len(panel_text), "a passage is listed twice"
    assert page.hosts == {"127.0.0.1"}, f"the page reached out to {page.hosts}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-main-view.png"))


def test_a_citation_opens_its_document_at_the_passage(open_page: Any) -> None:
    page = open_page()
    reply = ask(page, "When was the US-Japan Security Treaty formed?")
    support = reply.locator("details.dq-passage").first
    link = support.locator("a.dq-open")
    assert link.get_attribute("target") == "_blank"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-citation-link.png"))
    with page.context.expect_page() as opened:
        link.click()
    doc = opened.value
    doc.wait_for_load_state()
    # The answer stays where it was; the document opens beside it.
    assert page.locator(BUBBLES).count() == 1
    assert urlparse(doc.url).path.startswith("/document/") and doc.url.endswith("#passage")
    assert "us-japan-alliance.txt" in doc.inner_text("header")
    mark = doc.locator("mark#passage")
    assert "1951" in mark.inner_text()
    # The marked passage is the one the answer cited, in the whole document's text.
    support.locator("summary").click()
    cited = " ".join(support.locator(".dq-ptext").inner_text().split())
    assert " ".join(mark.inner_text().split()) == cited
    assert len(doc.inner_text("main")) > len(mark.inner_text())
    in_view = doc.evaluate(
        "() => { const r = document.getElementById('passage').getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }")
    assert in_view and doc.evaluate("() => window.scrollY") > 0
    assert doc.locator("script").count() == 0
    doc.screenshot(path=str(ARTIFACTS / "web-document-view.png"))


def test_a_pdf_citation_opens_the_pdf_at_its_page(
    open_page: Any, served: Served, embedder: SentenceTransformerEmbeddings, tmp_path: Path
) -> None:
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "tarn-island.pdf"
    sheet = canvas.Canvas(str(pdf))
    sheet.setTitle("Tarn Island")
    pages = [["Tarn Island has a ferry pier on its east shore.",
              "The ferry leaves the pier every morning at nine.",
              "Fishing boats use the pier in the afternoon."],
             ["The Tarn Island lighthouse was built in 1887 by the engineer Ada Merrow.",
              "Its lamp was converted to electricity in 1931.",
              "The lighthouse stands on the island's northern cliff."]]
    for lines in pages:
        for i, line in enumerate(lines * 3):
            sheet.drawString(72, 720 - 18 * i, line)
        sheet.showPage()
    sheet.save()
    bot = bot_for(served.settings, embedder)
    assert not bot.ingest([pdf]).failed
    try:
        page = open_page()
        reply = ask(page, "Who built the Tarn Island lighthouse?")
        assert "Ada Merrow" in reply.inner_text()
        link = reply.locator("details.dq-passage").first.locator("a.dq-open")
        assert "tarn-island.pdf" in reply.locator("details.dq-passage summary").first.inner_text()
        with page.context.expect_page() as opened:
            link.click()
        doc = opened.value
        doc.wait_for_load_state()
        assert doc.url.endswith("#page=2")
        assert doc.evaluate("() => document.contentType") == "application/pdf"
        doc.wait_for_timeout(1500)  # the viewer draws the page after the load event
        ARTIFACTS.mkdir(exist_ok=True)
        doc.screenshot(path=str(ARTIFACTS / "web-document-pdf.png"))
    finally:
        bot.remove(str(pdf.resolve()))


def test_follow_ups_use_each_sessions_own_history(open_page: Any) -> None:
    first, second = open_page(), open_page()
    ask(first, "Who is Shigeru Ishiba?")
    ask(second, "Who is Yoshihide Suga?")
    a = ask(first, "Where did he graduate from?").inner_text()
    b = ask(second, "Where did he graduate from?").inner_text()
    assert re.search(r"Understood as: .*Ishiba", a) and re.search(r"Understood as: .*Suga", b)
    assert "Waseda" in a and "University of Tokyo" not in a
    assert "University of Tokyo" in b and "Waseda" not in b
    assert "Suga" not in first.locator("#dq-chat [data-testid=user]").all_inner_texts().__str__()
    assert "Ishiba" not in second.locator("#dq-chat [data-testid=user]").all_inner_texts().__str__()
    first.click("#dq-new")
    first.wait_for_function("() => !document.querySelector('#dq-chat [data-testid=user]')")
    # A new chat forgets the conversation: "he" is no longer read as Ishiba.
    assert not re.search(r"Understood as: .*Ishiba", ask(first, "Where did he graduate from?")
                         .inner_text())


def test_refusal_looks_like_a_refusal_and_offers_closest_passages(open_page: Any) -> None:
    page = open_page()
    reply = ask(page, "What is the boiling point of mercury in kelvin?")
    assert reply.get_attribute("class") == "dq-refusal"
    assert REFUSAL in reply.inner_text()
    assert reply.locator("a.dq-cite").count() == 0
    closest = reply.locator("details.dq-passage")
    assert 1 <= closest.count() <= 3
    assert "closest passages" in page.inner_text("#dq-sources").lower()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-refusal.png"))
    error = ask(page, "why " * 1200)
    assert "dq-error" in (error.get_attribute("class") or "")
    assert "limit" in error.inner_text() and "Traceback" not in page.content()


def test_example_questions_on_an_empty_chat(open_page: Any, served: Served) -> None:
    page = open_page()
    assert "Try one of the examples" in page.inner_text("#dq-chat")
    example = served.settings.web_examples[0]
    button = page.get_by_text(example, exact=True)
    button.click()
    page.wait_for_selector(BUBBLES)
    assert page.locator("#dq-chat [data-testid=user]").first.inner_text() == example


def test_upload_ask_and_remove_a_document(open_page: Any, tmp_path: Path) -> None:
    page, elsewhere = open_page(), open_page()
    notes = tmp_path / "kestrel-station.md"
    notes.write_text(
        "# Kestrel Station\n\nKestrel Station is a research base on Tarn Island. "
        "Its chief engineer is Ilse Varga, who designed the wind turbines in 2016.\n\n"
        "## Supplies\n\nSupplies arrive by ferry every second Thursday.\n",
        encoding="utf-8",
    )
    unsupported = tmp_path / "tool.exe"
    unsupported.write_bytes(b"MZ\x90\x00 not a document")
    oversize = tmp_path / "huge.txt"
    oversize.write_text("padding words here. " * 4000, encoding="utf-8")
    # A log long enough to take a few seconds to embed, so the page is seen mid-way.
    log = tmp_path / "kestrel-log.txt"
    log.write_text("\n\n".join(f"Day {n}: the station logged {n * 7 % 31} knots of wind and "
                                f"{n * 3 % 17} millimetres of rain." for n in range(1, 600)))
    status = upload(page, notes, log, unsupported, oversize, shot="web-upload-indexing.png")
    assert re.search(r"kestrel-station\.md: added \(\d+ chunks\)", status)
    assert re.search(r"kestrel-log\.txt: added \(\d+ chunks\)", status)
    # While they were indexed, the page said so per file, on the Ask button and above the
    # chat.
    assert any("kestrel-station.md: indexing…" in p and "kestrel-log.txt: waiting" in p
               and "Ask (indexing…)" in p and "Indexing 2 uploaded files (0 done)" in p
               for p in page.progress), page.progress
    assert "Ask (indexing…)" not in page.inner_text("#dq-ask")
    assert "kestrel-station.md" in page.inner_text("#dq-known")
    assert "Indexing" not in page.inner_text("#dq-known")
    assert "tool.exe" in status and "not supported" in status
    assert "huge.txt" in status and "upload limit" in status
    table = page.inner_text("#dq-docs")
    assert "kestrel-station.md" in table and "us-japan-alliance.txt" in table
    assert "huge.txt" not in table and "tool.exe" not in table
    elsewhere.get_by_role("tab", name="Documents").click()
    elsewhere.wait_for_function(
        "() => document.querySelector('#dq-docs').innerText.includes('kestrel-station.md')"
    )
    reply = ask(page, "Who is the chief engineer of Kestrel Station?")
    assert "Ilse Varga" in reply.inner_text()
    assert "kestrel-station.md" in reply.locator("details.dq-passage summary").first.inner_text()
    page.get_by_role("tab", name="Documents").click()
    page.click("#dq-remove-pick input")
    page.get_by_role("option", name="kestrel-station.md").click()
    page.click("#dq-remove")
    # The first click asks, beside the button; the second removes.
    page.wait_for_function("() => document.querySelector('#dq-remove-status').innerText"
                           ".includes('Click Remove again to confirm')")
    assert "kestrel-station.md" in page.inner_text("#dq-docs")
    page.click("#dq-remove")
    page.wait_for_function(
        "() => !document.querySelector('#dq-docs').innerText.includes('kestrel-station.md')"
    )
    assert "us-japan-alliance.txt" in page.inner_text("#dq-docs")
    assert "Ilse Varga" not in ask(page, "Who is the chief engineer of Kestrel Station?") \
        .inner_text()


def test_a_long_upload_does_not_hold_up_another_sessions_upload(
    open_page: Any, tmp_path: Path
) -> None:
    slow, quick = open_page(), open_page()
    logs = []
    for k in range(5):
        path = tmp_path / f"tarn-log-{k}.txt"
        path.write_text("\n\n".join(
            f"Tarn day {n}: gauge {k} read {n * 7 % 31} knots and {n * 3 % 17} mm of rain."
            for n in range(1, 550)), encoding="utf-8")
        logs.append(path)
    slow.get_by_role("tab", name="Documents").click()
    slow.set_input_files("#dq-upload input[type=file]", [str(p) for p in logs])
    slow.wait_for_function(
        "() => document.querySelector('#dq-upload').innerText.includes('tarn-log-4')")
    slow.click("#dq-index")
    slow.wait_for_selector("#dq-upload-status .dq-s-indexing")
    note = tmp_path / "tarn-ferry.md"
    note.write_text("# Tarn ferry\n\nThe Tarn ferry leaves the pier at a quarter past six.\n",
                    encoding="utf-8")
    status = upload(quick, note)
    assert re.search(r"tarn-ferry\.md: added \(\d+ chunks\)", status), status
    # The other session's five files were still being indexed when this one was done.
    assert slow.query_selector("#dq-upload-status .dq-s-indexing, "
                               "#dq-upload-status .dq-s-waiting") is not None
    slow.wait_for_function(
        "() => (document.querySelector('#dq-upload-status').innerText.match(/added/g) || [])"
        ".length === 5", timeout=180_000)
    reply = ask(quick, "When does the Tarn ferry leave the pier?")
    assert "quarter past six" in reply.inner_text()


def test_document_markup_and_scripts_stay_inert_text(open_page: Any, tmp_path: Path) -> None:
    page = open_page()
    html_doc = tmp_path / "harbor.html"
    html_doc.write_text(
        "<html><head><title>Harbor</title><script>window.__ran_head = 1;</script></head><body>"
        "<p>The lighthouse keeper of Port Alder is Miriam Okafor, who took the post in 2011.</p>"
        "<p>The gate sign reads &lt;script&gt;window.__ran_sign = 1&lt;/script&gt; in red.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    text_doc = tmp_path / "lamp.txt"
    text_doc.write_text(
        "The lamp of the Port Alder lighthouse burns whale oil "
        "<img src=x onerror=\"window.__ran_img = 1\"> and <b>never</b> "
        "<script>window.__ran_txt = 1</script> goes out.\n",
        encoding="utf-8",
    )
    assert "added" in upload(page, html_doc, text_doc)
    reply = ask(page, "What does the lamp of the Port Alder lighthouse burn?")
    reply.locator("a.dq-cite").first.click()
    shown = reply.inner_text()
    assert "<script>window.__ran_txt = 1</script>" in shown
    assert '<img src=x onerror="window.__ran_img = 1">' in shown
    assert "<b>never</b>" in shown
    sign = ask(page, "What does the gate sign at Port Alder read?").inner_text()
    assert "<script>window.__ran_sign = 1</script>" in sign
    flags = page.evaluate(
        "() => [window.__ran_head, window.__ran_sign, window.__ran_img, window.__ran_txt]"
    )
    assert flags == [None, None, None, None]
    assert page.locator("#dq-chat script, #dq-chat img[src=x], #dq-sources script").count() == 0
    assert page.locator("#dq-chat b").filter(has_text="never").count() == 0


def test_feedback_is_stored_and_exported_as_eval_cases(
    open_page: Any, served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = open_page()
    liked_q = "Who is Yoshihide Suga?"
    disliked_q = "Where did he graduate from?"
    ask(page, liked_q)
    page.locator("#dq-chat button[aria-label=Like]").last.click()
    page.wait_for_function("() => document.querySelector('#dq-vote-status').innerText"
                           ".includes('helpful')")
    ask(page, disliked_q)
    page.locator("#dq-chat button[aria-label=Dislike]").last.click()
    page.wait_for_function("() => document.querySelector('#dq-vote-status').innerText"
                           ".includes('not helpful')")
    page.fill("#dq-note textarea", "He graduated from the University of Tokyo.")
    page.get_by_role("button", name="Save note").click()
    page.wait_for_function("() => document.querySelector('#dq-vote-status').innerText"
                           ".includes('note was saved')")

    out = tmp_path / "feedback.jsonl"
    monkeypatch.setenv("BOT_DATA_DIR", str(served.settings.data_dir))
    result = CliRunner().invoke(cli_app, ["feedback", "export", str(out)])
    assert result.exit_code == 0, result.output
    cases = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    up = [c for c in cases if c["question"] == liked_q and c["id"].startswith("feedback-up")]
    down = [c for c in cases if c["question"] == disliked_q and "-down-" in c["id"]]
    assert len(up) == 1 and len(down) == 1
    assert up[0]["answerable"] is True and up[0]["history"] == []
    assert up[0]["evidence"] and all("Suga" in q for q in up[0]["evidence"])
    assert down[0]["history"][0] == {"role": "user", "content": liked_q}
    assert down[0]["reference"] == "He graduated from the University of Tokyo."
    for case in cases:
        assert {"id", "question", "history", "answerable", "reference", "must_include",
                "evidence"} <= set(case)


def test_backend_choice_and_a_readable_llm_outage(open_page: Any, served: Served) -> None:
    page = open_page()
    page.get_by_role("tab", name="Settings").click()
    page.wait_for_selector("#dq-backend label")
    choices = page.locator("#dq-backend label").all_inner_texts()
    assert [c.strip() for c in choices] == ["extractive", "openai"]
    page.locator("#dq-backend label").filter(has_text="openai").click()
    seen = len(served.llm.requests)
    served.llm.mode, served.llm.delay_s = "slow", 2.0
    try:
        page.fill("#dq-question textarea", "When was the US-Japan Security Treaty formed?")
        page.click("#dq-ask")
        # While the answer is on its way the box is locked: no second question in flight.
        page.wait_for_selector("#dq-question textarea:disabled")
        page.wait_for_selector("#dq-chat .dq-pending")
        reply = page.locator(BUBBLES).last
        reply.wait_for()
    finally:
        served.llm.mode = "ok"
    assert page.locator("#dq-question textarea").is_enabled()
    assert len(served.llm.requests) > seen
    assert any(r["body"].get("stream") for r in served.llm.requests[seen:])
    assert reply.locator("a.dq-cite").count() >= 1
    served.llm.mode = "error"
    try:
        reply = ask(page, "Who is Yoshihide Suga?")
    finally:
        served.llm.mode = "ok"
    note = " ".join(reply.locator(".dq-note").all_inner_texts())
    assert "language model was unavailable" in note
    assert "Traceback" not in page.content()
    assert "Suga" in reply.locator(".dq-text").inner_text()


def test_read_only_app_behind_a_shared_password(
    browser: Any, served: Served, embedder: SentenceTransformerEmbeddings
) -> None:
    settings = Settings(
        data_dir=served.settings.data_dir, web_port=free_port(), web_read_only=True,
        web_password="open sesame",
    )
    bot = bot_for(settings, embedder)
    demo = build_app(bot, settings)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(settings))
    context = browser.new_context()
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{settings.web_port}/")
        page.wait_for_selector("input[type=password]")
        assert page.locator("#dq-question").count() == 0
        page.fill("input[type=text]", "anyone")
        page.fill("input[type=password]", "wrong")
        page.get_by_role("button", name="Login").click()
        page.wait_for_timeout(1000)
        assert page.locator("#dq-question").count() == 0
        page.fill("input[type=text]", "anyone")
        page.fill("input[type=password]", "open sesame")
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#dq-question textarea")
        # No examples configured: the empty chat neither shows nor promises any.
        assert "examples" not in page.inner_text("#dq-chat")
        assert page.get_by_text(EXAMPLES[0], exact=True).count() == 0
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#dq-docs table")
        assert page.locator("#dq-upload").count() == 0
        assert not page.locator("#dq-remove").is_visible()
        page.get_by_role("tab", name="Settings").click()
        page.wait_for_selector("#dq-topk")
        # With one backend there is no choice to show.
        assert not page.locator("#dq-backend").is_visible()
        reply = ask(page, "When was the US-Japan Security Treaty formed?")
        assert "1951" in reply.inner_text()
        # The document route sits behind the same login, which this browser now holds.
        with context.expect_page() as opened:
            reply.locator("a.dq-open").first.click()
        opened.value.wait_for_selector("mark#passage")
    finally:
        context.close()
        demo.close()


def test_store_outage_is_a_readable_message_and_the_app_recovers(
    browser: Any, tmp_path: Path, embedder: SentenceTransformerEmbeddings
) -> None:
    chroma = ChromaServer(tmp_path / "chroma")
    chroma.start()
    settings = Settings(
        data_dir=tmp_path / "data", web_port=free_port(), chroma_host=chroma.host,
        chroma_port=chroma.port,
    )
    demo = None
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    try:
        bot = bot_for(settings, embedder)
        assert not bot.ingest([CORPUS]).failed
        demo = build_app(bot, settings)
        demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(settings))
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{settings.web_port}/")
        page.wait_for_selector("#dq-question textarea")
        question = "When was the US-Japan Security Treaty formed?"
        assert "1951" in ask(page, question).inner_text()

        chroma.stop()
        down = ask(page, question)
        assert "dq-error" in (down.get_attribute("class") or "")
        assert "document store can't be reached" in down.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-store-outage.png"))
        assert "Traceback" not in page.content()

        chroma.start()
        assert "1951" in ask(page, question).inner_text()
    finally:
        context.close()
        if demo is not None:
            demo.close()
        chroma.stop()
