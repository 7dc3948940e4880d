"""The HTTP API in a real uvicorn on 127.0.0.1, driven by the official `openai` client and
by plain HTTP (httpx) for the routes and errors a client library would hide."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from pydantic import SecretStr

from bot.api import MAX_BODY_BYTES, build_app
from bot.models import REFUSAL
from bot.service import Bot
from bot.settings import PROJECT_DIR
from tests.conftest import CORPUS
from tests.servers import free_port, stop_process

TREATY = "When was the US-Japan Security Treaty formed?"
KEY = "s3cret-token"


class Served:
    """An ASGI app served by uvicorn from a thread on an ephemeral 127.0.0.1 port."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@pytest.fixture(scope="module")
def api(corpus_bot: Bot) -> Iterator[Served]:
    """The API over corpus/, without a key."""
    with Served(build_app(corpus_bot, corpus_bot.settings)) as served:
        yield served


@pytest.fixture(scope="module")
def locked(corpus_bot: Bot) -> Iterator[Served]:
    """The same API with BOT_API_KEY set."""
    settings = corpus_bot.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with Served(build_app(corpus_bot, settings)) as served:
        yield served


def client(served: Served, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0, timeout=120)


# ----- the openai client -------------------------------------------------------------------


def test_chat_completion_is_the_cited_answer(api: Served) -> None:
    reply = client(api).chat.completions.create(
        model="docbot", messages=[{"role": "user", "content": TREATY}]
    )
    content = reply.choices[0].message.content or ""
    assert "1951" in content and "[1]" in content
    assert reply.model == "docbot" and reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra or {}
    assert extra["refused"] is False
    cited = {c["n"]: c for c in extra["citations"]}
    assert {int(n) for n in re.findall(r"\[(\d+)\]", content)} <= set(cited)
    first = cited[1]
    assert first["source"].endswith("us-japan-alliance.txt")
    assert first["location"]
    assert first["quote"] and first["quote"] in first["text"] and "1951" in first["quote"]


def test_streamed_completion_carries_the_same_answer_and_citations(api: Served) -> None:
    messages: Any = [{"role": "user", "content": TREATY}]
    whole = client(api).chat.completions.create(model="docbot", messages=messages)
    chunks = list(client(api).chat.completions.create(
        model="docbot", messages=messages, stream=True
    ))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    extra = last.model_extra or {}
    assert extra["refused"] is False
    assert extra["citations"] == (whole.model_extra or {})["citations"]


def test_stream_is_server_sent_events_ending_with_done(api: Served) -> None:
    body = {"model": "docbot", "stream": True, "messages": [{"role": "user", "content": TREATY}]}
    with httpx.stream("POST", f"{api.url}/v1/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_earlier_messages_are_the_conversation(api: Served) -> None:
    reply = client(api).chat.completions.create(model="docbot", messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Who is Shigeru Ishiba?"},
        {"role": "assistant", "content": "Shigeru Ishiba is a Japanese politician. [1]"},
        {"role": "user", "content": [{"type": "text", "text": "When was he born?"}]},
    ])
    assert "February 3, 1957" in (reply.choices[0].message.content or "")


def test_a_refusal_is_a_normal_reply_with_a_flag(api: Served) -> None:
    reply = client(api).chat.completions.create(
        model="docbot", messages=[{"role": "user", "content": "How do I bake sourdough bread?"}]
    )
    assert reply.choices[0].message.content == REFUSAL
    assert (reply.model_extra or {})["refused"] is True
    assert (reply.model_extra or {})["citations"] == []


def test_models_lists_docbot(api: Served) -> None:
    assert [m.id for m in client(api).models.list()] == ["docbot"]


def test_client_errors_are_typed_by_the_openai_client(api: Served) -> None:
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client(api).chat.completions.create(
            model="docbot", messages=[{"role": "system", "content": "Be brief."}]
        )
    with pytest.raises(openai.NotFoundError, match="gpt-4o"):
        client(api).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": TREATY}]
        )


# ----- plain HTTP --------------------------------------------------------------------------


def test_ask_has_the_shape_of_bot_ask_json(api: Served, corpus_bot: Bot) -> None:
    r = httpx.post(f"{api.url}/v1/ask", json={"question": TREATY, "top_k": 3}, timeout=120)
    assert r.status_code == 200
    data = r.json()
    expected = corpus_bot.ask(TREATY, top_k=3).as_dict()
    assert set(data) == set(expected)
    assert {k: data[k] for k in ("answer", "refused", "citations")} == {
        k: expected[k] for k in ("answer", "refused", "citations")
    }
    assert len(data["retrieved"]) == 3


def test_ask_follows_a_conversation(api: Served) -> None:
    r = httpx.post(f"{api.url}/v1/ask", timeout=120, json={
        "question": "When was he born?",
        "history": [{"role": "user", "content": "Who is Shigeru Ishiba?"},
                    {"role": "assistant", "content": "A Japanese politician. [1]"}],
    })
    assert r.status_code == 200
    assert "Ishiba" in r.json()["standalone_question"]


