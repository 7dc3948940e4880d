"""Grounded, cited question answering over your own documents."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.models import REFUSAL, Answer, Chunk, Citation, IngestReport, Scored
    from bot.service import Bot, build_bot
    from bot.settings import Settings, load_settings

__all__ = [
    "REFUSAL", "Answer", "Bot", "Chunk", "Citation", "IngestReport", "Scored", "Settings",
    "build_bot", "load_settings",
]
# Where each public name lives. Importing them on first use keeps `bot ingest` of unchanged
# files from loading the answerer, Chroma and the embedder it never touches.
_HOMES = {
    "REFUSAL": "bot.models", "Answer": "bot.models", "Chunk": "bot.models",
    "Citation": "bot.models", "IngestReport": "bot.models", "Scored": "bot.models",
    "Bot": "bot.service", "build_bot": "bot.service",
    "Settings": "bot.settings", "load_settings": "bot.settings",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
