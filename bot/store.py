"""The vector-store seam: chunks and a file catalog in Chroma, plus a derived BM25 index.

Chroma holds two collections. ``<name>`` has one record per distinct passage (id = content
hash), so a paragraph repeated in one file or across files is stored once. ``<name>__files``
has one record per source file listing where its passages occur; writing that record is the
commit point of a file. Readers only see passages that a committed file record lists, so a
file that fails half-way through ingest stays at its previous version, and passages left
behind by a crash are invisible until a later ingest sweeps them away.

Every commit also writes a new generation stamp. Each process compares the stamp before
answering and rebuilds its snapshot (passages plus BM25 index) when another process, or an
earlier run, changed the store: the lexical side follows the vectors, whether they live in the
embedded store or on a Chroma server. The embedded store also keeps its vector index in
memory, where other processes' writes do not show, so a new generation reopens it from disk.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from bot.lexical import LexicalIndex
from bot.models import Chunk, SourceInfo
from bot.settings import Settings

GENERATION_ID = "__generation__"


class StoreError(RuntimeError):
    """The vector store cannot be reached or refused an operation."""


@dataclass(frozen=True)
class FileRecord:
    """A committed source file and the passages it is made of, in order."""

    source: str
    sha256: str
    title: str
    chunks: tuple[Chunk, ...]


@dataclass
class Snapshot:
    """A consistent view of the store at one generation."""

    generation: str = ""
    files: dict[str, FileRecord] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=dict)
    lexical: LexicalIndex = field(default_factory=lambda: LexicalIndex([], []))

    @cached_property
    def following(self) -> dict[str, str]:
        """The passage that comes right after each passage in its document."""
        return {before: after for after, before in self.previous.items()}


class VectorIndex(Protocol):
    """Passages and their vectors: what ingest writes and retrieval reads."""

    def snapshot(self) -> Snapshot:
        """The current committed view."""
        ...

    def dense_search(
        self, vector: Sequence[float], k: int, snapshot: Snapshot
    ) -> list[tuple[str, float]]:
        """``k`` nearest committed passages as ``(id, cosine similarity)``."""
        ...

    def missing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` have no stored vector yet."""
        ...

    def add_vectors(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Store passages and their vectors, invisible until a file lists them."""
        ...

    def sweep(self) -> int:
        """Delete stored passages that no committed file lists."""
        ...


class FileCatalog(Protocol):
    """Committed source files; writing a file's record is its commit point."""

    def file_record(self, source: str) -> FileRecord | None:
        """The committed record of ``source``."""
        ...

    def file_records(self, sources: Sequence[str]) -> dict[str, FileRecord]:
        """Committed records of ``sources`` (those that have one)."""
        ...

    def sources(self) -> list[SourceInfo]:
        """Every committed file with its passage count."""
        ...

    def commit_file(self, source: str, sha256: str, title: str, chunks: Sequence[Chunk]) -> None:
        """Publish one file."""
        ...

    def commit_files(self, records: Sequence[FileRecord]) -> None:
        """Publish several files in one write."""
        ...

    def remove_file(self, source: str) -> bool:
        """Unpublish ``source``; False when it was not committed."""
        ...


def make_client(settings: Settings) -> Any:
    """An embedded ``PersistentClient`` or, with ``CHROMA_HOST`` set, an ``HttpClient``."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as exc:
        raise RuntimeError("the vector store needs chromadb: pip install chromadb") from exc
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_host}:"
                f"{settings.chroma_port}: {exc}"
            ) from exc
    path = store_folder(settings)
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(f"cannot open the store in {path}: {explain(exc, path)}") from exc


def store_folder(settings: Settings) -> Path:
    """The embedded store's folder under ``BOT_DATA_DIR``, made if missing, or a clear
    :class:`StoreError` when the data folder cannot be one."""
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (NotADirectoryError, FileExistsError) as exc:
        raise StoreError(
            f"the data folder {settings.data_dir} is not a folder (a file is in the way: "
            f"{exc.filename}); set BOT_DATA_DIR to a folder"
        ) from exc
    except OSError as exc:
        raise StoreError(
            f"cannot create the data folder {path} ({exc.strerror}); set BOT_DATA_DIR to a "
            "writable folder"
        ) from exc
    return path


def explain(exc: BaseException, folder: object) -> str:
    """What went wrong in the store, with the way out when there is a known one."""
    detail = f"{type(exc).__name__}: {exc}"
    text = str(exc).lower()
    if "disk is full" in text or "no space left" in text or getattr(exc, "errno", 0) == 28:
        return (f"{detail}; the disk is full: free some space, or set BOT_DATA_DIR to a "
                "folder on another disk")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (f"{detail}; the store in {folder} is damaged: move that folder aside and "
                "ingest the documents again (`bot doctor` checks a store that opens)")
    return detail


def _reopened(client: Any) -> Any:
    """A new embedded client on ``client``'s folder, its vector index read from disk again.

    Chroma keeps one system per folder per process and serves searches from that system's
    in-memory index, which never sees what other processes added. Dropping the cached system
    makes the new client load the index afresh; the old one stays up for searches in flight.
    """
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    settings = client.get_settings()
    SharedSystemClient._identifier_to_system.pop(settings.persist_directory, None)
    return chromadb.PersistentClient(path=settings.persist_directory, settings=settings)


def _file_record_id(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


class ChunkStore:
    """Chunks, vectors and the file catalog, with a snapshot for readers."""

    def __init__(self, client: Any, name: str) -> None:
        self.name = name
        self._lock = threading.RLock()
        self._snapshot = Snapshot()
        server = client.get_settings()
        self._server = (
            f"{server.chroma_server_host}:{server.chroma_server_http_port}"
            if server.chroma_server_host else ""
        )
        self._embedded = bool(server.is_persistent)
        self._folder = server.persist_directory if self._embedded else self._server
        self._open(client)

    def _open(self, client: Any) -> None:
        try:
            self._chunks = client.get_or_create_collection(
                self.name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            self._files = client.get_or_create_collection(
                f"{self.name}__files", embedding_function=None
            )
            self._batch = int(client.get_max_batch_size())
        except Exception as exc:
            raise StoreError(
                f"cannot open the Chroma collection {self.name!r}: "
                f"{explain(exc, self._folder)}"
            ) from exc
        self._client = client

    # ----- reading -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current committed view, rebuilt if the store changed since the last call."""
        generation = self._generation()
        with self._lock:
            if generation != self._snapshot.generation or not self._snapshot.generation:
                if self._embedded and self._snapshot.generation:
                    self._open(_reopened(self._client))
                self._snapshot = self._load_snapshot(generation)
            return self._snapshot

    def dense_search(
        self, vector: Sequence[float], k: int, snapshot: Snapshot
    ) -> list[tuple[str, float]]:
        """``k`` nearest committed passages as ``(id, cosine similarity)``."""
        if not snapshot.chunks or k <= 0:
            return []
        # Uncommitted or orphaned passages may sit among the neighbours: ask for spares.
        n = min(k * 2 + 8, max(len(snapshot.chunks) * 2, k))
        try:
            result = self._chunks.query(
                query_embeddings=[list(vector)], n_results=n, include=["distances"]
            )
        except Exception as exc:
            raise StoreError(f"vector search failed: {exc}") from exc
        hits = []
        for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True):
            if cid in snapshot.chunks:
                hits.append((cid, 1.0 - float(dist)))
        return hits[:k]

    def file_record(self, source: str) -> FileRecord | None:
        """The committed record of ``source``, read from the store (not the snapshot)."""
        return self.file_records([source]).get(source)

    def file_records(self, sources: Sequence[str]) -> dict[str, FileRecord]:
        """Committed records of ``sources`` (those that have one), read in batched calls."""
        wanted = list(dict.fromkeys(_file_record_id(s) for s in sources))
        out: dict[str, FileRecord] = {}
        for i in range(0, len(wanted), self._batch):
            batch = wanted[i:i + self._batch]
            got = self._call(
                lambda b=batch: self._files.get(ids=b, include=["documents", "metadatas"])
            )
            for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
                record = self._decode_record(doc, meta)
                out[record.source] = record
        return out

    def sources(self) -> list[SourceInfo]:
        """Every committed file with its passage count."""
        snap = self.snapshot()
        return [
            SourceInfo(r.source, r.title, len(r.chunks), r.sha256)
            for r in sorted(snap.files.values(), key=lambda r: r.source)
        ]

    # ----- writing -------------------------------------------------------------------

    def missing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` have no stored vector yet (those are the ones to embed)."""
        wanted = list(dict.fromkeys(ids))
        present: set[str] = set()
        for i in range(0, len(wanted), self._batch):
            batch = wanted[i:i + self._batch]
            got = self._call(lambda b=batch: self._chunks.get(ids=b, include=[]))
            present.update(got["ids"])
        return set(wanted) - present

    def add_vectors(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Store passages and their vectors; invisible to readers until a file lists them."""
        for i in range(0, len(chunks), self._batch):
            part = chunks[i:i + self._batch]
            self._call(
                lambda p=part, v=vectors[i:i + self._batch]: self._chunks.upsert(
                    ids=[c.id for c in p],
                    embeddings=[list(x) for x in v],
                    documents=[c.text for c in p],
                )
            )

    def commit_file(self, source: str, sha256: str, title: str, chunks: Sequence[Chunk]) -> None:
        """Publish ``source`` as made of ``chunks`` (whose vectors must already be stored)."""
        self.commit_files([FileRecord(source, sha256, title, tuple(chunks))])

    def commit_files(self, records: Sequence[FileRecord]) -> None:
        """Publish several files in one write and one generation change.

        Each file's record is still a single row, so every file is seen either at its old
        or at its new version; batching only saves round trips and spares readers a
        snapshot rebuild per file.
        """
        if not records:
            return
        self._call(
            lambda: self._files.upsert(
                ids=[_file_record_id(r.source) for r in records],
                embeddings=[[1.0] for _ in records],
                documents=[json.dumps([
                    {"id": c.id, "start": c.start, "end": c.end, "page": c.page,
                     "heading": c.heading, "place": c.place}
                    for c in r.chunks
                ]) for r in records],
                metadatas=[{"source": r.source, "sha256": r.sha256, "title": r.title}
                           for r in records],
            )
        )
        self._bump_generation()

    def remove_file(self, source: str) -> bool:
        """Unpublish ``source``; its passages go at the next :meth:`sweep`."""
        rid = _file_record_id(source)
        if not self._call(lambda: self._files.get(ids=[rid], include=[]))["ids"]:
            return False
        self._call(lambda: self._files.delete(ids=[rid]))
        self._bump_generation()
        return True

    def sweep(self) -> int:
        """Delete stored passages that no committed file lists; returns how many."""
        records = self._all_records()
        referenced = {c.id for r in records for c in r.chunks}
        stored = self._call(lambda: self._chunks.get(include=[]))["ids"]
        orphans = [cid for cid in stored if cid not in referenced]
        for i in range(0, len(orphans), self._batch):
            batch = orphans[i:i + self._batch]
            self._call(lambda b=batch: self._chunks.delete(ids=b))
        return len(orphans)

    def records(self) -> list[FileRecord]:
        """Every committed file record, read from the store."""
        return self._all_records()

    def stored(self, ids: Sequence[str] | None = None) -> dict[str, tuple[str, Any]]:
        """Stored passages (all, or those of ``ids``) as ``id -> (text, vector or None)``."""
        def read(batch: list[str] | None) -> None:
            got = self._call(lambda: self._chunks.get(
                ids=batch, include=["documents", "embeddings"]))
            vectors = got.get("embeddings")
            for i, cid in enumerate(got["ids"]):
                vector = vectors[i] if vectors is not None else None
                out[cid] = (got["documents"][i] or "", vector)

        out: dict[str, tuple[str, Any]] = {}
        if ids is None:
            read(None)
        else:
            wanted = list(dict.fromkeys(ids))
            for i in range(0, len(wanted), self._batch):
                read(wanted[i:i + self._batch])
        return out

    def unfindable(self, vectors: dict[str, Sequence[float]], batch: int = 64) -> set[str]:
        """Passages that a search with their own vector does not return: their vector is
        stored but missing from the search index."""
        ids = list(vectors)
        lost: set[str] = set()
        for i in range(0, len(ids), batch):
            part = ids[i:i + batch]
            got = self._call(lambda p=part: self._chunks.query(
                query_embeddings=[list(vectors[c]) for c in p],
                n_results=min(5, len(vectors)), include=[]))
            lost.update(c for c, hits in zip(part, got["ids"], strict=True) if c not in hits)
        return lost

    def vector_count(self) -> int:
        """Number of stored passage vectors (committed or not)."""
        return int(self._call(self._chunks.count))

    # ----- internals -----------------------------------------------------------------

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except StoreError:
            raise
        except Exception as exc:
            # httpx's TransportError covers refused, reset and timed-out connections.
            unreachable = isinstance(exc, OSError) or any(
                c.__name__ == "TransportError" for c in type(exc).__mro__
            )
            if self._server and unreachable:
                raise StoreError(
                    f"cannot reach the Chroma server at {self._server} "
                    f"({type(exc).__name__}: {exc}); is `chroma run` up?"
                ) from exc
            raise StoreError(f"vector store error: {explain(exc, self._folder)}") from exc

    def _generation(self) -> str:
        got = self._call(lambda: self._files.get(ids=[GENERATION_ID], include=["metadatas"]))
        if not got["ids"]:
            return "empty"
        return str(got["metadatas"][0]["generation"])

    def _bump_generation(self) -> None:
        self._call(
            lambda: self._files.upsert(
                ids=[GENERATION_ID], embeddings=[[1.0]], documents=[""],
                metadatas=[{"generation": uuid.uuid4().hex}],
            )
        )

    def _decode_record(self, document: str, meta: dict[str, Any]) -> FileRecord:
        source = str(meta["source"])
        title = str(meta.get("title", ""))
        chunks = tuple(
            Chunk(
                id=o["id"], text="", source=source, title=title, start=o["start"],
                end=o["end"], page=o.get("page"), heading=o.get("heading", ""),
                place=o.get("place", ""),
            )
            for o in json.loads(document)
        )
        return FileRecord(source, str(meta["sha256"]), title, chunks)

    def _all_records(self) -> list[FileRecord]:
        got = self._call(lambda: self._files.get(include=["documents", "metadatas"]))
        return [
            self._decode_record(doc, meta)
            for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if rid != GENERATION_ID
        ]

    def _read_files_and_texts(self) -> tuple[list[FileRecord], dict[str, str]]:
        """The committed files and the texts of their passages, read so they agree."""
        last = self._snapshot
        for _ in range(3):
            records = sorted(self._all_records(), key=lambda r: r.source)
            ids = sorted({c.id for r in records for c in r.chunks})
            # Ids are content hashes: texts already in the previous snapshot cannot have
            # changed, so only passages new since then are read from the store.
            texts = {cid: last.chunks[cid].text for cid in ids if cid in last.chunks}
            wanted = [cid for cid in ids if cid not in texts]
            for i in range(0, len(wanted), self._batch):
                batch = wanted[i:i + self._batch]
                got = self._call(lambda b=batch: self._chunks.get(ids=b, include=["documents"]))
                texts.update(zip(got["ids"], got["documents"], strict=True))
            if len(texts) == len(ids):
                return records, texts
            # A writer published a new version and swept the old passages between the two
            # reads: list the files again rather than show one of them in part.
        whole = [r for r in records if all(c.id in texts for c in r.chunks)]
        return whole, texts

    def _load_snapshot(self, generation: str) -> Snapshot:
        records, texts = self._read_files_and_texts()
        first: dict[str, Chunk] = {}
        previous: dict[str, str] = {}
        for record in records:
            for i, c in enumerate(record.chunks):
                if c.id in first:
                    continue
                first[c.id] = c
                before = record.chunks[i - 1] if i else None
                if before is not None and before.heading == c.heading and before.id != c.id:
                    previous[c.id] = before.id
        last = self._snapshot
        chunks = {
            cid: Chunk(
                id=cid, text=texts[cid], source=c.source, title=c.title, start=c.start,
                end=c.end, page=c.page, heading=c.heading, place=c.place,
            )
            for cid, c in first.items()
        }
        ordered = sorted(chunks)
        return Snapshot(
            generation=generation,
            files={r.source: r for r in records},
            chunks=chunks,
            previous={k: v for k, v in previous.items() if k in chunks and v in chunks},
            lexical=LexicalIndex(ordered, [chunks[c].text for c in ordered], last.lexical),
        )
