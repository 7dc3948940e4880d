"""The Slack HTTP endpoint under malformed requests, and tokens kept out of output and logs.

Requests go over real HTTP to the real Bolt app behind :class:`bot.slack.RequestGate`; the
token echo goes through a real ``bot slack`` process.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.service import Bot
from bot.settings import Settings
from bot.slack import Redactor
from tests.test_slack import APP_TOKEN, SECRET, TOKEN, Slack, SlackAPI

BOT = Path(sys.executable).with_name("bot")


@pytest.fixture
def endpoint(make_bot: Callable[..., Bot], make_settings: Callable[..., Settings]
             ) -> Iterator[Slack]:
    with SlackAPI() as api:
        settings = make_settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                                 slack_api_url=api.api_url)
        slack = Slack(make_bot(), api, settings)
        try:
            yield slack
        finally:
            slack.close()


def send(slack: Slack, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body`` as is, with exactly ``headers`` (Content-Length included when given)."""
    port = slack.server.server_port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/slack/events", skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    if body:
        conn.send(body)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, text


def signed(body: bytes, content_type: str = "application/json",
           stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    return {"Content-Type": content_type, "Content-Length": str(len(body)),
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + hmac.new(
                SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()}


MALFORMED = [
    ("bad JSON", b'{"type": "event_callback", ', "application/json"),
    ("JSON array", b'[1, 2, 3]', "application/json"),
    ("JSON string", b'"hello"', "application/json"),
    ("bad form payload", b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    ("form payload that is a list", b"payload=%5B%5D", "application/x-www-form-urlencoded"),
    ("non-UTF-8 body", b'{"type": "\xff\xfe"}', "application/json"),
]


@pytest.mark.parametrize(("case", "body", "content_type"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_bodies_get_400_when_signed_and_401_when_not(
    endpoint: Slack, case: str, body: bytes, content_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    status, _ = send(endpoint, body, signed(body, content_type))
    assert status == 400, case
    unsigned = {"Content-Type": content_type, "Content-Length": str(len(body))}
    status, _ = send(endpoint, body, unsigned)
    assert status == 401, case
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_bad_headers_get_400_or_401(endpoint: Slack) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    headers = signed(body)
    assert send(endpoint, body, {**headers, "X-Slack-Request-Timestamp": "soon"})[0] == 401
    assert send(endpoint, body, {**headers, "X-Slack-Request-Timestamp": "-5"})[0] == 401
    assert send(endpoint, b"", {**headers, "Content-Length": "-5"})[0] == 400
    assert send(endpoint, b"", {**headers, "Content-Length": "lots"})[0] == 400
    # The gate lets a well-formed, signed request through to Bolt.
    status, text = send(endpoint, body, headers)
    assert status == 200 and "c" in text


def test_a_huge_body_is_refused_before_it_is_read(endpoint: Slack) -> None:
    # Only the headers are sent: a server that tried to read 300 MB would wait forever.
    started = time.monotonic()
    status, _ = send(endpoint, b"", {"Content-Type": "application/json",
                                     "Content-Length": str(300 * 1024 * 1024)})
    assert status == 413
    assert time.monotonic() - started < 5


def test_tokens_are_redacted_in_log_lines_and_tracebacks() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Redactor([TOKEN, SECRET]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"The server responded with: invalid_auth ({TOKEN}, {SECRET})")
        except RuntimeError:
            logger.exception("could not answer with %s", APP_TOKEN)
        logger.error("another token: xoxp-1234-5678-abcdef")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "invalid_auth" in text and "[redacted]" in text
    for secret in (TOKEN, SECRET, APP_TOKEN, "xoxp-1234-5678-abcdef"):
        assert secret not in text


def test_bot_slack_does_not_print_a_token_the_api_echoes(tmp_path: Path) -> None:
    with SlackAPI() as api:
        api.failing["auth.test"] = f"invalid_auth: token {TOKEN} was rejected"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BOT_", "SLACK_", "OPENAI_"))}
        env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
                   BOT_SLACK_API_URL=api.api_url, BOT_DATA_DIR=str(tmp_path / "data"),
                   HF_HUB_OFFLINE="1")
        done = subprocess.run([str(BOT), "slack", "--mode", "http", "--port", "0"], env=env,
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 2, done.stderr
    assert "invalid_auth" in done.stderr and "[redacted]" in done.stderr
    assert TOKEN not in done.stderr + done.stdout and SECRET not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
