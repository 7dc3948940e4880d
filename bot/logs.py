"""Where diagnostics go: third-party chatter (pypdf, pdfminer, onnxruntime, transformers,
Python warnings) lands in ``BOT_DATA_DIR/debug.log`` instead of the user's terminal."""

from __future__ import annotations

import logging
import os
from io import TextIOWrapper
from pathlib import Path

# Libraries that log warnings about the files or models they read: useful when debugging,
# noise in an answer.
THIRD_PARTY = ("pypdf", "pdfminer", "onnxruntime", "transformers", "sentence_transformers",
               "huggingface_hub", "chromadb", "py.warnings")


def to_debug_log(data_dir: Path) -> Path | None:
    """Send third-party logs and Python warnings to ``data_dir/debug.log``; the path, or
    None when the folder cannot be written (the messages are then dropped)."""
    # transformers installs its own stderr handler; below errors it stays silent.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.captureWarnings(True)
    path = data_dir / "debug.log"
    handler: logging.Handler
    try:
        handler = _FolderOnWrite(path, encoding="utf-8", delay=True)
    except OSError:
        handler, path = logging.NullHandler(), None  # type: ignore[assignment]
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in THIRD_PARTY:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    return path


class _FolderOnWrite(logging.FileHandler):
    """A log file whose folder is made when the first message comes: a command that logs
    nothing (``bot eval`` on its own temporary store) leaves the data folder untouched."""

    def _open(self) -> TextIOWrapper:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        # A data folder that cannot be written drops diagnostics; they never reach the user.
        pass