def test_sources_healthz_and_docs(api: Served) -> None:
    sources = httpx.get(f"{api.url}/v1/sources").json()["sources"]
    assert [s["source"].rsplit("/", 1)[-1] for s in sources] == ["us-japan-alliance.txt"]
    assert sources[0]["chunks"] > 0
    assert httpx.get(f"{api.url}/healthz").json() == {
        "status": "ok", "model": "docbot", "documents": 1,
    }
    docs = httpx.get(f"{api.url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = httpx.get(f"{api.url}/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/models", "/v1/ask", "/v1/sources", "/healthz"} <= set(
        paths
    )


def _chat(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "docbot", "messages": list(messages), **extra}


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/chat/completions", _chat(), 400, "messages is empty"),
        ("/v1/chat/completions", _chat({"role": "assistant", "content": "Hi"}), 400,
         "no user message"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": TREATY}]}, 400,
         "model: Field required"),
        ("/v1/chat/completions", {"model": "docbot", "messages": "hello"}, 400, "messages:"),
        ("/v1/chat/completions", _chat({"role": "user", "content": 42}), 400,
         "messages.0.content"),
        ("/v1/chat/completions", _chat({"role": "wizard", "content": "Hi"}), 400,
         "messages.0.role"),
        ("/v1/chat/completions", _chat({"role": "user", "content": "   "}), 400,
         "the question is empty"),
        ("/v1/chat/completions", _chat({"role": "user", "content": "x" * 3000}), 400,
         "BOT_MAX_QUESTION_CHARS"),
        ("/v1/chat/completions", _chat({"role": "user", "content": TREATY}, stream="often"),
         400, "stream:"),
        ("/v1/chat/completions", [1, 2], 400, "Input should be a valid dictionary"),
        ("/v1/ask", {}, 400, "question: Field required"),
        ("/v1/ask", {"question": 7}, 400, "question: Input should be a valid string"),
        ("/v1/ask", {"question": TREATY, "top_k": 0}, 400, "top_k"),
        ("/v1/ask", {"question": TREATY, "colour": "red"}, 400, "colour: Extra inputs"),
        ("/v1/ask", {"question": TREATY, "backend": "openai"}, 400, "not configured"),
        ("/v1/ask", {"question": TREATY, "history": [{"role": "system", "content": "x"}]},
         400, "history.0.role"),
        ("/v1/nothing", {}, 404, "Not Found"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_clear_message(
    api: Served, path: str, body: Any, status: int, message: str
) -> None:
    r = httpx.post(f"{api.url}{path}", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]


def test_malformed_and_oversized_bodies_are_refused(api: Served) -> None:
    url = f"{api.url}/v1/chat/completions"
    broken = httpx.post(url, content=b'{"model": "docbot", "messages": [',
                        headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["error"]["message"]
    big = _chat({"role": "user", "content": "x" * MAX_BODY_BYTES})
    too_big = httpx.post(url, json=big)
    assert too_big.status_code == 413
    assert "larger than" in too_big.json()["error"]["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: the size is counted as it arrives
        yield b'{"model": "docbot", "messages": [{"role": "user", "content": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}]}'

    streamed = httpx.post(url, content=chunked(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


# ----- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {KEY}", KEY, "Bearer"])
@pytest.mark.parametrize("path", ["/v1/models", "/v1/sources", "/healthz", "/docs",
                                  "/openapi.json"])
def test_with_a_key_set_anything_without_it_gets_401_and_nothing_else(
    locked: Served, header: str | None, path: str
) -> None:
    r = httpx.get(f"{locked.url}{path}",
                  headers={"Authorization": header} if header is not None else {})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"error": {
        "message": "missing or wrong API key (Authorization: Bearer ...)",
        "type": "authentication_error", "param": None, "code": None,
    }}


def test_auth_is_checked_before_the_body_is_read(locked: Served) -> None:
    for body in (b"not json", b"x" * (MAX_BODY_BYTES + 10)):
        r = httpx.post(f"{locked.url}/v1/chat/completions", content=body)
        assert r.status_code == 401


def test_the_right_key_opens_every_route(locked: Served) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(locked, "wrong-token").models.list()
    reply = client(locked, KEY).chat.completions.create(
        model="docbot", messages=[{"role": "user", "content": TREATY}]
    )
    assert "1951" in (reply.choices[0].message.content or "")
    headers = {"Authorization": f"Bearer {KEY}"}
    for path in ("/v1/sources", "/healthz", "/docs"):
        assert httpx.get(f"{locked.url}{path}", headers=headers).status_code == 200


# ----- the command -------------------------------------------------------------------------


@pytest.mark.slow
def test_bot_api_command_serves_with_its_settings(tmp_path: Any) -> None:
    port = free_port()
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_API_KEY": KEY,
           "HF_HUB_OFFLINE": "1"}
    ingest = subprocess.run([sys.executable, "-m", "bot", "ingest", str(CORPUS)], env=env,
                            cwd=PROJECT_DIR, capture_output=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    proc = subprocess.Popen([sys.executable, "-m", "bot", "api", "--port", str(port)], env=env,
                            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "bot api did not answer within 120 s"
            try:
                unauthorised = httpx.get(f"{url}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert unauthorised.status_code == 401
        ok = httpx.get(f"{url}/healthz", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.json()["documents"] == 1
        taken = subprocess.run([sys.executable, "-m", "bot", "api", "--port", str(port)],
                               env=env, cwd=PROJECT_DIR, capture_output=True, timeout=300)
        assert taken.returncode == 1
        assert b"choose another port" in taken.stderr
    finally:
        stop_process(proc)
        proc.communicate()
