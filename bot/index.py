"""The local replica of the store's catalog: committed files, their passages' texts and places,
and the BM25 index over them, on disk beside the vector store.

Chroma is the truth; this replica follows it by commit sequence number (bot/store.py reads
the files committed since the replica's last one and applies only those). Processes on one
data folder share one replica: whichever notices a new commit first applies it under a file
lock, and the others find it done. Nothing here holds every passage in memory; a question
reads the few passages it needs from SQLite.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from filelock import FileLock

from bot.lexical import LexicalIndex, terms
from bot.models import Chunk, display_names

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, title TEXT NOT NULL, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refs(
    source TEXT NOT NULL, pos INTEGER NOT NULL, chunk_id TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER, heading TEXT NOT NULL,
    place TEXT NOT NULL, code TEXT NOT NULL, PRIMARY KEY(source, pos)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_by_chunk ON refs(chunk_id, source, pos);
CREATE TABLE IF NOT EXISTS passages(id TEXT PRIMARY KEY, text TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS df(term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
"""
# Part of the replica's identity: a replica written by another layout is rebuilt.
LAYOUT = "3"
# SQLite's limit on bound parameters is 32766 in current builds; stay well below.
_IN_BATCH = 900


@dataclass(frozen=True)
class FileRecord:
    """A committed source file and the passages it is made of, in order."""

    source: str
    sha256: str
    title: str
    chunks: tuple[Chunk, ...]
    # How its passages were made (:func:`bot.chunking.recipe`); "" when not recorded.
    recipe: str = ""


