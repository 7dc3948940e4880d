"""The bot's retrieval as a LangChain retriever, and the passage search behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.guard import clean_question
from bot.models import Scored

if TYPE_CHECKING:
    from bot.service import Bot


def search(bot: Bot, query: str, k: int | None = None) -> list[Scored]:
    """The passages ``bot`` would answer ``query`` from, best first.

    Raises :class:`bot.guard.QuestionError` for an empty or over-long query.
    """
    from bot.service import _set_aside_planted

    text = clean_question(query, bot.settings.max_question_chars)
    # The rule Bot.ask applies: sentences that instruct their reader are cut out, since these
    # passages usually go straight into someone's LLM prompt.
    return _set_aside_planted(bot.retriever.retrieve(text, k), notes=[])


def as_document(scored: Scored) -> Document:
    """A retrieved passage as a LangChain document; metadata says where it is and how it ranked."""
    chunk = scored.chunk
    metadata: dict[str, Any] = {
        "id": chunk.id, "source": chunk.source, "title": chunk.title,
        "location": chunk.location, "score": scored.score,
    }
    if chunk.page is not None:
        metadata["page"] = chunk.page
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.id)


class BotRetriever(BaseRetriever):
    """Hybrid retrieval over a bot's documents; build one with ``bot.as_retriever()``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    bot: Any  # a Bot; typed loosely so pydantic does not validate (or copy) it
    k: int | None = None
    """Passages per query; unset uses the bot's ``BOT_TOP_K``."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [as_document(s) for s in search(self.bot, query, self.k)]
