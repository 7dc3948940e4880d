"""An LLM endpoint that fails, hangs, trickles or talks nonsense: the extractive answer, noted.

Time limits are checked causally, not with a stopwatch: the endpoint holds its reply until
the test releases it (or is still sending when the answer arrives), so an answer that is
back at all proves the bot gave up on its own, within BOT_LLM_TIMEOUT.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from bot.models import Answer
from bot.service import Bot
from tests.conftest import CORPUS
from tests.openai_server import OpenAIServer
from tests.servers import LocalHTTPServer

QUESTION = "When was the US-Japan Security Treaty formed?"
FALLBACK = "this is the extractive answer"


@pytest.fixture
def llm_bot(make_bot: Callable[..., Bot], openai_server: OpenAIServer) -> Bot:
    bot = make_bot(openai_base_url=openai_server.base_url, llm_timeout=1.5)
    assert not bot.ingest([CORPUS]).failed
    return bot


def assert_extractive_fallback(answer: Answer, extractive: Answer, why: str) -> None:
    assert answer.backend == "openai"
    assert any(FALLBACK in n and why in n for n in answer.notes), answer.notes
    assert answer.text == extractive.text
    assert [c.chunk.id for c in answer.citations] == [c.chunk.id for c in extractive.citations]
    assert FALLBACK in answer.as_markdown()


def test_server_error_falls_back(llm_bot: Bot, openai_server: OpenAIServer) -> None:
    openai_server.mode = "error"
    answer = llm_bot.ask(QUESTION, backend="openai")
    assert openai_server.requests, "the endpoint was never called"
    assert_extractive_fallback(answer, llm_bot.ask(QUESTION, backend="extractive"), "500")


def test_non_api_response_falls_back(llm_bot: Bot, openai_server: OpenAIServer) -> None:
    openai_server.mode = "garbage"
    answer = llm_bot.ask(QUESTION, backend="openai")
    assert_extractive_fallback(answer, llm_bot.ask(QUESTION), "unavailable")


@pytest.mark.parametrize(
    "reply",
    ["", "zxcv qwerty lorem ipsum dolor.", "It was formed long ago [9]. Trust me [0]."],
    ids=["empty", "nonsense", "dangling-markers"],
)
def test_unusable_reply_falls_back(llm_bot: Bot, openai_server: OpenAIServer, reply: str) -> None:
    openai_server.reply = lambda messages: reply
    answer = llm_bot.ask(QUESTION, backend="openai")
    assert len(openai_server.requests) == 1
    assert_extractive_fallback(answer, llm_bot.ask(QUESTION), "no sentence cited and supported")
    assert "[9]" not in answer.text and "[0]" not in answer.text


def test_hanging_endpoint_is_abandoned_within_the_timeout(
    llm_bot: Bot, openai_server: OpenAIServer
) -> None:
    release = threading.Event()

    def hang(messages: list[dict[str, Any]]) -> str:
        release.wait(120)
        return "Formed in 1951 [1]."

    openai_server.reply = hang
    try:
        answer = llm_bot.ask(QUESTION, backend="openai")
        # The endpoint is still holding its reply: the bot stopped waiting by itself.
        assert not release.is_set()
    finally:
        release.set()
    assert_extractive_fallback(answer, llm_bot.ask(QUESTION), "timed out")


class TrickleServer(LocalHTTPServer):
    """Streams a valid chat completion, one small piece every ``gap_s``, for a long time."""

    def __init__(self, pieces: int = 200, gap_s: float = 0.25) -> None:
        self.finished = threading.Event()
        self.sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for _ in range(pieces):
                        chunk = {"id": "t", "object": "chat.completion.chunk", "created": 0,
                                 "model": "m", "choices": [{"index": 0, "finish_reason": None,
                                                            "delta": {"content": "la "}}]}
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                        outer.sent += 1
                        time.sleep(gap_s)
                    self.wfile.write(b"data: [DONE]\n\n")
                    outer.finished.set()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        """The ``/v1`` root the OpenAI client expects."""
        return self.url("/v1")


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer() as server:
        yield server


def test_trickling_reply_is_cut_at_the_total_timeout(
    make_bot: Callable[..., Bot], trickle: TrickleServer
) -> None:
    # Every piece arrives well inside the per-read timeout; only a total limit stops it.
    bot = make_bot(openai_base_url=trickle.base_url, llm_timeout=1.5)
    assert not bot.ingest([CORPUS]).failed
    streamed = [e for e in bot.ask_stream(QUESTION, backend="openai") if isinstance(e, str)]
    assert streamed, "the endpoint's first pieces should have been streamed"
    assert not trickle.finished.is_set()
    assert trickle.sent < 200
    answer = bot.ask(QUESTION, backend="openai")
    assert not trickle.finished.is_set()
    assert_extractive_fallback(answer, bot.ask(QUESTION), "no complete reply within 1.5 s")


def test_rewrite_failure_falls_back_to_deterministic_rewrite(
    llm_bot: Bot, openai_server: OpenAIServer
) -> None:
    openai_server.mode = "error"
    history = [
        {"role": "user", "content": "What is the US-Japan Security Treaty?"},
        {"role": "assistant", "content": "A treaty formed in 1951."},
    ]
    answer = llm_bot.ask("When was it formed?", history, backend="openai")
    assert any("could not rewrite the question" in n for n in answer.notes), answer.notes
    extractive = llm_bot.ask("When was it formed?", history, backend="extractive")
    assert answer.standalone_question == extractive.standalone_question
    assert answer.text == extractive.text


def test_working_endpoint_is_used_without_note(llm_bot: Bot, openai_server: OpenAIServer) -> None:
    """The control case: with a sound endpoint the generated, cited reply is shown."""

    def cite_first(messages: list[dict[str, Any]]) -> str:
        from bot.text import split_sentences

        sources = messages[-1]["content"]
        first = sources.split("[1] (", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
        return " ".join(f"{s} [1]" for s in split_sentences(first))

    openai_server.reply = cite_first
    answer = llm_bot.ask(QUESTION, backend="openai")
    assert not any(FALLBACK in n for n in answer.notes), answer.notes
    assert answer.citations and answer.citations[0].chunk.id == answer.retrieved[0].chunk.id
