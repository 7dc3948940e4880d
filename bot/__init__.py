"""Grounded, cited question answering over your own documents."""

from bot.models import REFUSAL, Answer, Chunk, Citation, IngestReport, Scored
from bot.service import Bot, build_bot
from bot.settings import Settings, load_settings

__all__ = [
    "REFUSAL", "Answer", "Bot", "Chunk", "Citation", "IngestReport", "Scored", "Settings",
    "build_bot", "load_settings",
]
