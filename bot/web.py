"""The browser chat (``bot web``): a Gradio front end over :class:`bot.service.Bot`.

It only calls ``ask_stream``, ``ingest``, ``sources`` and ``remove`` (uploads go through
:mod:`bot.uploads`) and renders what they return (HTML in :mod:`bot.webview`). Conversation
memory lives in per-session ``gr.State``, so two tabs hold two conversations; votes go to
:class:`bot.feedback.FeedbackStore`. Beside the page, ``GET /document/{id}`` opens the
document a citation comes from (:mod:`bot.documents`), behind the page's login.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute

from bot import webview
from bot.documents import Documents, Gone, NotIndexed
from bot.feedback import FeedbackStore, Vote
from bot.guard import QuestionError
from bot.loaders import SUPPORTED_SUFFIXES
from bot.models import Answer, SourceInfo
from bot.service import Bot
from bot.settings import Settings
from bot.store import StoreError
from bot.uploads import UploadFolder
from bot.uploads import safe_name as safe_name  # re-exported: known as bot.web.safe_name

log = logging.getLogger(__name__)


def _busy() -> Any:
    """The question box while an answer is on its way: emptied and locked, so one session
    never has two questions in flight against the same conversation."""
    return gr.update(value="", interactive=False)


def _ready() -> Any:
    return gr.update(interactive=True)


@dataclass
class Session:
    """One browser session's conversation: what is shown, and what the bot remembers."""

    display: list[dict[str, str]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    # Chat message index -> turn id, and turn id -> (answer, history before it).
    turns: dict[int, str] = field(default_factory=dict)
    answers: dict[str, tuple[Answer, list[dict[str, str]]]] = field(default_factory=dict)
    votes: dict[str, str] = field(default_factory=dict)
    last_voted: str = ""


class ChatApp:
    """Handlers of the page; :meth:`blocks` lays it out."""

    def __init__(self, bot: Bot, settings: Settings, feedback: FeedbackStore) -> None:
        self.bot = bot
        self.settings = settings
        self.feedback = feedback
        self.uploads = settings.data_dir / "uploads"
        self.upload_folder = UploadFolder(self.uploads, settings.web_max_upload_mb)
        self.library = Documents(bot.store, int(settings.max_file_mb * 1024 * 1024))

    # ----- asking ----------------------------------------------------------------------

    def respond(
        self, question: str, session: Session | None, backend: str, top_k: float,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the chat: pending bubble, streamed text, final answer."""
        session = session or Session()
        question = (question or "").strip()
        if not question:
            yield self._view(session, None, _ready())
            return
        session.display.append({"role": "user", "content": webview.user_message(question)})
        session.display.append({"role": "assistant", "content": webview.pending()})
        yield self._view(session, gr.update(), _busy())
        answer: Answer | None = None
        partial = ""
        try:
            events = self.bot.ask_stream(
                question, list(session.history),
                backend=backend if backend in self.bot.backends else None,
                top_k=int(top_k) if top_k else None,
            )
            for event in events:
                if isinstance(event, Answer):
                    answer = event
                else:
                    partial += event
                    session.display[-1]["content"] = webview.pending(partial)
                    yield self._view(session, gr.update(), _busy())
        except QuestionError as exc:
            message = f"That question can't be taken: {exc}."
        except StoreError as exc:
            log.warning("store error while answering: %s", exc)
            message = ("The document store can't be reached right now, so nothing could be "
                       "looked up. Please try again in a moment.")
        except ValueError as exc:
            message = f"{exc}."
        except Exception:
            log.exception("unexpected error while answering")
            message = "Something went wrong while answering; the details are in the server log."
        if answer is None:
            session.display[-1]["content"] = webview.error_message(message)
            yield self._view(session, gr.update(), _ready())
            return
        turn = uuid.uuid4().hex[:12]
        session.display[-1]["content"] = webview.answer_message(answer, f"t{turn}")
        session.turns[len(session.display) - 1] = turn
        session.answers[turn] = (answer, list(session.history))
        session.history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]
        yield self._view(session, webview.sources_panel(answer), _ready())

    def _view(self, session: Session, panel: Any, box: Any) -> tuple[Any, ...]:
        # Votes are passed back with every redraw, or the thumbs of earlier answers reset.
        labels = {"up": "Like", "down": "Dislike"}
        votes = [
            labels.get(session.votes.get(session.turns.get(i, ""), ""))
            for i, m in enumerate(session.display) if m["role"] == "assistant"
        ]
        messages: Any = list(session.display)
        chat = gr.Chatbot(value=messages, feedback_value=votes)
        return session, chat, panel if panel is not None else gr.update(), box

    def reset(self) -> tuple[Any, ...]:
        """A new, empty conversation for this session."""
        return Session(), [], webview.sources_panel(None), "", gr.update(visible=False)

    # ----- feedback --------------------------------------------------------------------

    def vote(self, session: Session | None, data: gr.LikeData, request: gr.Request
             ) -> tuple[Any, ...]:
        """Store a thumbs up/down on the answer it was given to."""
        session = session or Session()
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn = session.turns.get(index)
        if turn is None or turn not in session.answers:
            return session, webview.status([("warn", "That message can't be rated.")]), \
                gr.update(visible=False)
        answer, history = session.answers[turn]
        try:
            if data.liked is True or data.liked is False:
                vote: Vote = "up" if data.liked else "down"
                self.feedback.record(turn, vote, answer, history,
                                     session=getattr(request, "session_hash", "") or "")
                session.votes[turn] = vote
                session.last_voted = turn
                thanks = "Thanks, noted as helpful." if vote == "up" else (
                    "Thanks, noted as not helpful. What should the answer have been? "
                    "(optional, below)")
                return session, webview.status([("ok", thanks)]), \
                    gr.update(visible=vote == "down", value="")
            self.feedback.withdraw(turn)
            session.votes.pop(turn, None)
            return session, webview.status([("ok", "Vote withdrawn.")]), gr.update(visible=False)
        except Exception:
            log.exception("could not store feedback")
            return session, webview.status([("error", "The vote could not be saved.")]), \
                gr.update()

    def note(self, session: Session | None, text: str) -> tuple[Any, ...]:
        """Attach the expected answer to the last thumbs-down."""
        session = session or Session()
        if not text.strip() or not session.last_voted:
            return webview.status([("warn", "Nothing to save.")]), gr.update()
        self.feedback.comment(session.last_voted, text)
        return webview.status([("ok", "Thanks, your note was saved.")]), \
            gr.update(visible=False, value="")

    # ----- documents -------------------------------------------------------------------

    def documents(self) -> tuple[Any, Any, Any]:
        """The documents table, the choices of the remove menu and the line above the chat
        saying what is indexed."""
        try:
            items = self.bot.sources()
        except StoreError as exc:
            log.warning("store error while listing documents: %s", exc)
            down = webview.status([("error", "The document store can't be reached right now.")])
            return down, gr.update(choices=[]), ""
        info = "Choose a document to remove" if items else "No documents to remove"
        return (webview.documents_table(items),
                gr.update(choices=_choices(items), value=None, info=info),
                webview.indexed_summary(items))

    def upload(
        self, files: list[str] | None, request: gr.Request | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """Check, store and ingest uploaded files, showing each file's state as it goes.

        Yields (status, listing..., file box, Ask button). While the batch is indexed the line
        above the chat and the Ask button say so: answers meanwhile come from the documents
        indexed before."""
        session = getattr(request, "session_hash", "") or ""
        batch = self.upload_folder.stage((Path(f) for f in files or []), session)
        _forget_uploads(files or [])
        lines: list[tuple[str, str]] = [("error", r.text) for r in batch.rejected]
        if not batch.staged:
            lines = lines or [("warn", "Choose one or more files first.")]
            yield (webview.status(lines), *self.documents(), None, gr.update(value="Ask"))
            return
        names = [s.path.name for s in batch.staged]
        events: queue.Queue[str | None] = queue.Queue()
        result: dict[str, Any] = {}

        def work() -> None:
            # The ingest reports the file it starts on; the queue carries it to the page.
            try:
                result["outcomes"] = batch.ingest(
                    self.bot.ingest, progress=lambda _done, _total, current: events.put(current))
            except Exception as exc:  # shown to the user below, and logged
                result["error"] = exc
            finally:
                events.put(None)

        threading.Thread(target=work, name="upload", daemon=True).start()
        finished: set[str] = set()
        current = ""
        busy = gr.update(value="Ask (indexing…)")
        while True:
            yield (webview.upload_progress(names, finished, current, lines), gr.update(),
                   gr.update(), webview.indexing_note(len(finished), len(names)), gr.update(),
                   busy)
            event = events.get()
            if event is None:
                break
            if current:
                finished.add(current)
            current = Path(event).name if event else ""
        error = result.get("error")
        if isinstance(error, StoreError):
            log.warning("store error during upload: %s", error)
            lines.append(("error", "The document store can't be reached right now; nothing "
                          "was added."))
        elif error is not None:
            log.error("upload failed", exc_info=error)
            lines.append(("error", "The upload did not finish; the server's log has the "
                          "details."))
        else:
            lines += [("ok" if o.ok else "error", o.text) for o in result["outcomes"]]
        yield (webview.status(lines), *self.documents(), None, gr.update(value="Ask"))

    def confirm_remove(self, source: str | None, pending: str | None) -> tuple[Any, ...]:
        """The Remove button: the first click asks, a second click on the same document
        removes it. Returns the status, the listing and the document awaiting confirmation."""
        if not source or source != pending:
            if not source:
                return (webview.status([("warn", "Choose a document to remove.")]),
                        gr.update(), gr.update(), gr.update(), None)
            question = (f"Remove {Path(source).name} from the index? Click Remove again to "
                        "confirm.")
            return (webview.status([("warn", question)]), gr.update(), gr.update(),
                    gr.update(), source)
        return (*self.remove(source), None)

    def remove(self, source: str | None) -> tuple[Any, ...]:
        """Remove one document from the index (and its uploaded copy)."""
        if not source:
            return (webview.status([("warn", "Choose a document to remove.")]),
                    *self.documents())
        try:
            removed = self.bot.remove(source)
        except StoreError as exc:
            log.warning("store error during removal: %s", exc)
            return (webview.status([("error", "The document store can't be reached right now; "
                                     "nothing was removed.")]), *self.documents())
        path = Path(source)
        if removed:
            self.upload_folder.discard(source)
        message = ("ok", f"{path.name}: removed.") if removed else (
            "warn", f"{path.name} was not indexed.")
        return (webview.status([message]), *self.documents())

    # ----- layout ----------------------------------------------------------------------

    def blocks(self) -> gr.Blocks:
        """The page."""
        settings = self.settings
        backends = list(self.bot.backends)
        default_backend = (
            settings.answer_backend if settings.answer_backend in backends else backends[0]
        )
        # No telemetry or version check: the app must not reach the network.
        with ChatPage(title="Document Q&A", fill_width=True, analytics_enabled=False) as demo:
            demo.documents = self.library
            session = gr.State(Session())
            gr.Markdown(
                "## Document Q&A\nAnswers come only from the indexed documents. Each sentence "
                "carries **[n]** markers: click one to open the passage it comes from, and "
                "*open ↗* beside a passage to see it in its document. When the documents don't "
                "say, the bot says so."
            )
            known = gr.HTML("", elem_id="dq-known")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    chat = gr.Chatbot(
                        label="Conversation", show_label=False, elem_id="dq-chat", height=560,
                        sanitize_html=True, allow_tags=False, latex_delimiters=[],
                        line_breaks=False, feedback_options=("Like", "Dislike"),
                        placeholder="**Ask something about your documents.**"
                        + ("<br>Try one of the examples below." if settings.web_examples else ""),
                        examples=[{"text": q} for q in settings.web_examples] or None,
                        buttons=["copy"],
                    )
                    with gr.Row():
                        box = gr.Textbox(
                            placeholder="Ask a question about the documents…", show_label=False,
                            scale=5, elem_id="dq-question", max_lines=6, autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="dq-ask")
                    with gr.Row():
                        clear = gr.Button("New conversation", size="sm", elem_id="dq-new")
                    vote_status = gr.HTML("", elem_id="dq-vote-status")
                    with gr.Row(visible=False) as note_row:
                        note = gr.Textbox(
                            label="What should the answer have been? (optional)", scale=5,
                            elem_id="dq-note",
                        )
                        save_note = gr.Button("Save note", scale=1, size="sm")
                with gr.Column(scale=2, min_width=320):
                    with gr.Tab("Sources"):
                        panel = gr.HTML(webview.sources_panel(None), elem_id="dq-sources")
                    with gr.Tab("Documents", elem_id="dq-documents-tab") as docs_tab:
                        docs = gr.HTML(elem_id="dq-docs")
                        remove_pick = gr.Dropdown(
                            label="Remove a document", choices=[], value=None,
                            info="Choose a document to remove",
                            visible=not settings.web_read_only, elem_id="dq-remove-pick",
                        )
                        with gr.Row(equal_height=True):
                            remove_btn = gr.Button("Remove", size="sm", variant="stop",
                                                   visible=not settings.web_read_only,
                                                   elem_id="dq-remove", scale=0)
                            # Beside the button, so the answer to a click is seen where it was.
                            remove_status = gr.HTML("", elem_id="dq-remove-status")
                        pending_removal = gr.State(None)
                        if not settings.web_read_only:
                            files = gr.File(
                                label=f"Upload documents ({' '.join(SUPPORTED_SUFFIXES)}; up to "
                                f"{settings.web_max_upload_mb:g} MB each)",
                                file_count="multiple", elem_id="dq-upload",
                            )
                            index_btn = gr.Button("Add to the index", variant="primary",
                                                  elem_id="dq-index")
                        upload_status = gr.HTML("", elem_id="dq-upload-status")
                    with gr.Tab("Settings", elem_id="dq-settings-tab"):
                        # A choice of one is no choice: shown once an LLM endpoint is set.
                        backend = gr.Radio(
                            backends, value=default_backend, label="Answer backend",
                            visible=len(backends) > 1,
                            info="openai appears when an OpenAI-compatible endpoint is "
                            "configured (OPENAI_BASE_URL).", elem_id="dq-backend",
                        )
                        top_k = gr.Slider(1, 20, value=settings.top_k, step=1,
                                          label="Passages retrieved (top-k)", elem_id="dq-topk")

            ask_args: dict[str, Any] = {
                "fn": self.respond, "inputs": [box, session, backend, top_k],
                "outputs": [session, chat, panel, box],
                "show_progress": "hidden",
            }
            box.submit(**ask_args)
            send.click(**ask_args)
            chat.example_select(_example_text, None, box).then(**ask_args)
            clear.click(self.reset, None, [session, chat, panel, vote_status, note_row])
            chat.clear(self.reset, None, [session, chat, panel, vote_status, note_row])
            chat.like(self.vote, [session], [session, vote_status, note_row])
            save_note.click(self.note, [session, note], [vote_status, note_row])
            listing = [docs, remove_pick, known]
            demo.load(self.documents, None, listing)
            # Other sessions may have added or removed documents since the page loaded.
            docs_tab.select(self.documents, None, listing, show_progress="hidden")
            if not settings.web_read_only:
                # Sessions upload side by side: writes queue on the store's lock, but one
                # long file does not hold up another person's upload until it is done.
                index_btn.click(self.upload, [files], [upload_status, *listing, files, send],
                                show_progress="hidden")
                remove_btn.click(self.confirm_remove, [remove_pick, pending_removal],
                                 [remove_status, *listing, pending_removal], api_name="remove",
                                 concurrency_limit=1, show_progress_on=[remove_status])
        return demo


class ChatPage(gr.Blocks):
    """The chat page; launched, it also serves the documents its citations open."""

    documents: Documents | None = None

    def launch(self, *args: Any, **kwargs: Any) -> Any:
        """``Blocks.launch``, with the document route added as the server starts."""
        app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
        if self.documents is not None:
            app_kwargs["lifespan"] = _serving(self.documents, app_kwargs.get("lifespan"))
        return super().launch(*args, app_kwargs=app_kwargs, **kwargs)


# The document views are the indexed text, escaped: nothing in them may run or load.
_DOCUMENT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                "form-action 'none'")


def _serving(documents: Documents, inner: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """A server lifespan that adds ``GET /document/{id}`` to Gradio's app before the first
    request, behind the guard Gradio puts on the page's own configuration (its login check,
    which lets everyone through when no password is set)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        guard = next((list(r.dependencies) for r in app.routes
                      if isinstance(r, APIRoute) and r.path == "/config"), [])
        if not guard:
            # Serving documents without the page's login would open them to anyone.
            raise RuntimeError("Gradio's login check was not found; documents not served")

        def document(doc_id: str, passage: str = "") -> Response:
            return _document_response(documents, doc_id, passage)

        app.add_api_route("/document/{doc_id}", document, methods=["GET"], dependencies=guard,
                          include_in_schema=False)
        if inner is None:
            yield None
        else:
            async with inner(app) as state:
                yield state

    return lifespan


def _document_response(documents: Documents, doc_id: str, passage: str) -> Response:
    """The document ``doc_id`` as a PDF or an HTML page, or a plain message saying why not."""
    try:
        opened = documents.open(doc_id, passage)
    except NotIndexed:
        return PlainTextResponse("No such document is in the index.", 404,
                                 headers=_DOCUMENT_HEADERS)
    except Gone as exc:
        return PlainTextResponse(f"{exc}.", 410, headers=_DOCUMENT_HEADERS)
    except StoreError as exc:
        log.warning("store error while opening a document: %s", exc)
        return PlainTextResponse("The document store can't be reached right now.", 503,
                                 headers=_DOCUMENT_HEADERS)
    if opened.pdf is not None:
        filename = quote(Path(opened.name).name, safe="")
        return Response(opened.pdf, media_type="application/pdf", headers={
            **_DOCUMENT_HEADERS, "Content-Disposition": f"inline; filename*=UTF-8''{filename}"})
    return HTMLResponse(webview.document_page(opened), headers={
        **_DOCUMENT_HEADERS, "Content-Security-Policy": _PAGE_POLICY})


def _forget_uploads(files: list[str]) -> None:
    """Delete Gradio's own copies of uploaded files once they are staged: its file route
    would otherwise keep serving a document after it was removed from the index."""
    cache = Path(gr.utils.get_upload_folder()).resolve()
    for name in files:
        path = Path(name).resolve()
        if path.is_relative_to(cache):
            path.unlink(missing_ok=True)


class LoginGate:
    """The shared-password check, refusing every attempt for the rest of a minute once
    ``limit`` wrong passwords came in within it (Gradio's login hands over no address)."""

    def __init__(self, secret: str, limit: int) -> None:
        self.secret = secret.encode()
        self.limit = limit
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def __call__(self, _user: str, password: str) -> bool:
        """True when ``password`` is right and attempts are not being refused."""
        now = time.monotonic()
        with self._lock:
            while self._failures and now - self._failures[0] > 60:
                self._failures.popleft()
            if len(self._failures) >= self.limit:
                log.warning("web login refused: %d wrong passwords within a minute",
                            len(self._failures))
                return False
            ok = hmac.compare_digest(password.encode(), self.secret)
            if not ok:
                self._failures.append(now)
            return ok


def _example_text(data: gr.SelectData) -> str:
    value = data.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


def _choices(items: list[SourceInfo]) -> list[tuple[str, str]]:
    return [(s.name, s.source) for s in sorted(items, key=lambda s: s.name.lower())]


def build_app(bot: Bot, settings: Settings, feedback: FeedbackStore | None = None) -> gr.Blocks:
    """The Gradio Blocks app over ``bot``, its queue serving four events at a time (answers
    and uploads of different sessions alike; an event's own limit can be lower)."""
    store = feedback or FeedbackStore.in_data_dir(settings.data_dir)
    return ChatApp(bot, settings, store).blocks().queue(default_concurrency_limit=4)


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: bind address, login, limits, look."""
    limit_mb = settings.web_max_upload_mb
    options: dict[str, Any] = {
        "server_name": settings.web_host,
        "server_port": settings.web_port,
        # A hard cap at the door; files between the setting and the cap get a message per
        # file from the upload handler, and the other files of the batch still go in.
        "max_file_size": int(max(2 * limit_mb, limit_mb + 1) * 1024 * 1024),
        "show_error": False,
        "footer_links": [],
        "theme": gr.themes.Soft(),
        "css": webview.CSS,
        "js": webview.JS,
    }
    if settings.web_password is not None:
        options["auth"] = LoginGate(settings.web_password.get_secret_value(),
                                    settings.web_login_attempts)
        options["auth_message"] = "This chat is protected by a shared password (any user name)."
    return options


def serve(bot: Bot, settings: Settings, announce: Callable[[str], None] = print) -> None:
    """Run the web app until interrupted; raises OSError when the port is taken."""
    app = build_app(bot, settings)
    # The page appears once the models are loaded: the first question does not wait for them.
    bot.warm_up()
    app.launch(prevent_thread_lock=True, quiet=True, share=False, **launch_options(settings))
    announce(f"Serving the chat on http://{settings.web_host}:{settings.web_port} "
             "(Ctrl-C to stop).")
    try:
        app.block_thread()
    finally:
        app.close()
