"""The web app's HTML rendering and handlers, without a browser."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

from bot import citations, webview
from bot.documents import Opened
from bot.feedback import FeedbackStore
from bot.models import REFUSAL, Answer, Chunk, Citation, Scored
from bot.service import Bot
from bot.settings import Settings
from bot.web import ChatApp, build_app, launch_options, safe_name
from tests.openai_server import OpenAIServer

HOSTILE = '<script>alert(1)</script> <img src=x onerror="x()"> $x$ *b* _i_ `c` a&b'


def chunk(cid: str, text: str, name: str = "doc.txt") -> Chunk:
    return Chunk(cid, text, f"/docs/{name}", "Doc", 0, len(text), heading="Intro")


def test_text_is_escaped_and_markdown_inert() -> None:
    out = webview.text(HOSTILE + "\n\nnext")
    assert "<" not in out.replace("<br>", "") and ">" not in out.replace("<br>", "")
    assert not any(c in out for c in "$*_`")
    assert "\n" not in out and out.count("<br>") == 2


def test_a_run_of_blank_lines_shows_as_one() -> None:
    rows = "Constant: A; Meaning: first\n\n\n\nConstant: B; Meaning: second\n  \n\nEnd"
    assert webview.text(rows) == (
        "Constant: A; Meaning: first<br><br>Constant: B; Meaning: second<br><br>End")
    assert webview.text("one\n\ntwo\nthree") == "one<br><br>two<br>three"
    shown = webview.highlight(rows, "Constant: B; Meaning: second")
    assert shown == ('Constant: A; Meaning: first<br><br><mark class="dq-support">Constant: B; '
                     "Meaning: second</mark><br><br>End")


def test_user_text_cannot_open_markdown_blocks() -> None:
    for raw in ["# big", "> quote", "1. item", "2) item", "- item", "+ item", "=== x"]:
        out = webview.user_message(raw)
        assert not out.startswith(raw[:2]) and out.startswith(("&", raw[0])), out
    assert webview.user_message("Who is <b>Suga</b>?") == "Who is &lt;b&gt;Suga&lt;/b&gt;?"


def test_answer_markers_link_to_passages_shown_once() -> None:
    shared = chunk("c1", "Intro words. The treaty was signed in 1951. Closing words.")
    other = chunk("c2", HOSTILE, "evil<b>.txt")
    answer = Answer(
        "q", "q", "The treaty was signed in 1951. [1] It stood. [2] Also [3] and [9].", False,
        [Citation(1, shared, "The treaty was signed in 1951."), Citation(2, shared, ""),
         Citation(3, other, "")],
    )
    html = webview.answer_message(answer, "tX")
    assert "\n\n" not in html
    ids = set(re.findall(r'id="([^"]+)"', html))
    hrefs = re.findall(r'href="#([^"]+)"', html)
    assert len(hrefs) == 3 and set(hrefs) <= ids
    # A bracket citing no passage of the answer is the document's own text: shown, not linked.
    assert "and [9]." in html and 'data-n="9"' not in html
    assert html.count('class="dq-passage"') == 2
    assert '<mark class="dq-support">The treaty was signed in 1951.</mark>' in html
    assert "<script>" not in html and "<img" not in html and "evil<b>" not in html
    assert "&lt;script&gt;" in html


def test_bracketed_numbers_of_a_quote_are_text_not_markers() -> None:
    quote = "On Windows, the return value is always `[0, 0, 0]`."
    passage = chunk("c1", f"The load average is Unix-specific. {quote}")
    answer = Answer("q", "q", f"{quote} [1]", False, [Citation(1, passage, quote)])
    html = webview.answer_message(answer, "tX")
    assert "[0, 0, 0]" in html and html.count('class="dq-cite"') == 1
    assert citations.strip(answer.text) == quote
    assert citations.claims(answer.text) == [(quote, [1])]


def test_highlight_finds_the_quote_across_whitespace() -> None:
    html = webview.highlight("One two.\n  Three   four five. Six.", "Three four five.")
    assert '<mark class="dq-support">Three   four five.</mark>' in html


def test_refusal_is_distinct_and_offers_distinct_closest_passages() -> None:
    same = chunk("a", "Alpha passage text.")
    dup = chunk("b", "Alpha  passage text.")
    other = chunk("c", "Beta passage text.")
    answer = Answer("q", "q", REFUSAL, True, [], [Scored(same, 1.0), Scored(dup, 0.9),
                                                 Scored(other, 0.8)])
    html = webview.answer_message(answer, "t1")
    assert 'class="dq-refusal"' in html and REFUSAL.replace("'", "&#x27;") in html
    assert html.count('class="dq-passage"') == 2 and "dq-cite" not in html
    assert "Closest passages" in webview.sources_panel(answer)


def test_upload_names_cannot_escape_the_uploads_folder() -> None:
    for raw in ["../../etc/passwd.txt", "/abs/path/notes.md", "a\x00b.txt", "..\\win.txt",
                "x" * 1000 + ".pdf", ".hidden.md", "<b>bold</b>.html"]:
        name = safe_name(raw)
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert not name.startswith(".") and len(name) <= 130 and "<" not in name
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("x" * 1000 + ".pdf").endswith(".pdf")


def test_launch_defaults_bind_locally_and_password_is_checked(tmp_path: Path) -> None:
    options = launch_options(Settings(data_dir=tmp_path))
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7860
    assert "auth" not in options
    guarded = launch_options(Settings(data_dir=tmp_path, web_password="pw"))
    assert guarded["auth"]("anyone", "pw") and not guarded["auth"]("anyone", "nope")


def test_read_only_app_has_no_upload_or_remove(
    make_bot: Callable[..., Bot], make_settings: Callable[..., Settings]
) -> None:
    def elem_ids(read_only: bool) -> set[str]:
        settings = make_settings(web_read_only=read_only)
        demo = build_app(make_bot(web_read_only=read_only), settings)
        ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
        names = {d.get("api_name") for d in demo.config["dependencies"]}
        return ids | {f"api:{n}" for n in names}

    assert build_app(make_bot(), make_settings()).analytics_enabled is False
    full, read_only = elem_ids(False), elem_ids(True)
    assert {"dq-upload", "dq-index", "api:upload", "api:remove"} <= full
    assert not {"dq-upload", "dq-index", "api:upload", "api:remove"} & read_only


def test_llm_answers_stream_into_the_chat(
    make_bot: Callable[..., Bot], openai_server: OpenAIServer, tmp_path: Path
) -> None:
    doc = tmp_path / "station.txt"
    doc.write_text("Kestrel Station sits on Tarn Island. Its chief engineer is Ilse Varga.\n",
                   encoding="utf-8")
    openai_server.reply = lambda _m: "Its chief engineer is Ilse Varga. [1]"
    bot = make_bot(openai_base_url=openai_server.base_url, openai_api_key="k")
    assert not bot.ingest([doc]).failed
    chat = ChatApp(bot, bot.settings, FeedbackStore.in_data_dir(tmp_path / "fb"))
    frames = [f[1].value[-1]["content"][0]["text"] for f in chat.respond(
        "Who is the chief engineer of Kestrel Station?", None, "openai", 5)]
    streamed = [f for f in frames if "dq-streaming" in f]
    assert len(streamed) >= 2, "the reply did not arrive in pieces"
    assert "Ilse Varga" in frames[-1] and 'class="dq-answer"' in frames[-1]


def test_a_bad_replacement_upload_keeps_the_previous_version(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot()
    chat = ChatApp(bot, bot.settings, FeedbackStore.in_data_dir(tmp_path / "fb"))
    first, empty = tmp_path / "in" / "ferry.txt", tmp_path / "again" / "ferry.txt"
    first.parent.mkdir()
    empty.parent.mkdir()
    first.write_text("The ferry to Tarn Island leaves every second Thursday.\n", "utf-8")
    empty.write_text("", "utf-8")

    status = list(chat.upload([str(first)]))[-1][0]
    assert "ferry.txt: added" in status
    stored = chat.uploads / "ferry.txt"
    assert [s.source for s in bot.sources()] == [str(stored.resolve())]

    status = list(chat.upload([str(empty)]))[-1][0]
    assert "ferry.txt: not added" in status
    assert stored.read_text("utf-8").startswith("The ferry")
    assert not list(chat.uploads.glob(".*")), "a staging or backup file was left behind"
    assert "Thursday" in bot.ask("When does the ferry to Tarn Island leave?").text

    assert "ferry.txt: removed" in chat.remove(str(stored.resolve()))[0]
    assert bot.sources() == [] and not stored.exists()


def test_an_upload_shows_each_files_state_and_labels_ask_until_it_is_indexed(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot()
    chat = ChatApp(bot, bot.settings, FeedbackStore.in_data_dir(tmp_path / "fb"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ferry.txt").write_text("The ferry to Tarn Island leaves on Thursdays.\n")
    (folder / "mill.md").write_text("# Mill\n\nThe Ossavel mill grinds barley.\n")
    (folder / "tool.exe").write_bytes(b"MZ")
    frames = list(chat.upload([str(folder / n) for n in ("ferry.txt", "mill.md", "tool.exe")]))
    *during, last = frames
    states = [re.findall(r"(\w+\.\w+): (done|indexing…|waiting)", f[0]) for f in during]
    # Each file goes from waiting through indexing to done, one file indexing at a time.
    for name in ("ferry.txt", "mill.md"):
        seen = [k for k, _ in itertools.groupby(dict(s)[name] for s in states)]
        assert seen in (["waiting", "indexing…", "done"], ["indexing…", "done"]), seen
    assert all(sum(v == "indexing…" for _, v in s) <= 1 for s in states)
    assert all("tool.exe" in f[0] and "not supported" in f[0] for f in frames)
    assert all(f[-1]["value"] == "Ask (indexing…)" and "Indexing 2 uploaded files" in f[3]
               for f in during)
    assert last[-1]["value"] == "Ask"
    assert "ferry.txt: added" in last[0] and "mill.md: added" in last[0]
    assert "2 documents indexed" in last[3]


def test_the_chat_says_what_is_indexed_and_follows_uploads_and_removals(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot()
    chat = ChatApp(bot, bot.settings, FeedbackStore.in_data_dir(tmp_path / "fb"))
    assert "Nothing is indexed yet" in chat.documents()[2]
    answer = bot.ask("When does the ferry leave?")
    assert answer.refused and "bot ingest PATH" in answer.text
    assert "Nothing is indexed yet" in webview.answer_message(answer, "t1")

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ferry.txt").write_text("The ferry to Tarn Island leaves on Thursdays.\n")
    (folder / "mill.md").write_text("# Mill\n\nThe Ossavel mill grinds barley.\n")
    bot.ingest([folder / "ferry.txt"])
    assert ">1 document indexed: ferry.txt<" in chat.documents()[2]
    assert "1 document</td>" in chat.documents()[0]
    bot.ingest([folder])
    assert "2 documents indexed: ferry.txt, mill.md" in chat.documents()[2]
    after = chat.remove(str((folder / "mill.md").resolve()))
    assert "1 document indexed: ferry.txt" in after[3]


def test_remove_asks_first_and_answers_beside_the_button(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    bot = make_bot()
    chat = ChatApp(bot, bot.settings, FeedbackStore.in_data_dir(tmp_path / "fb"))
    doc = tmp_path / "ferry.txt"
    doc.write_text("The ferry to Tarn Island leaves on Thursdays.\n")
    bot.ingest([doc])
    source = str(doc.resolve())
    status, *_, pending = chat.confirm_remove(source, None)
    assert "Remove ferry.txt from the index? Click Remove again" in status
    assert pending == source and len(bot.sources()) == 1
    status, *_, pending = chat.confirm_remove(source, pending)
    assert "ferry.txt: removed" in status and pending is None and bot.sources() == []
    assert "Choose a document" in chat.confirm_remove(None, None)[0]


def test_page_details_backend_choice_placeholder_and_no_font_glyph(
    make_bot: Callable[..., Bot], make_settings: Callable[..., Settings],
    openai_server: OpenAIServer,
) -> None:
    def component(demo: object, elem_id: str) -> dict:
        return next(c["props"] for c in demo.config["components"]  # type: ignore[attr-defined]
                    if c.get("props", {}).get("elem_id") == elem_id)

    one = build_app(make_bot(), make_settings())
    assert component(one, "dq-backend")["visible"] is False
    assert component(one, "dq-remove-pick")["info"] == "Choose a document to remove"
    two = build_app(make_bot(openai_base_url=openai_server.base_url), make_settings())
    assert component(two, "dq-backend")["visible"] is True

    answer = Answer("Q", "Q", "A. [1]", False, notes=["The model was unavailable."])
    html = webview.answer_message(answer, "t1")
    assert "ⓘ" not in html and 'class="dq-note-mark"' in html
    assert "ⓘ" not in webview.CSS + webview.JS


def test_the_document_page_shows_one_gap_for_lines_kept_only_for_their_numbers() -> None:
    text = "Before the table.\n\nConstant: SIGWINCH; Description: resized.\n\n\n\n\n\nAfter it."
    start = text.index("Constant")
    page = webview.document_page(Opened("os.md", "OS", text=text, start=start,
                                        end=start + len("Constant: SIGWINCH")))
    body = page[page.index('<main class="doc">'):]
    assert '<mark id="passage" class="dq-cited">Constant: SIGWINCH</mark>' in body
    assert "; Description: resized.\n\nAfter it.</main>" in body
    assert "Before the table.\n\n<mark" in body