class Catalog:
    """Committed files and passages in SQLite, plus their BM25 index (tantivy)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "catalog.sqlite3"
        self._local = threading.local()
        self.lock = FileLock(folder / "sync.lock", thread_local=False)
        self._ensure_layout()
        self.lexical = LexicalIndex(folder / "lexical")

    def _ensure_layout(self) -> None:
        """Create the tables; those of a replica written by another layout (columns added
        since) are dropped first. The replica is a cache of the store: the next sync sees
        no identity and rebuilds it whole, BM25 index included."""
        # Checked before locking too: opening a replica of this layout neither waits for
        # a sync another process is running nor writes (a reader on a full disk opens it).
        if self._layout() == LAYOUT:
            return
        db = self._db()
        with self.lock:
            if self._layout() == LAYOUT:
                return
            tables = {r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
            if tables:
                with self._write() as tx:
                    for table in sorted(tables):
                        tx.execute(f'DROP TABLE "{table}"')
            db.executescript(_SCHEMA)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('layout', ?)", (LAYOUT,))

    def _layout(self) -> str | None:
        """The layout the replica was written by (None: no replica, or one from before
        layouts were recorded)."""
        db = self._db()
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
                      ).fetchone() is None:
            return None
        return self.meta("layout")

    # ----- connections -----------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ----- state -----------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        """A value of the replica's own bookkeeping (applied generation, sequence...)."""
        row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def generation(self) -> str:
        """The store generation this replica last applied ("" for none)."""
        return self.meta("generation") or ""

    # ----- reading ---------------------------------------------------------------------

    def count(self, table: str) -> int:
        """Rows of ``files`` or ``passages``."""
        assert table in ("files", "passages")
        return int(self._db().execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def has_files(self) -> bool:
        """Whether any file is committed."""
        return self._db().execute("SELECT 1 FROM files LIMIT 1").fetchone() is not None

    def _rows(self, sql: str, keys: Iterable[str]) -> Iterator[Any]:
        """Rows of ``sql``, whose ``{marks}`` is an IN list, over ``keys`` in batches."""
        wanted = list(dict.fromkeys(keys))
        db = self._db()
        for i in range(0, len(wanted), _IN_BATCH):
            part = wanted[i:i + _IN_BATCH]
            yield from db.execute(sql.format(marks=",".join("?" * len(part))), part)

    def fetch(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """Committed passages among ``ids``, each placed where it first occurs (files in
        source order), as one :class:`Chunk` with its text."""
        out: dict[str, Chunk] = {}
        rows = self._rows(
            "SELECT r.chunk_id, p.text, r.source, f.title, r.start, r.\"end\", r.page, "
            "r.heading, r.place, r.code FROM refs r JOIN passages p ON p.id = r.chunk_id "
            "JOIN files f ON f.source = r.source WHERE r.chunk_id IN ({marks}) "
            "ORDER BY r.chunk_id, r.source, r.pos", ids)
        for cid, text, source, title, start, end, page, heading, place, code in rows:
            if cid not in out:
                out[cid] = Chunk(id=cid, text=text, source=source, title=title, start=start,
                                 end=end, page=page, heading=heading, place=place, code=code)
        return out

    def committed(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are committed passages."""
        return {r[0] for r in self._rows("SELECT id FROM passages WHERE id IN ({marks})", ids)}

    def passage_ids(self) -> Iterator[str]:
        """Every committed passage id."""
        for (cid,) in self._db().execute("SELECT id FROM passages ORDER BY id"):
            yield cid

    def neighbour(self, cid: str, step: int) -> str | None:
        """The passage right before (``step=-1``) or after (``+1``) ``cid`` under the same
        heading, where ``cid`` first occurs; after also requires that it first occurs there.
        """
        db = self._db()
        own = db.execute(
            "SELECT source, pos, heading FROM refs WHERE chunk_id=? ORDER BY source, pos "
            "LIMIT 1", (cid,)).fetchone()
        if own is None:
            return None
        source, pos, heading = own
        row = db.execute(
            "SELECT chunk_id, heading FROM refs WHERE source=? AND pos=?",
            (source, pos + step)).fetchone()
        if row is None or row[1] != heading or row[0] == cid:
            return None
        if step > 0:
            first = db.execute(
                "SELECT source, pos FROM refs WHERE chunk_id=? ORDER BY source, pos LIMIT 1",
                (row[0],)).fetchone()
            if tuple(first) != (source, pos + step):
                return None
        return str(row[0])

    def sources(self) -> list[tuple[str, str, int, str]]:
        """Every committed file as ``(source, title, passages, sha256)``, by source."""
        return [(str(a), str(b), int(c), str(d)) for a, b, c, d in self._db().execute(
            "SELECT source, title, n, sha256 FROM files ORDER BY source")]

    def source_names(self) -> list[str]:
        """Every committed file's source."""
        return [r[0] for r in self._db().execute("SELECT source FROM files ORDER BY source")]

    def file(self, source: str) -> FileRecord | None:
        """The committed record of ``source``, passages without their texts."""
        db = self._db()
        row = db.execute("SELECT sha256, title FROM files WHERE source=?", (source,)).fetchone()
        if row is None:
            return None
        sha256, title = row
        chunks = tuple(
            Chunk(id=cid, text="", source=source, title=title, start=start, end=end,
                  page=page, heading=heading, place=place, code=code)
            for cid, start, end, page, heading, place, code in db.execute(
                "SELECT chunk_id, start, \"end\", page, heading, place, code FROM refs "
                "WHERE source=? ORDER BY pos", (source,))
        )
        return FileRecord(source, sha256, title, chunks)

    def df(self, term: str) -> int:
        """How many committed passages have the stemmed ``term``."""
        row = self._db().execute("SELECT n FROM df WHERE term=?", (term,)).fetchone()
        return 0 if row is None else int(row[0])

    # ----- writing ---------------------------------------------------------------------

    def apply(
        self,
        generation: str,
        seq: int,
        records: Sequence[FileRecord],
        removed: Sequence[str],
        texts: Mapping[str, str],
        identity: str,
        full: bool = False,
    ) -> None:
        """Bring the replica to ``generation``: replace ``records``, drop ``removed`` files
        (with ``full``, everything not in ``records``), index new passages, forget passages
        no file lists any more. ``texts`` holds the text of every passage not yet stored.

        The BM25 index is committed first, so a crash in between leaves the catalog at its
        previous generation and the next sync applies the same change again.
        """
        touched = [r.source for r in records] + list(removed)
        # Where each new passage first occurs: BM25 reads it under that title and heading.
        first: dict[str, Chunk] = {}
        for r in records:
            for c in r.chunks:
                first.setdefault(c.id, c)
        new_ids = set(first)
        if full:
            to_add = [(cid, texts[cid]) for cid in sorted(new_ids)]
            gone: set[str] = set()
        else:
            present = self.committed(new_ids)
            to_add = [(cid, texts[cid]) for cid in sorted(new_ids - present)]
            old_ids = {r[0] for r in self._rows(
                "SELECT chunk_id FROM refs WHERE source IN ({marks})", touched)}
            # Passages of the touched files that no other file lists either.
            gone = old_ids - new_ids
            gone -= self._listed_elsewhere(gone, set(touched))
        counts: Counter[str] = Counter()
        for _, text in to_add:
            counts.update(set(terms(text)))
        leaving = sorted(gone)
        for (text,) in self._rows("SELECT text FROM passages WHERE id IN ({marks})", leaving):
            counts.subtract(set(terms(text)))
        self.lexical.update(
            [(cid, replace(first[cid], text=text).searched_text) for cid, text in to_add],
            leaving, clear=full)
        with self._write() as db:
            if full:
                db.execute("DELETE FROM files")
                db.execute("DELETE FROM refs")
                db.execute("DELETE FROM passages")
                db.execute("DELETE FROM df")
            db.executemany(
                "INSERT INTO df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET n = n + excluded.n",
                [(t, c) for t, c in counts.items() if c])
            db.execute("DELETE FROM df WHERE n <= 0")
            for source in touched:
                db.execute("DELETE FROM files WHERE source=?", (source,))
                db.execute("DELETE FROM refs WHERE source=?", (source,))
            db.executemany("INSERT INTO files VALUES (?, ?, ?, ?)",
                           [(r.source, r.sha256, r.title, len(r.chunks)) for r in records])
            db.executemany(
                "INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.source, pos, c.id, c.start, c.end, c.page, c.heading, c.place, c.code)
                 for r in records for pos, c in enumerate(r.chunks)],
            )
            db.executemany("INSERT OR REPLACE INTO passages VALUES (?, ?)", to_add)
            db.executemany("DELETE FROM passages WHERE id=?", [(c,) for c in gone])
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("generation", generation), ("seq", str(seq)), ("identity", identity)],
            )

    def _listed_elsewhere(self, ids: set[str], touched: set[str]) -> set[str]:
        rows = self._rows("SELECT chunk_id, source FROM refs WHERE chunk_id IN ({marks})",
                          sorted(ids))
        return {cid for cid, source in rows if source not in touched}


