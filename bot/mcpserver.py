"""The MCP server (``bot mcp``): the documents as ``ask`` and ``search`` tools over stdio.

A thin front end over :class:`bot.service.Bot`, like the others: answers come from
:meth:`Bot.ask` and passages from :meth:`Bot.search`.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from bot.guard import QuestionError
from bot.models import Answer, Scored
from bot.service import Bot
from bot.store import StoreError

INSTRUCTIONS = (
    "Answers questions from a fixed set of indexed documents. `ask` gives an answer quoted "
    "from them with [n] citations, or says plainly that the documents do not hold it; "
    "`search` returns the passages themselves. Ask standalone questions (name the subject "
    "instead of 'he' or 'it')."
)


def answer_result(answer: Answer) -> CallToolResult:
    """The answer as markdown for the model to read, and as data for the client."""
    return CallToolResult(
        content=[TextContent(type="text", text=answer.as_markdown())],
        structured_content={
            "answer": answer.text, "refused": answer.refused,
            "citations": [c.as_dict(answer.name(c.chunk)) for c in answer.citations],
            "notes": list(answer.notes),
        },
    )


def passages_result(passages: list[Scored], names: dict[str, str]) -> CallToolResult:
    """Numbered passages with where they come from (``names``: stored source -> shown name)
    and their retrieval score."""
    items: list[dict[str, Any]] = [
        {"id": s.chunk.id, "source": names.get(s.chunk.source) or s.chunk.source_name,
         "location": s.chunk.location, "score": round(s.score, 6), "text": s.chunk.text}
        for s in passages
    ]
    text = "\n\n".join(
        f"[{n}] {item['source']} ({item['location']}), score {item['score']}\n{item['text']}"
        for n, item in enumerate(items, start=1)
    ) or "No passage matches; the store may be empty."
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content={"passages": items}
    )


def build_server(bot: Bot) -> MCPServer:
    """An MCP server whose tools call ``bot``."""
    server: MCPServer = MCPServer(name="docbot", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    def ask(
        question: Annotated[str, Field(description="A standalone question about the documents.")],
    ) -> CallToolResult:
        """Answer a question from the documents, quoting them with [n] citations (source and
        location of each); says so when the documents do not hold the answer."""
        try:
            return answer_result(bot.ask(question))
        except (QuestionError, StoreError) as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    def search(
        query: Annotated[str, Field(description="What to look for, in words.")],
        k: Annotated[int, Field(ge=1, le=50, description="Passages to return.")] = 5,
    ) -> CallToolResult:
        """Find the passages of the documents that best match a query (hybrid dense and
        keyword search), with each one's source, location and score."""
        try:
            names = {s.source: s.name for s in bot.sources()}
            return passages_result(bot.search(query, k), names)
        except (QuestionError, StoreError) as exc:
            raise ToolError(str(exc)) from exc

    return server


def serve(bot: Bot) -> None:
    """Serve over stdin/stdout until the client closes the connection."""
    # Load the model and store before the client's first call, which may have a short timeout.
    bot.warm_up()
    build_server(bot).run("stdio")
