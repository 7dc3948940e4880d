"""The Slack bot end to end: the real Bolt app in HTTP mode on 127.0.0.1 receives Events API
payloads signed the way Slack signs them, and talks to a Slack Web API stand-in (a real HTTP
server on 127.0.0.1) that records every call."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import queue
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.models import REFUSAL, Answer
from bot.service import Bot
from bot.settings import Settings
from bot.slack import (
    APOLOGY,
    PLACEHOLDER,
    SlackSetupError,
    build_app,
    make_http_server,
    question_from,
    resolve_mode,
    socket_mode_handler,
    thread_history,
)
from bot.store import make_client
from tests.servers import LocalHTTPServer

TOKEN = "xoxb-test-0000-secret-bot-token"
APP_TOKEN = "xapp-1-test-secret-app-token"
SECRET = "test-signing-secret-0123456789"
BOT_USER, BOT_ID, TEAM = "UBOT", "BBOT", "T0TEST"
CHANNEL, DM, ALICE = "C0GENERAL", "D0ALICE", "UALICE"


# ----- the Slack Web API stand-in ---------------------------------------------------------


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)


class SlackAPI(LocalHTTPServer):
    """Answers auth.test, chat.postMessage, chat.update and conversations.replies like Slack,
    keeps the posted messages per channel, and can answer one method with 429 first."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.rate_limited: dict[str, int] = {}
        self.failing: dict[str, str] = {}
        self.socket_url = ""
        self.retry_after = 1
        self._clock = itertools.count(1)
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                method = self.path.removeprefix("/api/")
                status, headers, payload = api.respond(
                    method, params, self.headers.get("Authorization", "")
                )
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
        self.api_url = self.url("/api/")

    def next_ts(self) -> str:
        return f"1700000000.{next(self._clock):06d}"

    def add_user_message(self, channel: str, text: str, thread_ts: str | None = None) -> str:
        """A person's message as Slack would store it; returns its ts."""
        with self._lock:
            ts = self.next_ts()
            msg = {"type": "message", "user": ALICE, "text": text, "ts": ts}
            if thread_ts:
                msg["thread_ts"] = thread_ts
            self.messages.setdefault(channel, []).append(msg)
        return ts

    def add_bot_message(self, channel: str, text: str, thread_ts: str) -> str:
        """A reply this bot posted earlier; returns its ts."""
        with self._lock:
            ts = self.next_ts()
            self.messages.setdefault(channel, []).append(
                {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": text,
                 "ts": ts, "thread_ts": thread_ts})
        return ts

    def respond(
        self, method: str, params: dict[str, Any], auth: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            if self.rate_limited.get(method):
                self.rate_limited[method] -= 1
                self.calls.append(Call(method, params, 429))
                return 429, {"Retry-After": str(self.retry_after)}, {
                    "ok": False, "error": "ratelimited"}
            self.calls.append(Call(method, params, 200))
            wanted = APP_TOKEN if method == "apps.connections.open" else TOKEN
            if auth != f"Bearer {wanted}":
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            if method in self.failing:
                return 200, {}, {"ok": False, "error": self.failing[method]}
            return 200, {}, self._answer(method, params)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method == "auth.test":
            return {"ok": True, "url": "https://test.slack.com/", "team": "Test",
                    "user": "docbot", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID,
                    "is_enterprise_install": False}
        channel = str(params.get("channel", ""))
        if method == "chat.postMessage":
            msg = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID,
                   "text": params.get("text", ""), "ts": self.next_ts()}
            if params.get("blocks"):
                msg["blocks"] = params["blocks"]
            if params.get("thread_ts"):
                msg["thread_ts"] = params["thread_ts"]
            self.messages.setdefault(channel, []).append(msg)
            return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}
        if method == "chat.update":
            for msg in self.messages.get(channel, []):
                if msg["ts"] == params.get("ts"):
                    msg["text"], msg["blocks"] = params.get("text", ""), params.get("blocks")
                    return {"ok": True, "channel": channel, "ts": msg["ts"], "text": msg["text"]}
            return {"ok": False, "error": "message_not_found"}
        if method == "conversations.replies":
            ts, latest = params.get("ts"), params.get("latest")
            thread = [m for m in self.messages.get(channel, [])
                      if m["ts"] == ts or m.get("thread_ts") == ts]
            if not thread:
                return {"ok": False, "error": "thread_not_found"}
            thread = [m for m in thread if not latest or m["ts"] <= latest]
            # Oldest first, at most `limit` per page, like Slack.
            start, size = int(params.get("cursor") or 0), int(params.get("limit") or 1000)
            page = thread[start:start + size]
            more = start + size < len(thread)
            return {"ok": True, "messages": page, "has_more": more,
                    "response_metadata": {"next_cursor": str(start + size) if more else ""}}
        return {"ok": False, "error": "unknown_method"}

    def made(self, method: str) -> list[Call]:
        """Calls of ``method`` so far, in order."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def replies_in(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The bot's messages in one thread."""
        with self._lock:
            return [m for m in self.messages.get(channel, [])
                    if m.get("bot_id") == BOT_ID and m.get("thread_ts") == thread_ts]

    def wait_for_answer(self, channel: str, thread_ts: str, count: int = 1) -> None:
        """Block until ``count`` bot messages in the thread are no longer placeholders."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [m for m in self.replies_in(channel, thread_ts) if m["text"] != PLACEHOLDER]
            if len(done) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"no answer in thread {thread_ts} of {channel} within 60 s")


class SocketModeServer:
    """Slack's Socket Mode side on 127.0.0.1: says hello, pushes envelopes, records acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: list[dict[str, Any]] = []
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket=t1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SocketModeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()

    def push(self, envelope: dict[str, Any]) -> None:
        self._outbox.put(envelope)

    def _session(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        ws.send(json.dumps({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A0TEST"}}))
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                ws.send(json.dumps(self._outbox.get(timeout=0.05)))
            try:
                self.acks.append(json.loads(ws.recv(timeout=0.05)))
            except TimeoutError:
                pass
            except ConnectionClosed:
                return

    def wait_for_acks(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.acks) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acks) >= count, f"{len(self.acks)} of {count} envelopes acknowledged"


# ----- the Bolt app, signed requests --------------------------------------------------------


def sign(body: str, timestamp: str, secret: str = SECRET) -> str:
    """Slack's v0 request signature."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Slack:
    """The real Bolt app served on 127.0.0.1, plus helpers that act as Slack and its users."""

    def __init__(self, bot: Bot, api: SlackAPI, settings: Settings) -> None:
        self.api = api
        self.executor = ThreadPoolExecutor(max_workers=3)
        self.app = build_app(bot, settings, executor=self.executor)
        self.server = make_http_server(self.app, "127.0.0.1", 0, settings.slack_path)
        self.url = f"http://127.0.0.1:{self.server.server_port}{settings.slack_path}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.server.shutdown()
        self.server.server_close()

    def drain(self) -> None:
        """Wait until every event Bolt acknowledged has been fully handled."""
        self.executor.shutdown(wait=True)

    def post(
        self, payload: dict[str, Any], *, secret: str = SECRET, timestamp: str | None = None,
        headers: dict[str, str] | None = None, signed: bool = True,
    ) -> tuple[int, str]:
        body = json.dumps(payload)
        stamp = timestamp or str(int(time.time()))
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if signed:
            all_headers["X-Slack-Request-Timestamp"] = stamp
            all_headers["X-Slack-Signature"] = sign(body, stamp, secret)
        request = urllib.request.Request(self.url, body.encode(), all_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token", "team_id": TEAM, "api_app_id": "A0TEST",
            "event": event, "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}", "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER,
                                "is_bot": True, "is_enterprise_install": False}],
        }

    def mention(self, text: str, thread_ts: str | None = None, **post: Any) -> tuple[str, dict]:
        """Alice mentions the bot in a channel; returns the message ts and the sent payload."""
        full = f"<@{BOT_USER}> {text}"
        ts = self.api.add_user_message(CHANNEL, full, thread_ts)
        event = {"type": "app_mention", "user": ALICE, "text": full, "ts": ts,
                 "channel": CHANNEL, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        payload = self.envelope(event)
        status, _ = self.post(payload, **post)
        assert status == 200
        return ts, payload

    def direct(self, text: str, thread_ts: str | None = None) -> tuple[str, dict]:
        """Alice writes to the bot in a direct message."""
        ts = self.api.add_user_message(DM, text, thread_ts)
        event = {"type": "message", "user": ALICE, "text": text, "ts": ts, "channel": DM,
                 "event_ts": ts, "channel_type": "im"}
        if thread_ts:
            event["thread_ts"] = thread_ts
        payload = self.envelope(event)
        assert self.post(payload)[0] == 200
        return ts, payload


@pytest.fixture
def slack_api() -> Iterator[SlackAPI]:
    with SlackAPI() as api:
        yield api


@pytest.fixture
def make_slack(
    slack_api: SlackAPI, make_settings: Callable[..., Settings]
) -> Iterator[Callable[[Bot], Slack]]:
    started: list[Slack] = []

    def factory(bot: Bot) -> Slack:
        settings = make_settings(
            slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack_api.api_url,
            slack_mode="http",
        )
        started.append(Slack(bot, slack_api, settings))
        return started[-1]

    yield factory
    for slack in started:
        slack.close()


@pytest.fixture
def slack(make_slack: Callable[[Bot], Slack], corpus_bot: Bot) -> Slack:
    return make_slack(corpus_bot)


def block_text(blocks: list[dict[str, Any]]) -> str:
    """All the text a person sees in a message's blocks."""
    out = []
    for block in blocks or []:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", [])]
    return "\n".join(out)


# ----- answering ----------------------------------------------------------------------------


def test_mention_is_answered_in_its_thread_with_citations(
    slack: Slack, corpus_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    question = "When was the US-Japan Security Treaty formed?"
    ts, _ = slack.mention(question)
    slack.drain()

    expected = corpus_bot.ask(question)
    assert not expected.refused and expected.citations
    assert slack.api.made("auth.test"), "Bolt verifies the token against the stand-in"
    posted = slack.api.made("chat.postMessage")
    assert [(c.params["channel"], c.params["thread_ts"], c.params["text"]) for c in posted] == [
        (CHANNEL, ts, PLACEHOLDER)
    ]
    [update] = slack.api.made("chat.update")
    assert update.at >= posted[0].at
    [reply] = slack.api.replies_in(CHANNEL, ts)
    assert update.params["ts"] == reply["ts"]
    assert reply["text"] == expected.text
    assert reply["blocks"] == expected.as_slack_blocks()
    shown = block_text(reply["blocks"])
    assert expected.text.split(" [1]")[0] in shown
    for citation in expected.citations:
        assert f"[{citation.n}]" in expected.text
        assert f"[{citation.n}] {citation.chunk.source_name} ({citation.chunk.location})" in shown
        assert " ".join(citation.quote.split())[:60] in shown
    assert TOKEN not in caplog.text and SECRET not in caplog.text


def test_refusal_is_visibly_a_refusal(slack: Slack) -> None:
    ts, _ = slack.mention("What is the boiling point of mercury?")
    slack.drain()
    [reply] = slack.api.replies_in(CHANNEL, ts)
    assert reply["text"] == REFUSAL
    assert reply["blocks"][0]["text"]["text"] == f":no_entry_sign: *{REFUSAL}*"
    assert "[1]" not in block_text(reply["blocks"])


def test_follow_up_in_a_thread_uses_its_earlier_turns(slack: Slack, corpus_bot: Bot) -> None:
    first = "Who is Shigeru Ishiba?"
    root, _ = slack.mention(first)
    slack.api.wait_for_answer(CHANNEL, root)
    follow_up = "Where was he born?"
    ts, _ = slack.mention(follow_up, thread_ts=root)
    slack.drain()

    [replies_call] = slack.api.made("conversations.replies")
    assert (replies_call.params["channel"], replies_call.params["ts"]) == (CHANNEL, root)
    first_reply, second_reply = slack.api.replies_in(CHANNEL, root)
    history = [{"role": "user", "content": first},
               {"role": "assistant", "content": first_reply["text"]}]
    with_thread = corpus_bot.ask(follow_up, history)
    alone = corpus_bot.ask(follow_up)
    assert with_thread.text != alone.text, "the corpus must make this follow-up need history"
    assert second_reply["text"] == with_thread.text
    assert [c.params["thread_ts"] for c in slack.api.made("chat.postMessage")] == [root, root]
    assert ts > root


def test_a_long_thread_is_paged_through_to_its_latest_turns(
    slack: Slack, corpus_bot: Bot
) -> None:
    root = slack.api.add_user_message(CHANNEL, f"<@{BOT_USER}> Who is Yoshihide Suga?")
    for _ in range(120):  # 240 replies: more than one page of conversations.replies
        slack.api.add_bot_message(CHANNEL, "An earlier answer about Suga.", root)
        slack.api.add_user_message(CHANNEL, f"<@{BOT_USER}> Who is Yoshihide Suga?", root)
    slack.api.add_user_message(CHANNEL, f"<@{BOT_USER}> Who is Shigeru Ishiba?", root)
    slack.api.add_bot_message(CHANNEL, "An answer about Ishiba.", root)
    follow_up = "Where was he born?"
    slack.mention(follow_up, thread_ts=root)
    slack.drain()

    pages = slack.api.made("conversations.replies")
    assert len(pages) == 2
    reply = slack.api.replies_in(CHANNEL, root)[-1]
    recent = [{"role": "user", "content": "Who is Shigeru Ishiba?"},
              {"role": "assistant", "content": "An answer about Ishiba."}]
    assert reply["text"] == corpus_bot.ask(follow_up, recent).text
    assert reply["text"] != corpus_bot.ask(
        follow_up, [{"role": "user", "content": "Who is Yoshihide Suga?"}]
    ).text


def test_direct_message_is_answered_once_even_when_it_also_mentions_the_bot(
    slack: Slack, corpus_bot: Bot
) -> None:
    question = f"<@{BOT_USER}> Who is Yoshihide Suga?"
    ts, payload = slack.direct(question)
    # Slack sends a DM that mentions the app both as message.im and as app_mention.
    mention = dict(payload["event"], type="app_mention")
    mention.pop("channel_type")
    assert slack.post(slack.envelope(mention))[0] == 200
    slack.drain()
    [reply] = slack.api.replies_in(DM, ts)
    assert reply["text"] == corpus_bot.ask("Who is Yoshihide Suga?").text
    assert len(slack.api.made("chat.postMessage")) == 1


def test_retries_and_duplicate_events_give_one_answer(slack: Slack) -> None:
    ts, payload = slack.mention("When was the US-Japan Security Treaty formed?")
    for n in (1, 2):
        status, _ = slack.post(
            payload, headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}
        )
        assert status == 200, "a retry must be acknowledged, or Slack keeps retrying"
    assert slack.post(payload)[0] == 200  # the same event delivered twice, no retry header
    slack.drain()
    assert len(slack.api.made("chat.postMessage")) == 1
    assert len(slack.api.made("chat.update")) == 1
    [reply] = slack.api.replies_in(CHANNEL, ts)
    assert reply["text"] != PLACEHOLDER


def test_messages_from_bots_are_ignored(slack: Slack) -> None:
    question = "Who is Shigeru Ishiba?"
    base = {"type": "message", "channel": DM, "channel_type": "im", "text": question}
    events = [
        dict(base, user=BOT_USER, bot_id=BOT_ID, ts=slack.api.next_ts()),  # our own post
        dict(base, user="UOTHER", bot_id="BOTHER", ts=slack.api.next_ts()),  # another bot
        dict(base, subtype="bot_message", bot_id="BOTHER", ts=slack.api.next_ts()),
        dict(base, subtype="message_changed", ts=slack.api.next_ts(),
             message={"user": ALICE, "text": question}),
        {"type": "app_mention", "channel": CHANNEL, "user": "UOTHER", "bot_id": "BOTHER",
         "text": f"<@{BOT_USER}> {question}", "ts": slack.api.next_ts()},
    ]
    for event in events:
        assert slack.post(slack.envelope(event))[0] == 200
    slack.drain()
    assert not slack.api.made("chat.postMessage")
    assert not slack.api.made("chat.update")


@pytest.mark.parametrize("problem", ["wrong secret", "stale", "unsigned"])
def test_bad_or_stale_signatures_get_401_and_no_answer(slack: Slack, problem: str) -> None:
    ts = slack.api.add_user_message(CHANNEL, f"<@{BOT_USER}> Who is Shigeru Ishiba?")
    event = {"type": "app_mention", "user": ALICE, "channel": CHANNEL, "ts": ts,
             "text": f"<@{BOT_USER}> Who is Shigeru Ishiba?"}
    payload = slack.envelope(event)
    if problem == "wrong secret":
        status, _ = slack.post(payload, secret="not-the-signing-secret")
    elif problem == "stale":
        status, _ = slack.post(payload, timestamp=str(int(time.time()) - 10 * 60))
    else:
        status, _ = slack.post(payload, signed=False)
    assert status == 401
    slack.drain()
    assert not slack.api.made("chat.postMessage")


def test_url_verification_echoes_the_challenge(slack: Slack) -> None:
    payload = {"token": "legacy", "challenge": "c-8f2e1d", "type": "url_verification"}
    status, body = slack.post(payload)
    assert status == 200 and "c-8f2e1d" in body


def test_rate_limit_is_waited_out_with_retry_after(slack: Slack) -> None:
    slack.api.rate_limited["chat.update"] = 1
    slack.api.retry_after = 1
    ts, _ = slack.mention("When was the US-Japan Security Treaty formed?")
    slack.drain()
    limited, retried = slack.api.made("chat.update")
    assert (limited.status, retried.status) == (429, 200)
    assert retried.at - limited.at >= slack.api.retry_after
    assert retried.params == limited.params
    [reply] = slack.api.replies_in(CHANNEL, ts)
    assert reply["text"] == retried.params["text"] != PLACEHOLDER


def test_an_error_while_answering_gives_an_apology_and_a_log_line(
    make_slack: Callable[[Bot], Slack], make_bot: Callable[..., Bot],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = make_bot()
    slack = make_slack(bot)
    # The store disappears under the running bot, as when its collection is deleted.
    make_client(bot.settings).delete_collection(f"{bot.settings.collection}__files")
    ts, _ = slack.mention("Who is Shigeru Ishiba?")
    slack.drain()
    [reply] = slack.api.replies_in(CHANNEL, ts)
    assert reply["text"] == APOLOGY
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "bot.slack"]
    assert errors and ts in errors[0].getMessage() and errors[0].exc_info


def test_an_unreadable_thread_still_gets_an_answer_and_says_why(
    slack: Slack, corpus_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    root = slack.api.add_user_message(CHANNEL, "Who is Shigeru Ishiba?")
    slack.api.failing["conversations.replies"] = "missing_scope"
    follow_up = "Where was he born?"
    slack.mention(follow_up, thread_ts=root)
    slack.drain()
    [reply] = slack.api.replies_in(CHANNEL, root)
    assert reply["text"] == corpus_bot.ask(follow_up).text
    assert "missing_scope" in block_text(reply["blocks"])
    assert any("missing_scope" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


def test_socket_mode_answers_events_from_the_websocket_once(
    slack_api: SlackAPI, corpus_bot: Bot, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        slack_bot_token=TOKEN, slack_app_token=APP_TOKEN, slack_api_url=slack_api.api_url
    )
    assert resolve_mode(settings) == "socket"
    question = "When was the US-Japan Security Treaty formed?"
    with SocketModeServer() as server:
        slack_api.socket_url = server.url
        executor = ThreadPoolExecutor(max_workers=2)
        handler = socket_mode_handler(build_app(corpus_bot, settings, executor), settings)
        handler.connect()
        try:
            ts = slack_api.add_user_message(DM, question)
            event = {"type": "message", "user": ALICE, "text": question, "ts": ts,
                     "channel": DM, "channel_type": "im", "event_ts": ts}
            payload = {"type": "event_callback", "team_id": TEAM, "event_id": "EvSOCKET1",
                       "event": event, "event_time": int(time.time())}
            envelope = {"envelope_id": "env-1", "type": "events_api", "payload": payload,
                        "accepts_response_payload": False, "retry_attempt": 0}
            server.push(envelope)
            server.push(dict(envelope, envelope_id="env-2", retry_attempt=1,
                             retry_reason="timeout"))
            server.wait_for_acks(2)
        finally:
            executor.shutdown(wait=True)
            handler.close()
    # The client acks on its own worker threads, so only "each envelope once" is promised.
    assert sorted(a["envelope_id"] for a in server.acks) == ["env-1", "env-2"]
    assert slack_api.made("apps.connections.open")
    [reply] = slack_api.replies_in(DM, ts)
    assert reply["text"] == corpus_bot.ask(question).text
    assert len(slack_api.made("chat.postMessage")) == 1


def test_an_empty_mention_gets_a_reply_not_silence(slack: Slack) -> None:
    ts, _ = slack.mention("")
    slack.drain()
    [reply] = slack.api.replies_in(CHANNEL, ts)
    assert reply["text"] not in (PLACEHOLDER, APOLOGY)
    assert "empty" in reply["text"]


# ----- pieces -------------------------------------------------------------------------------


def test_question_from_strips_the_mention_and_unwraps_markup() -> None:
    text = (
        f"<@{BOT_USER}> what does <https://example.com/a|the page> say about A &amp; B "
        "in <#C1|general>?"
    )
    assert question_from(text, BOT_USER) == "what does the page say about A & B in #general?"
    assert question_from(f"<@{BOT_USER}|docbot>   ", BOT_USER) == ""


def test_thread_history_maps_our_messages_to_assistant_turns() -> None:
    messages = [
        {"ts": "1.000003", "user": ALICE, "text": "later question"},
        {"ts": "1.000001", "user": ALICE, "text": f"<@{BOT_USER}> first question"},
        {"ts": "1.000002", "user": BOT_USER, "bot_id": BOT_ID, "text": "first answer"},
        {"ts": "1.0000021", "user": BOT_USER, "bot_id": BOT_ID, "text": PLACEHOLDER},
        {"ts": "1.0000022", "bot_id": "BOTHER", "subtype": "bot_message", "text": "noise"},
        {"ts": "1.0000023", "user": ALICE, "subtype": "channel_join", "text": "joined"},
    ]
    assert thread_history(messages, "1.000003", BOT_USER, BOT_ID, 20) == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
    ]
    assert thread_history(messages, "1.000003", BOT_USER, BOT_ID, 1) == [
        {"role": "assistant", "content": "first answer"}
    ]
    assert thread_history(messages, "1.000003", BOT_USER, BOT_ID, 0) == []


def test_setup_errors_name_what_to_set_and_never_show_tokens(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SlackSetupError, match="SLACK_BOT_TOKEN"):
        resolve_mode(make_settings())
    with pytest.raises(SlackSetupError, match=r"SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"):
        resolve_mode(make_settings(slack_bot_token=TOKEN))
    with pytest.raises(SlackSetupError, match="xapp-"):
        resolve_mode(make_settings(slack_bot_token=TOKEN, slack_mode="socket"))
    assert resolve_mode(make_settings(slack_bot_token=TOKEN, slack_app_token="xapp-1")) == "socket"
    assert resolve_mode(make_settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET)) == "http"

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    settings = Settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and SECRET not in str(settings)

    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    result = CliRunner().invoke(cli_app, ["slack"])
    assert result.exit_code == 2
    assert "SLACK_APP_TOKEN" in result.output and TOKEN not in result.output


def test_manifest_and_guide_match_what_the_app_uses() -> None:
    import re

    import yaml

    from bot.settings import PROJECT_DIR

    manifest = yaml.safe_load((PROJECT_DIR / "slack" / "manifest.yaml").read_text())
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert settings["socket_mode_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # mentions, posting and updating, DMs, and conversations.replies in every channel kind
    assert {"app_mentions:read", "chat:write", "im:history", "channels:history",
            "groups:history", "mpim:history"} <= scopes
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] and not home["messages_tab_read_only_enabled"]

    guide = (PROJECT_DIR / "docs" / "slack.md").read_text()
    assert "slack/manifest.yaml" in guide and "bot slack" in guide
    env_names = {
        name.upper()
        for field_name, info in Settings.model_fields.items()
        for name in (
            info.validation_alias.choices if info.validation_alias is not None
            else [f"BOT_{field_name}"]
        )
        if isinstance(name, str)
    }
    mentioned = set(re.findall(r"\b(?:BOT_)?SLACK_[A-Z_]+\b", guide))
    assert mentioned and mentioned <= env_names, mentioned - env_names
    documented = set(re.findall(r"^# (?:BOT_)?(SLACK_[A-Z_]+|BOT_SLACK_[A-Z_]+)=",
                                (PROJECT_DIR / ".env.example").read_text(), re.M))
    slack_fields = {f for f in Settings.model_fields if f.startswith("slack_")}
    assert len(documented) == len(slack_fields)


def test_a_rejected_token_or_unreachable_slack_is_a_clear_setup_error(
    slack_api: SlackAPI, corpus_bot: Bot, make_settings: Callable[..., Settings]
) -> None:
    wrong = "xoxb-wrong-token-value"
    settings = make_settings(slack_bot_token=wrong, slack_signing_secret=SECRET,
                             slack_api_url=slack_api.api_url)
    with pytest.raises(SlackSetupError, match="invalid_auth") as rejected:
        build_app(corpus_bot, settings)
    assert wrong not in str(rejected.value)

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = make_settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                             slack_api_url=f"http://127.0.0.1:{closed}/api/")
    with pytest.raises(SlackSetupError, match="cannot reach the Slack Web API"):
        build_app(corpus_bot, settings)


def test_questions_arriving_together_each_get_their_own_answer(
    slack: Slack, corpus_bot: Bot
) -> None:
    questions = ["Who is Shigeru Ishiba?", "When was the US-Japan Security Treaty formed?",
                 "Who is Yoshihide Suga?"]
    with ThreadPoolExecutor(max_workers=len(questions)) as senders:
        sent = list(senders.map(lambda q: slack.mention(q)[0], questions))
    slack.drain()
    for question, ts in zip(questions, sent, strict=True):
        [reply] = slack.api.replies_in(CHANNEL, ts)
        assert reply["text"] == corpus_bot.ask(question).text


def test_long_answers_are_split_into_sections_slack_accepts() -> None:
    text = " ".join(f"Sentence {i} says something about the alliance & its <history>. [1]"
                    for i in range(150))
    answer = Answer(question="q", standalone_question="q", text=text, refused=False)
    sections = [b["text"]["text"] for b in answer.as_slack_blocks() if b["type"] == "section"]
    assert len(sections) > 1 and all(len(part) <= 3000 for part in sections)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert " ".join(sections) == escaped


def test_start_up_loads_the_store_and_model_without_asking(
    make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot import slack as slack_module

    bot = make_bot()

    def no_questions(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the warm-up asked a question")

    monkeypatch.setattr(bot, "ask", no_questions)
    monkeypatch.setattr(bot, "ask_stream", no_questions)
    with caplog.at_level(logging.INFO, logger="bot.slack"):
        slack_module._get_ready(bot)
    assert "no documents are indexed" in caplog.text
    assert "could not" not in caplog.text
    assert bot.store._snapshot.generation, "the snapshot was not loaded"
