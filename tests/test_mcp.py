"""`bot mcp`, spawned as a client would spawn it and driven by the MCP SDK's own stdio client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from bot.models import REFUSAL
from bot.service import Bot
from bot.settings import PROJECT_DIR
from tests.conftest import CORPUS

TREATY = "When was the US-Japan Security Treaty formed?"


def run_session(data_dir: Path, log: Path, body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Spawn ``python -m bot mcp`` over ``data_dir`` and run ``body`` in an initialised session."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bot", "mcp"], cwd=str(PROJECT_DIR),
        env={"BOT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"},
    )

    async def main() -> Any:
        with anyio.fail_after(240), log.open("w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await body(session)

    try:
        return anyio.run(main)
    except BaseException:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise


@pytest.fixture
def data_dir(make_bot: Callable[..., Bot], tmp_path: Path) -> Path:
    bot = make_bot()
    assert not bot.ingest([CORPUS]).failed
    return bot.settings.data_dir


@pytest.mark.slow
def test_ask_and_search_tools_give_cited_passages(data_dir: Path, tmp_path: Path) -> None:
    async def body(session: ClientSession) -> dict[str, Any]:
        listed = await session.list_tools()
        return {
            "tools": {t.name: t for t in listed.tools},
            "ask": await session.call_tool("ask", {"question": TREATY}),
            "refused": await session.call_tool("ask", {"question": "How do I bake bread?"}),
            "search": await session.call_tool("search", {"query": TREATY, "k": 3}),
            "empty": await session.call_tool("ask", {"question": "  "}),
            "bad_k": await session.call_tool("search", {"query": TREATY, "k": 0}),
        }

    got = run_session(data_dir, tmp_path / "mcp.log", body)

    assert set(got["tools"]) == {"ask", "search"}
    assert "question" in got["tools"]["ask"].input_schema["properties"]
    assert got["tools"]["search"].input_schema["required"] == ["query"]

    ask = got["ask"]
    assert not ask.is_error
    text = ask.content[0].text
    assert "1951" in text and "[1]" in text and "us-japan-alliance.txt" in text
    data = ask.structured_content
    assert data["refused"] is False and "1951" in data["answer"]
    cited = data["citations"][0]
    assert cited["n"] == 1 and cited["source"].endswith("us-japan-alliance.txt")
    assert cited["location"] and "1951" in cited["quote"] and cited["quote"] in cited["text"]

    refused = got["refused"]
    assert refused.structured_content["refused"] is True
    assert refused.structured_content["answer"] == REFUSAL
    assert refused.content[0].text.startswith(REFUSAL)

    passages = got["search"].structured_content["passages"]
    assert len(passages) == 3 and "1951" in passages[0]["text"]
    assert all(p["source"].endswith("us-japan-alliance.txt") and p["location"] for p in passages)
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)
    assert got["search"].content[0].text.startswith("[1] ")

    assert got["empty"].is_error and "the question is empty" in got["empty"].content[0].text
    assert got["bad_k"].is_error


@pytest.mark.slow
def test_an_empty_store_searches_to_nothing(tmp_path: Path) -> None:
    async def body(session: ClientSession) -> Any:
        return await session.call_tool("search", {"query": TREATY})

    result = run_session(tmp_path / "empty-data", tmp_path / "mcp.log", body)
    assert not result.is_error
    assert result.structured_content == {"passages": []}
    assert "No passage matches" in result.content[0].text


def test_answering_commands_do_not_import_the_servers() -> None:
    code = (
        "import sys, bot.cli\n"
        "loaded = [m for m in ('mcp', 'fastapi', 'uvicorn', 'bot.api', 'bot.mcpserver') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, check=True, timeout=120)
