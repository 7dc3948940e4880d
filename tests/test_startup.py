"""Start-up: `bot ingest` and `bot ask` load only what they use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.embeddings import default_model_path, export_onnx, onnx_cache_dir
from bot.settings import PROJECT_DIR, Settings

# Modules of other commands (servers, plots) or of the other embedding engine.
NOT_NEEDED = ("torch", "sentence_transformers", "transformers", "gradio", "slack_bolt",
              "fastapi", "uvicorn", "mcp", "matplotlib", "bot.web", "bot.api", "bot.slack")

CHILD = """
import json, sys
from bot.cli import app
for argv in (["ingest", sys.argv[1]], ["ask", "Who chairs the harbour board?"]):
    try:
        app(argv)
    except SystemExit as end:
        assert not end.code, (argv, end.code)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.slow
def test_ingest_and_ask_with_the_default_backend_load_no_torch_nor_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    assert settings.embedding_backend.startswith("onnx"), settings.embedding_backend
    # The one-time export needs torch; it is done here, as a machine's first run does it.
    export_onnx(Path(default_model_path()), onnx_cache_dir(settings.data_dir),
                settings.embedding_backend == "onnx-int8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "board.md").write_text(
        "# Harbour board\n\nMaria Keller chairs the harbour board since 2019.\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(docs)], cwd=PROJECT_DIR,
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    loaded = set(json.loads(lines[-1]))
    assert "Maria Keller" in done.stdout
    # The answer path really ran: the ONNX engine and spaCy's recogniser were used.
    assert {"onnxruntime", "spacy"} <= loaded
    assert not loaded & set(NOT_NEEDED), sorted(loaded & set(NOT_NEEDED))


def test_warm_up_loads_what_the_first_answer_needs(make_bot: Any) -> None:
    from bot import text

    bot = make_bot()
    text._nlp.cache_clear()
    bot.extractive.scorer._model = None
    bot.warm_up()
    # The serving front ends call this before they say they are ready.
    assert text._nlp.cache_info().currsize == 1
    assert bot.extractive.scorer._model is not None
