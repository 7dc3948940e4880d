"""Shared fixtures: a clean environment and a temporary data directory for every test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.embeddings import SentenceTransformerEmbeddings
from bot.service import Bot, build_bot
from bot.settings import PROJECT_DIR, Settings
from tests.openai_server import OpenAIServer

CORPUS = PROJECT_DIR / "corpus"
_PREFIXES = ("BOT_", "OPENAI_", "CHROMA_", "SLACK_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the developer's shell or a project ``.env``."""
    for key in list(os.environ):
        if key.startswith(_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a fresh data directory under the test's temporary folder."""

    def factory(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return Settings(**overrides)

    return factory


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbeddings:
    """The bundled MiniLM model, loaded once per test session."""
    return SentenceTransformerEmbeddings()


def bot_for(settings: Settings, embedder: SentenceTransformerEmbeddings) -> Bot:
    """A bot on ``settings`` that reuses the session's embedder."""
    return build_bot(settings, embedder=embedder)


@pytest.fixture
def make_bot(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbeddings
) -> Callable[..., Bot]:
    """Build a bot over a fresh store: ``make_bot(top_k=3)``."""
    return lambda **overrides: bot_for(make_settings(**overrides), embedder)


@pytest.fixture(scope="session")
def corpus_bot(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbeddings
) -> Bot:
    """A bot with ``corpus/`` ingested, shared by read-only tests."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("corpus-data"))
    bot = bot_for(settings, embedder)
    report = bot.ingest([CORPUS])
    assert not report.failed, report.summary()
    return bot


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """An OpenAI-compatible server on 127.0.0.1."""
    with OpenAIServer() as server:
        yield server
