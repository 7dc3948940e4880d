"""The Slack front end: a slack-bolt app that answers in threads through :meth:`Bot.ask`.

Mentions in channels and direct messages are answered in the thread of the question, and
the thread is the conversation. Socket Mode needs no public URL; HTTP mode serves the
Events API Request URL through Bolt's WSGI adapter.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from hashlib import sha256
from html import unescape
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cachetools import LRUCache

from bot.guard import QuestionError
from bot.service import Bot
from bot.settings import Settings

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk import WebClient

log = logging.getLogger(__name__)

PLACEHOLDER = "Searching the documents..."
APOLOGY = (
    ":warning: Sorry, something went wrong while answering. Please try again in a moment."
)
# How many 429 answers in a row one Web API call waits out before giving up.
RATE_LIMIT_RETRIES = 3
# Events remembered for de-duplication; Slack retries within minutes, so a few thousand
# keys cover any realistic burst while keeping memory bounded.
RECENT_EVENTS = 4096

# Pages of 200 replies read from one thread; longer threads keep their first 1000 messages.
HISTORY_PAGES = 5

Mode = Literal["socket", "http"]


class SlackSetupError(RuntimeError):
    """Missing or rejected Slack credentials; the message says what to set."""


# Slack token shapes (bot, user, app-level, refresh...), redacted wherever they show up.
_TOKEN = re.compile(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with Slack tokens and the given secrets replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _TOKEN.sub("[redacted]", text)


class Redactor(logging.Filter):
    """Redacts tokens and secrets in log records, their arguments and tracebacks included:
    the Slack API, or a proxy in front of it, may echo a token back in an error."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


class RecentEvents:
    """A bounded, thread-safe memory of handled events; the least recently seen go first."""

    def __init__(self, size: int = RECENT_EVENTS) -> None:
        self._keys: LRUCache[str, None] = LRUCache(maxsize=size)
        # The cache itself is not thread-safe, and the check and the update must be one step.
        self._lock = threading.Lock()

    def first_time(self, *keys: str) -> bool:
        """Remember ``keys``; True unless any of them was seen before."""
        wanted = [k for k in keys if k]
        with self._lock:
            new = not any(k in self._keys for k in wanted)
            for key in wanted:
                self._keys[key] = None
        return new


_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<![^>]*>")


