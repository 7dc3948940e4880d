"""The openai backend: the real langchain-openai client against a server on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.models import REFUSAL, Answer
from bot.service import Bot
from tests.conftest import CORPUS
from tests.openai_server import OpenAIServer


def _sources(messages: list[dict[str, Any]]) -> dict[int, str]:
    """The numbered sources block the bot put into the prompt."""
    prompt = messages[-1]["content"]
    parts = re.split(r"^\[(\d+)\] ", prompt, flags=re.MULTILINE)
    return {int(n): text for n, text in zip(parts[1::2], parts[2::2], strict=True)}


def _number_of(messages: list[dict[str, Any]], needle: str) -> int:
    return next(n for n, text in _sources(messages).items() if needle in text)


@pytest.fixture
def llm_bot(
    make_bot: Callable[..., Bot], openai_server: OpenAIServer, tmp_path: Path
) -> Bot:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(CORPUS / "us-japan-alliance.txt", folder)
    bot = make_bot(
        answer_backend="openai", openai_base_url=openai_server.base_url,
        openai_api_key="sk-test-secret-123", openai_model="test-model", llm_timeout=5,
    )
    bot.ingest([folder])
    return bot


def test_streamed_reply_is_checked_and_cited(llm_bot: Bot, openai_server: OpenAIServer) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        n = _number_of(messages, "Formed in 1951")
        return f"The US-Japan Security Treaty was formed in 1951 [{n}]."

    openai_server.reply = reply
    events = list(llm_bot.ask_stream("When was the US-Japan Security Treaty formed?"))
    deltas = [e for e in events if isinstance(e, str)]
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert len(deltas) > 1, "the reply arrives in pieces"
    assert answer.backend == "openai" and not answer.refused
    assert answer.text == "The US-Japan Security Treaty was formed in 1951. [1]"
    assert "Formed in 1951" in answer.citations[0].chunk.text
    request = openai_server.requests[-1]
    assert request["body"]["stream"] is True and request["body"]["model"] == "test-model"
    assert request["auth"] == "Bearer sk-test-secret-123"


def test_unresolvable_markers_and_unsupported_sentences_are_removed(
    llm_bot: Bot, openai_server: OpenAIServer
) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        n = _number_of(messages, "Formed in 1951")
        return (
            f"The treaty was formed in 1951 [{n}][99]. "
            f"It was signed in Paris by twelve nations [{n}]. "
            "It is the oldest treaty in Asia [42]."
        )

    openai_server.reply = reply
    answer = llm_bot.ask("When was the US-Japan Security Treaty formed?")
    assert answer.text == "The treaty was formed in 1951. [1]"
    assert [c.n for c in answer.citations] == [1]
    assert any("2 sentence(s)" in note for note in answer.notes)


def test_model_saying_not_in_documents_gives_the_refusal(
    llm_bot: Bot, openai_server: OpenAIServer
) -> None:
    openai_server.reply = lambda messages: "NOT_IN_DOCUMENTS"
    answer = llm_bot.ask("What does Shigeru Ishiba think about the 1960 treaty?")
    assert answer.refused and answer.text == REFUSAL


def test_weak_evidence_is_refused_without_calling_the_model(
    llm_bot: Bot, openai_server: OpenAIServer
) -> None:
    openai_server.reply = lambda messages: "Paris is the capital of France [1]."
    answer = llm_bot.ask("What is the capital of France?")
    assert answer.refused
    assert openai_server.requests == []


def test_follow_up_is_rewritten_by_the_model(llm_bot: Bot, openai_server: OpenAIServer) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        if "Rewrite" in messages[0]["content"]:
            assert "Who is Shigeru Ishiba?" in messages[-1]["content"]
            return "When was Shigeru Ishiba born?"
        n = _number_of(messages, "Born on February 3, 1957")
        return f"He was born on February 3, 1957 [{n}]."

    openai_server.reply = reply
    history = [
        {"role": "user", "content": "Who is Shigeru Ishiba?"},
        {"role": "assistant", "content": "A Japanese politician [1]."},
    ]
    answer = llm_bot.ask("When was he born?", history)
    assert answer.standalone_question == "When was Shigeru Ishiba born?"
    assert "February 3, 1957" in answer.text and not answer.refused


def test_endpoint_error_falls_back_to_the_extractive_answer(
    llm_bot: Bot, openai_server: OpenAIServer
) -> None:
    openai_server.mode = "error"
    answer = llm_bot.ask("When was the US-Japan Security Treaty formed?")
    assert "1951" in answer.text and answer.citations
    assert any("extractive answer" in note for note in answer.notes)
    assert all("sk-test-secret" not in note for note in answer.notes)