class _Chunks(Mapping[str, Chunk]):
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def __getitem__(self, cid: str) -> Chunk:
        got = self._catalog.fetch([cid])
        if cid not in got:
            raise KeyError(cid)
        return got[cid]

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and bool(self._catalog.committed([cid]))

    def __iter__(self) -> Iterator[str]:
        return self._catalog.passage_ids()

    def __len__(self) -> int:
        return self._catalog.count("passages")

    def values(self) -> Iterator[Chunk]:  # type: ignore[override]
        ids = list(self._catalog.passage_ids())
        for i in range(0, len(ids), _IN_BATCH):
            yield from self._catalog.fetch(ids[i:i + _IN_BATCH]).values()


class _Files(Mapping[str, FileRecord]):
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def __getitem__(self, source: str) -> FileRecord:
        record = self._catalog.file(source)
        if record is None:
            raise KeyError(source)
        return record

    def __iter__(self) -> Iterator[str]:
        return iter(self._catalog.source_names())

    def __len__(self) -> int:
        return self._catalog.count("files")

    def __bool__(self) -> bool:
        return self._catalog.has_files()


class _Neighbours(Mapping[str, str]):
    def __init__(self, catalog: Catalog, step: int) -> None:
        self._catalog = catalog
        self._step = step

    def __getitem__(self, cid: str) -> str:
        got = self._catalog.neighbour(cid, self._step)
        if got is None:
            raise KeyError(cid)
        return got

    def __iter__(self) -> Iterator[str]:
        return (c for c in self._catalog.passage_ids() if c in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Lexical:
    """What readers need of the lexical side: BM25 search (tantivy) and exact term
    statistics of the committed passages (the catalog)."""

    terms = staticmethod(terms)

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    @cached_property
    def _passages(self) -> int:
        # Counted once per snapshot: a count reads the whole table, and a question asks
        # for the idf of every word it has.
        return self._catalog.count("passages")

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over the committed passages; unseen
        terms weigh the most. Counted by the catalog rather than by the BM25 index, whose
        counts include deleted passages until it merges them away."""
        df = self._catalog.df(term)
        return math.log(1.0 + (self._passages - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        """Whether any committed passage has the stemmed ``term``."""
        return self._catalog.df(term) > 0

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, bm25 score)`` pairs (possibly of uncommitted passages)."""
        return self._catalog.lexical.search(query, k)

    def ids(self) -> set[str]:
        """Every id in the BM25 index (for checks)."""
        return self._catalog.lexical.ids()


class Snapshot:
    """The committed view readers use, read from the catalog replica as needed.

    Maps keep the shape callers know (``chunks[id]``, ``files``, ``previous``/``following``
    of a passage) while reading only the rows asked for.
    """

    def __init__(self, catalog: Catalog | None, generation: str = "") -> None:
        self.generation = generation
        self._catalog = catalog

    @cached_property
    def catalog(self) -> Catalog:
        """The replica behind this view (an empty one when none is loaded yet)."""
        if self._catalog is None:
            raise LookupError("no snapshot is loaded")
        return self._catalog

    @cached_property
    def lexical(self) -> Lexical:
        """BM25 search, and term statistics over the committed passages."""
        return Lexical(self.catalog)

    @cached_property
    def chunks(self) -> Mapping[str, Chunk]:
        """Committed passages by id."""
        return _Chunks(self.catalog)

    @cached_property
    def files(self) -> Mapping[str, FileRecord]:
        """Committed files by source."""
        return _Files(self.catalog)

    @cached_property
    def previous(self) -> Mapping[str, str]:
        """The passage right before each passage, under the same heading."""
        return _Neighbours(self.catalog, -1)

    @cached_property
    def following(self) -> Mapping[str, str]:
        """The passage right after each passage, under the same heading."""
        return _Neighbours(self.catalog, 1)

    @cached_property
    def names(self) -> dict[str, str]:
        """The name each committed file is shown by (see :func:`display_names`)."""
        return display_names(self.catalog.source_names())

    def fetch(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """Committed passages among ``ids``, in one read."""
        return self.catalog.fetch(ids)

    def committed(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are committed."""
        return self.catalog.committed(ids)
