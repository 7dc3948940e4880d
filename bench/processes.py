"""Whole processes the benchmarks start: their environment, a free port, stopping them."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def bot_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The caller's environment with default bot settings but ``settings``, a private data
    folder, and this checkout's code (the commands run outside it, where no ``.env`` changes
    a setting)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "CHROMA_"))}
    env.update(BOT_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               PYTHONPATH=str(REPO), **settings)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[Any], timeout: float) -> None:
    """Stop ``proc`` if it still runs: politely, then by force after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
