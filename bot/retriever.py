"""The bot's retrieval as a LangChain retriever over :meth:`bot.service.Bot.search`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.models import Scored


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
        return [as_document(s) for s in self.bot.search(query, self.k)]
