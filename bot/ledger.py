"""The ingest ledger: which files the last ingest left committed, so that re-ingesting
unchanged files needs neither Chroma nor the embedder.

Every ingest ends, under the data folder's write lock, by writing ``ingest-ledger.json``: the
committed files it verified (content hash, passage recipe, passage count), every committed
source, the store's commit generation and a fingerprint of the embedded store. A later run
over files whose hashes all match, on a store whose fingerprint has not moved, is answered
from the ledger alone. Anything else (a server store, a changed file, a store written since,
a ledger that cannot be read) falls back to the full ingest, which checks everything against
the store itself.

The fingerprint is the head of Chroma's write log (``embeddings_queue``) and the ids of the
two collections, read with SQLite directly: every write to the store moves the head, opening
or reading it does not (opening does write to SQLite, so the file's own stamps cannot serve).
A ledger entry is only carried over from the previous ledger when no writer but this run
committed in between (the commit sequence number grew by exactly this run's commits).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEDGER_FILE = "ingest-ledger.json"
_VERSION = 1
# A committed file as the ledger knows it: content hash, recipe, passage count.
Entry = tuple[str, str, int]


def store_fingerprint(store_folder: Path, collection: str) -> list[Any] | None:
    """The embedded store's write-log head and its collections' ids; ``None`` when it
    cannot be read (no store, another layout)."""
    path = store_folder / "chroma.sqlite3"
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            head = db.execute("SELECT max(seq_id) FROM embeddings_queue").fetchone()[0]
            ids = db.execute(
                "SELECT name, id FROM collections WHERE name IN (?, ?) ORDER BY name",
                (collection, f"{collection}__files"),
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    if head is None or len(ids) != 2:
        return None
    return [int(head), [list(row) for row in ids]]


@dataclass
class Ledger:
    """What one ingest left committed (see the module docstring)."""

    collection: str
    model: str
    generation: str
    seq: int
    fingerprint: list[Any]
    files: dict[str, Entry]
    sources: list[str]

    @classmethod
    def read(cls, data_dir: Path) -> Ledger | None:
        """The data folder's ledger, or ``None`` when there is none or it cannot be read."""
        try:
            raw = json.loads((data_dir / LEDGER_FILE).read_text("utf-8"))
            if raw.get("version") != _VERSION:
                return None
            return cls(
                str(raw["collection"]), str(raw["model"]), str(raw["generation"]),
                int(raw["seq"]), list(raw["fingerprint"]),
                {str(k): (str(v[0]), str(v[1]), int(v[2])) for k, v in raw["files"].items()},
                [str(s) for s in raw["sources"]],
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def write(self, data_dir: Path) -> None:
        """Replace the data folder's ledger in one step (readers see the old or the new)."""
        body = json.dumps({
            "version": _VERSION, "collection": self.collection, "model": self.model,
            "generation": self.generation, "seq": self.seq, "fingerprint": self.fingerprint,
            "files": self.files, "sources": self.sources,
        })
        # A name of this process's own, in the data folder (the same disk, so the rename
        # is atomic), made with the usual permissions: every user of the folder reads it.
        tmp = data_dir / f".{LEDGER_FILE}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(body, "utf-8")
            os.replace(tmp, data_dir / LEDGER_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    @staticmethod
    def forget(data_dir: Path) -> None:
        """Remove the ledger: the next ingest checks everything against the store."""
        with contextlib.suppress(FileNotFoundError):
            (data_dir / LEDGER_FILE).unlink()


@dataclass
class Chain:
    """One run's account of its writes, from which it writes the next ledger."""

    seq: int
    carried: dict[str, Entry]
    verified: dict[str, Entry] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    commits: int = 0

    def wrote(self, sources: Iterable[str]) -> None:
        """``sources`` were committed or removed by one commit of this run."""
        self.touched.update(sources)
        self.commits += 1

    def entries(self) -> dict[str, Entry]:
        """The files the next ledger vouches for."""
        kept = {s: e for s, e in self.carried.items() if s not in self.touched}
        return kept | self.verified