def question_from(text: str, bot_user_id: str | None) -> str:
    """The plain question in a Slack message: the bot's mention removed, markup unwrapped."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(1)}" if m.group(1) else "", text)
    text = _SPECIAL.sub(" ", text)
    return " ".join(unescape(text).split())


def is_from_bot(message: Mapping[str, Any]) -> bool:
    """True for messages posted by any bot or app, this one included."""
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def thread_history(
    messages: Sequence[Mapping[str, Any]],
    before_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
    limit: int,
) -> list[dict[str, str]]:
    """Earlier turns of a thread as ``ask()`` history: our messages are the assistant's.

    Other bots, status messages (placeholder, apology) and messages at or after
    ``before_ts`` are left out; at most the last ``limit`` turns are kept.
    """
    turns: list[dict[str, str]] = []
    for msg in sorted(messages, key=lambda m: float(m.get("ts", 0))):
        if float(msg.get("ts", 0)) >= float(before_ts):
            break
        ours = (bot_id and msg.get("bot_id") == bot_id) or (
            bot_user_id and msg.get("user") == bot_user_id
        )
        if ours:
            text = str(msg.get("text", ""))
            if text and text not in (PLACEHOLDER, APOLOGY):
                turns.append({"role": "assistant", "content": text})
        elif not is_from_bot(msg) and not msg.get("subtype"):
            text = question_from(str(msg.get("text", "")), bot_user_id)
            if text:
                turns.append({"role": "user", "content": text})
    return turns[-limit:] if limit else []


class Responder:
    """Turns one Slack message event into one answer in its thread."""

    def __init__(self, bot: Bot, history_messages: int) -> None:
        self.bot = bot
        self.history_messages = history_messages
        self.recent = RecentEvents()

    def handle(
        self, body: Mapping[str, Any], event: Mapping[str, Any], client: WebClient,
        bot_user_id: str | None, bot_id: str | None,
    ) -> None:
        """Answer ``event`` unless it comes from a bot or was already answered."""
        if is_from_bot(event) or event.get("subtype") not in (None, "thread_broadcast"):
            return
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        if not channel or not ts or not event.get("user"):
            return
        # Slack retries carry the same event_id; a DM that mentions the bot arrives both as
        # message.im and app_mention, with different ids but the same channel and ts.
        if not self.recent.first_time(str(body.get("event_id", "")), f"{channel}/{ts}"):
            log.info("skipped a repeated event for message %s in %s", ts, channel)
            return
        thread_ts = str(event.get("thread_ts") or ts)
        started = time.perf_counter()
        placeholder: str | None = None
        try:
            posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=PLACEHOLDER)
            placeholder = str(posted["ts"])
            history, unread = self._history(client, event, bot_user_id, bot_id)
            question = question_from(str(event.get("text", "")), bot_user_id)
            try:
                answer = self.bot.ask(question, history)
            except QuestionError as exc:
                self._show(client, channel, thread_ts, placeholder, f":warning: Sorry, {exc}.")
                return
            blocks = answer.as_slack_blocks()
            if unread:
                blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
                    f"The earlier messages of this thread could not be read ({unread}), so "
                    "this question was answered on its own."
                )}]})
            # The plain text shows in notifications and is this turn of the thread's history.
            self._show(client, channel, thread_ts, placeholder, answer.text, blocks)
            log.info(
                "answered message %s in %s (%s, %d turns of history, %.1fs)", ts, channel,
                "refused" if answer.refused else f"{len(answer.citations)} citations",
                len(history), time.perf_counter() - started,
            )
        except Exception:
            log.exception("could not answer message %s in %s", ts, channel)
            try:
                self._show(client, channel, thread_ts, placeholder, APOLOGY)
            except Exception:
                log.exception("could not post the apology for message %s in %s", ts, channel)

    def _history(
        self, client: WebClient, event: Mapping[str, Any], bot_user_id: str | None,
        bot_id: str | None,
    ) -> tuple[list[dict[str, str]], str]:
        """The thread's earlier turns, and the Slack error when they could not be read."""
        from slack_sdk.errors import SlackApiError

        thread_ts = event.get("thread_ts")
        if not thread_ts or not self.history_messages:
            return [], ""
        channel = str(event["channel"])
        messages: list[dict[str, Any]] = []
        cursor = None
        try:
            # Replies come oldest first, so a long thread is paged through to reach its end.
            for _ in range(HISTORY_PAGES):
                page = client.conversations_replies(
                    channel=channel, ts=str(thread_ts), latest=str(event["ts"]),
                    limit=200, cursor=cursor,
                )
                messages += page.get("messages") or []
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            # A missing scope (e.g. groups:history) should not cost the user the answer.
            error = str(exc.response.get("error", "error"))
            log.warning("could not read thread %s in %s: %s", thread_ts, channel, error)
            return [], error
        turns = thread_history(
            messages, str(event["ts"]), bot_user_id, bot_id, self.history_messages
        )
        return turns, ""

    @staticmethod
    def _show(
        client: WebClient, channel: str, thread_ts: str, placeholder: str | None, text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        if placeholder:
            client.chat_update(channel=channel, ts=placeholder, text=text, blocks=blocks or [])
        else:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def _secrets(settings: Settings) -> list[str]:
    return [_secret(settings.slack_bot_token), _secret(settings.slack_app_token),
            _secret(settings.slack_signing_secret)]


def resolve_mode(settings: Settings) -> Mode:
    """Socket or HTTP mode from the settings; :class:`SlackSetupError` names what is missing."""
    if not _secret(settings.slack_bot_token):
        raise SlackSetupError(
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from the "
            "Slack app's OAuth & Permissions page (see docs/slack.md)"
        )
    mode = settings.slack_mode
    if mode == "auto":
        if _secret(settings.slack_app_token):
            mode = "socket"
        elif _secret(settings.slack_signing_secret):
            mode = "http"
        else:
            raise SlackSetupError(
                "set SLACK_APP_TOKEN (xapp-..., Socket Mode) or SLACK_SIGNING_SECRET "
                "(HTTP mode); see docs/slack.md"
            )
    if mode == "socket" and not _secret(settings.slack_app_token).startswith("xapp-"):
        raise SlackSetupError(
            "Socket Mode needs SLACK_APP_TOKEN, an app-level token (xapp-...) with the "
            "connections:write scope, from the app's Basic Information page"
        )
    if mode == "http" and not _secret(settings.slack_signing_secret):
        raise SlackSetupError(
            "HTTP mode needs SLACK_SIGNING_SECRET, from the app's Basic Information page"
        )
    return mode


def web_client(settings: Settings) -> WebClient:
    """A Web API client that waits out HTTP 429 for its Retry-After before trying again."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    return WebClient(
        token=_secret(settings.slack_bot_token),
        base_url=settings.slack_api_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


class _UnusedTokenWarning(logging.Filter):
    """Drops Bolt's warning that SLACK_BOT_TOKEN in the environment goes unused: the client
    handed to Bolt carries that same token, so the warning would only alarm people."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_app(bot: Bot, settings: Settings, executor: Executor | None = None) -> App:
    """The Bolt app: listeners for mentions and direct messages over ``bot``.

    ``executor`` runs the listeners (by default a pool of ``slack_workers`` threads).
    """
    from slack_bolt import App
    from slack_bolt.error import BoltError

    if not _secret(settings.slack_bot_token):
        resolve_mode(settings)  # raises, naming the missing token
    bolt_log = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _UnusedTokenWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_UnusedTokenWarning())
    try:
        app = App(
            client=web_client(settings),
            signing_secret=_secret(settings.slack_signing_secret),
            listener_executor=executor or ThreadPoolExecutor(
                settings.slack_workers, thread_name_prefix="slack"
            ),
        )
    except BoltError as exc:
        raise SlackSetupError(redact(
            f"Slack did not accept SLACK_BOT_TOKEN: {exc}", _secrets(settings))) from None
    except OSError as exc:
        raise SlackSetupError(redact(
            f"cannot reach the Slack Web API at {settings.slack_api_url}: {exc}",
            _secrets(settings))) from None
    responder = Responder(bot, settings.slack_history_messages)

    @app.event("app_mention")
    def on_mention(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, context: Any
    ) -> None:
        responder.handle(body, event, client, context.bot_user_id, context.bot_id)

    @app.event("message")
    def on_message(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, context: Any
    ) -> None:
        # Channel messages count only when they mention the bot (app_mention above).
        if event.get("channel_type") == "im":
            responder.handle(body, event, client, context.bot_user_id, context.bot_id)

    return app


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _LoggingHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestGate:
    """Checks each Events API request before Bolt sees it: a bounded body read only after
    its length is known, the Slack signature, UTF-8 and the payload's shape. A malformed
    request gets 400 and an unsigned one 401, never a server error."""

    def __init__(self, inner: WSGIApp, signing_secret: str, max_body: int) -> None:
        self.inner = inner
        self.secret = signing_secret.encode()
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        """The WSGI entry point."""
        if environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
        if not raw.isdigit():
            return _reply(start_response, 400, "bad Content-Length")
        if int(raw) > self.max_body:
            return _reply(start_response, 413, "request body too large")
        body = environ["wsgi.input"].read(int(raw)) if int(raw) else b""
        if not self._signed(environ, body):
            return _reply(start_response, 401, "invalid signature")
        problem = _malformed(body, str(environ.get("CONTENT_TYPE", "")))
        if problem:
            log.warning("refused a Slack request: %s", problem)
            return _reply(start_response, 400, problem)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            return self.inner(environ, start_response)
        except Exception:
            log.exception("could not handle a Slack request")
            return _reply(start_response, 500, "internal error")

    def _signed(self, environ: dict[str, Any], body: bytes) -> bool:
        # Slack's v0 scheme: HMAC-SHA256 of "v0:{timestamp}:{body}", within five minutes.
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        digest = hmac.new(self.secret, b"v0:" + timestamp.encode() + b":" + body, sha256)
        return hmac.compare_digest(f"v0={digest.hexdigest()}", signature)


