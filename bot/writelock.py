"""One writer at a time: an inter-process lock on the data folder around every store write.

Two processes writing the same store interleave badly: one sweeps away the passages another
has stored but not yet published, and two writers in the embedded Chroma at once can crash
it. Every write (a commit group of an ingest, a removal, the sweep) therefore runs under a
``filelock`` lock on ``BOT_DATA_DIR/write.lock``. Readers never take it. The lock is held
for one commit group at a time, so a second writer waits seconds, not a whole ingest, and the
operating system releases it when its holder dies, so a killed writer blocks nobody.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from bot.store import StoreError

log = logging.getLogger(__name__)


class WriteLock:
    """The data folder's writer lock; reentrant within a process."""

    def __init__(self, data_dir: Path, timeout: float) -> None:
        self.path = data_dir / "write.lock"
        self.timeout = timeout
        # Threads of one process queue here first: the file lock is shared across threads.
        self._threads = threading.RLock()
        self._file = FileLock(self.path, thread_local=False)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the block; waits (saying so) while another process writes."""
        with self._threads:
            self._acquire()
            try:
                yield
            finally:
                self._file.release()

    def _acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file.acquire(blocking=False)
            return
        except Timeout:
            pass
        except OSError as exc:
            raise StoreError(f"cannot create the write lock {self.path}: {exc}") from exc
        log.warning(
            "another process is writing to %s; waiting up to %g s for it to finish",
            self.path.parent, self.timeout,
        )
        try:
            self._file.acquire(timeout=self.timeout)
        except Timeout as exc:
            raise StoreError(
                f"another process kept {self.path.parent} locked for writing for "
                f"{self.timeout:g} s; try again when it is done, or raise "
                "BOT_WRITE_LOCK_TIMEOUT"
            ) from exc