def _malformed(body: bytes, content_type: str) -> str:
    """Why Bolt could not parse ``body``, or "" when it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    try:
        if content_type.startswith("application/json"):
            payload: Any = json.loads(text)
        else:
            form = parse_qs(text, strict_parsing=bool(text))
            payload = json.loads(form["payload"][0]) if "payload" in form else form
    except ValueError:
        return "body is not valid JSON or form data"
    return "" if isinstance(payload, dict) else "body is not a JSON object"


def _reply(start_response: Callable[..., Any], status: int, text: str) -> list[bytes]:
    reasons = {400: "Bad Request", 401: "Unauthorized", 413: "Payload Too Large",
               500: "Internal Server Error"}
    body = text.encode()
    start_response(f"{status} {reasons[status]}", [
        ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def make_http_server(
    app: App, host: str, port: int, path: str, max_body: int = 1024 * 1024
) -> WSGIServer:
    """A threaded HTTP server for the Events API Request URL (Bolt's WSGI adapter behind a
    :class:`RequestGate`)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    gate = RequestGate(SlackRequestHandler(app, path), app._signing_secret or "", max_body)
    return make_server(
        host, port, gate, server_class=_ThreadingWSGIServer, handler_class=_LoggingHandler,
    )


def socket_mode_handler(app: App, settings: Settings) -> SocketModeHandler:
    """Bolt's built-in Socket Mode connection for ``app``, with the app-level token."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, _secret(settings.slack_app_token))


def _get_ready(bot: Bot) -> None:
    """Load the store and models now so the first asker does not wait; warn when empty."""
    log.info("loading the document store and models")
    try:
        bot.warm_up()
        if not bot.sources():
            log.warning("no documents are indexed, so every answer will be a refusal; "
                        "add some with: bot ingest PATH")
    except Exception as exc:
        # Slack still connects: the error shows again, to the asker, when a question comes.
        log.warning("the bot could not load its store or models: %s", exc)


def run(bot: Bot, settings: Settings) -> None:
    """Connect to Slack and answer until interrupted."""
    mode = resolve_mode(settings)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    redactor = Redactor(_secrets(settings))
    for output in logging.getLogger().handlers:
        output.addFilter(redactor)
    app = build_app(bot, settings)
    _get_ready(bot)
    if mode == "socket":
        log.info("connecting to Slack in Socket Mode")
        handler = socket_mode_handler(app, settings)
        try:
            handler.start()
        except KeyboardInterrupt:
            pass
        finally:
            handler.close()
        return
    server = make_http_server(app, settings.slack_host, settings.slack_port, settings.slack_path,
                              settings.slack_max_body_kb * 1024)
    log.info(
        "listening for Slack events on http://%s:%d%s", settings.slack_host,
        server.server_port, settings.slack_path,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
