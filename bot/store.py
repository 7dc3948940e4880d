"""The vector-store seam: chunks and a file catalog in Chroma, plus a derived BM25 index.

Chroma holds two collections. ``<name>`` has one record per distinct passage (id = content
hash), so a paragraph repeated in one file or across files is stored once. ``<name>__files``
has one record per source file listing where its passages occur; writing that record is the
commit point of a file. Readers only see passages that a committed file record lists, so a
file that fails half-way through ingest stays at its previous version, and passages left
behind by a crash are invisible until a later ingest sweeps them away.

Every commit also writes a new generation stamp and a sequence number, and each file record
carries the sequence number of its commit (a removed file leaves a tombstone record). Readers
work from a local replica of the catalog (bot/index.py: file records, passage texts and the
BM25 index, on disk beside the store): when the stamp changes, the replica applies the files
committed since its own sequence number, so the lexical side follows the vectors, whether they
live in the embedded store or on a Chroma server, without anyone re-reading the whole store.
The embedded store also keeps its vector index in memory, where other processes' writes do not
show, so a new generation reopens it from disk, before a search and before a write (a write
through a stale index would persist it over the other process's vectors).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot import chunking
from bot.index import LAYOUT, Catalog, FileRecord, Snapshot
from bot.models import Chunk, SourceInfo
from bot.settings import Settings

__all__ = ["ChunkStore", "FileRecord", "Snapshot", "StoreError", "make_client", "store_folder"]

log = logging.getLogger(__name__)

GENERATION_ID = "__generation__"
# Names the embedding model of the stored vectors: vectors of two models never meet.
MODEL_ID = "__embedding_model__"
# A passage vector's metadata: the passage version its searched text was made under.
_VERSION_KEY = "passages"


class StoreError(RuntimeError):
    """The vector store cannot be reached or refused an operation."""


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
        """Which of ``ids`` have no stored vector, or one made under another passage
        version."""
        ...

    def add_vectors(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Store passages and their vectors, invisible until a file lists them."""
        ...

    def sweep(self, candidates: Iterable[str] | None = None) -> int:
        """Delete stored passages that no committed file lists (checking only
        ``candidates`` when the store allows)."""
        ...

    def check_model(self, model: str, claim: bool = False) -> None:
        """Raise :class:`StoreError` when the stored vectors come from another embedding
        model; with ``claim``, record ``model`` in a store that names none yet."""
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

    def commit_files(self, records: Sequence[FileRecord]) -> None:
        """Publish several files in one write."""
        ...

    def remove_file(self, source: str) -> bool:
        """Unpublish ``source``; False when it was not committed."""
        ...

    def commit_state(self) -> tuple[str, int]:
        """The generation stamp and sequence number of the last commit."""
        ...

    def local_folder(self) -> Path | None:
        """The embedded store's folder; ``None`` for a store on a server."""
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


def _index_folder(client: Any, name: str, index_dir: Path | None) -> Path:
    """Where the catalog replica of collection ``name`` lives: beside an embedded store,
    or under ``index_dir`` (each bot process's own data folder) for a Chroma server."""
    settings = client.get_settings()
    if settings.is_persistent:
        base = index_dir or Path(settings.persist_directory).parent / "index"
        return base / name
    if index_dir is None:
        raise ValueError("a store on a Chroma server needs a local index_dir")
    server = f"{settings.chroma_server_host}-{settings.chroma_server_http_port}"
    return index_dir / f"{server}-{name}"


class ChunkStore:
    """Chunks, vectors and the file catalog, with a snapshot for readers."""

    def __init__(self, client: Any, name: str, index_dir: Path | None = None) -> None:
        self.name = name
        self._lock = threading.RLock()
        server = client.get_settings()
        self._server = (
            f"{server.chroma_server_host}:{server.chroma_server_http_port}"
            if server.chroma_server_host else ""
        )
        self._embedded = bool(server.is_persistent)
        self._folder = server.persist_directory if self._embedded else self._server
        self._open(client)
        folder = _index_folder(client, name, index_dir)
        try:
            self._catalog = Catalog(folder)
        except Exception as exc:
            raise StoreError(f"cannot open the local index in {folder}: "
                             f"{explain(exc, folder)}") from exc
        self._snapshot = Snapshot(None)
        # The generation up to which this process's embedded vector index is known whole
        # (it was read from disk just now): its own commits on top of it need no
        # reopening, anyone else's do.
        # Its sequence number orders looks taken by different threads: a thread that read
        # the generation before another thread's commit must not move this back.
        self._fresh, self._fresh_seq = "", -1
        if self._embedded:
            with contextlib.suppress(StoreError):  # a damaged store says so when read
                self._fresh, self._fresh_seq = self._generation()

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
        """The current committed view; the local replica first catches up with the store
        when another process, or an earlier run, changed it."""
        generation, seq = self._generation()
        with self._lock:
            if generation != self._snapshot.generation:
                self._catch_up(generation, seq)
                self._sync(generation, seq)
                self._catalog.lexical.refresh()
                self._snapshot = Snapshot(self._catalog, self._catalog.generation)
            return self._snapshot

    def _catch_up(self, generation: str, seq: int) -> None:
        """Reopen the embedded store when another process committed since this one read
        its vector index: searching it would miss their passages, and writing through it
        would persist the stale index over their vectors."""
        with self._lock:
            if seq < self._fresh_seq:
                return
            if self._embedded and generation != self._fresh:
                self._open(_reopened(self._client))
            self._fresh, self._fresh_seq = generation, seq

    def _before_write(self) -> tuple[str, int]:
        """The store's generation and sequence number, the embedded store reopened first
        if another process committed since it was read. Writers hold the data folder's
        write lock, so nobody commits between this look and the write that follows."""
        generation, seq = self._generation()
        if self._embedded:
            self._catch_up(generation, seq)
        return generation, seq

    def dense_search(
        self, vector: Sequence[float], k: int, snapshot: Snapshot
    ) -> list[tuple[str, float]]:
        """``k`` nearest committed passages as ``(id, cosine similarity)``."""
        if k <= 0 or not snapshot.files:
            return []
        # Uncommitted or orphaned passages may sit among the neighbours: ask for spares.
        try:
            result = self._chunks.query(
                query_embeddings=[list(vector)], n_results=k * 2 + 8, include=["distances"]
            )
        except Exception as exc:
            raise StoreError(f"vector search failed: {exc}") from exc
        ids = result["ids"][0]
        committed = snapshot.committed(ids)
        hits = [(cid, 1.0 - float(dist))
                for cid, dist in zip(ids, result["distances"][0], strict=True)
                if cid in committed]
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
                if not meta.get("removed"):
                    record = self._decode_record(doc, meta)
                    out[record.source] = record
        return out

    def sources(self) -> list[SourceInfo]:
        """Every committed file with its passage count."""
        self.snapshot()
        return [SourceInfo(source, title, n, sha)
                for source, title, n, sha in self._catalog.sources()]

    # ----- writing -------------------------------------------------------------------

    def missing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` have no stored vector made from the current passage version's
        searched text (those are the ones to embed)."""
        wanted = list(dict.fromkeys(ids))
        present: set[str] = set()
        for i in range(0, len(wanted), self._batch):
            batch = wanted[i:i + self._batch]
            got = self._call(lambda b=batch: self._chunks.get(ids=b, include=["metadatas"]))
            present.update(
                cid for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
                if (meta or {}).get(_VERSION_KEY) == chunking.PASSAGE_VERSION)
        return set(wanted) - present

    def add_vectors(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Store passages and their vectors; invisible to readers until a file lists them."""
        self._before_write()
        for i in range(0, len(chunks), self._batch):
            part = chunks[i:i + self._batch]
            self._call(
                lambda p=part, v=vectors[i:i + self._batch]: self._chunks.upsert(
                    ids=[c.id for c in p],
                    embeddings=[list(x) for x in v],
                    documents=[c.text for c in p],
                    # A vector is only as current as the text it was made from: a passage
                    # whose searched text changed keeps its id, so its vector says which.
                    metadatas=[{_VERSION_KEY: chunking.PASSAGE_VERSION} for _ in p],
                )
            )

    def commit_files(self, records: Sequence[FileRecord]) -> None:
        """Publish several files in one write and one generation change.

        Each file's record is still a single row, so every file is seen either at its old
        or at its new version; batching only saves round trips and spares readers a
        catalog update per file.
        """
        if not records:
            return
        before, seq = self._before_write()
        seq += 1
        for i in range(0, len(records), self._batch):
            part = records[i:i + self._batch]
            self._call(
                lambda p=part: self._files.upsert(
                    ids=[_file_record_id(r.source) for r in p],
                    embeddings=[[1.0] for _ in p],
                    documents=[json.dumps([
                        {"id": c.id, "start": c.start, "end": c.end, "page": c.page,
                         "heading": c.heading, "place": c.place, "code": c.code}
                        for c in r.chunks
                    ]) for r in p],
                    # Chroma merges an upsert's metadata into the old record's: a file
                    # added again after its removal must say it is no tombstone.
                    metadatas=[{"source": r.source, "sha256": r.sha256, "title": r.title,
                                "recipe": r.recipe, "seq": seq, "removed": False}
                               for r in p],
                )
            )
        self._bump_generation(before, seq)

    def remove_file(self, source: str) -> bool:
        """Unpublish ``source``; its passages go at the next :meth:`sweep`.

        The record becomes a tombstone carrying the commit's sequence number, so replicas
        that follow the store learn of the removal without re-reading every file.
        """
        before, seq = self._before_write()
        rid = _file_record_id(source)
        got = self._call(lambda: self._files.get(ids=[rid], include=["metadatas"]))
        if not got["ids"] or got["metadatas"][0].get("removed"):
            return False
        seq += 1
        self._call(lambda: self._files.upsert(
            ids=[rid], embeddings=[[1.0]], documents=["[]"],
            metadatas=[{"source": source, "sha256": "", "title": "", "seq": seq,
                        "removed": True}],
        ))
        self._bump_generation(before, seq)
        return True

    def sweep(self, candidates: Iterable[str] | None = None) -> int:
        """Delete stored passages that no committed file lists; returns how many.

        With ``candidates`` (the passages a writer replaced or failed to publish), only
        those are checked against the local replica, which costs what the change costs;
        the whole store is read only when its passage count still disagrees with the
        replica's (passages a crashed writer left behind).
        """
        self._before_write()
        swept = 0
        if candidates is not None:
            self.snapshot()
            wanted = set(candidates)
            orphans = sorted(wanted - self._catalog.committed(wanted))
            for i in range(0, len(orphans), self._batch):
                batch = orphans[i:i + self._batch]
                self._call(lambda b=batch: self._chunks.delete(ids=b))
            swept = len(orphans)
            if self.vector_count() == self._catalog.count("passages"):
                return swept
        records = self._all_records()
        referenced = {c.id for r in records for c in r.chunks}
        stored = self._paged(self._chunks, include=[])["ids"]
        orphans = [cid for cid in stored if cid not in referenced]
        for i in range(0, len(orphans), self._batch):
            batch = orphans[i:i + self._batch]
            self._call(lambda b=batch: self._chunks.delete(ids=b))
        return swept + len(orphans)

    def check_model(self, model: str, claim: bool = False) -> None:
        """Raise :class:`StoreError` when the stored vectors come from another embedding
        model; with ``claim``, record ``model`` in a store that names none yet (stores
        written before the model was recorded are taken to hold ``model``'s vectors)."""
        got = self._call(lambda: self._files.get(ids=[MODEL_ID], include=["metadatas"]))
        if got["ids"]:
            stored = str(got["metadatas"][0].get("model", ""))
            if stored != model:
                raise StoreError(
                    f"the store in {self._folder} holds vectors of the embedding model "
                    f"{stored!r}, not {model!r}: set BOT_EMBEDDING_MODEL back, or use another "
                    "BOT_DATA_DIR (or BOT_COLLECTION) for the new model and ingest again"
                )
        elif claim:
            self._call(lambda: self._files.upsert(
                ids=[MODEL_ID], embeddings=[[1.0]], documents=[""],
                metadatas=[{"model": model}]))

    def records(self) -> list[FileRecord]:
        """Every committed file record, read from the store."""
        return self._all_records()

    def stored(self, ids: Sequence[str] | None = None) -> dict[str, tuple[str, Any]]:
        """Stored passages (all, or those of ``ids``) as ``id -> (text, vector or None)``."""
        def read(batch: list[str] | None) -> None:
            got = (self._paged(self._chunks, include=["documents", "embeddings"])
                   if batch is None else self._call(lambda: self._chunks.get(
                       ids=batch, include=["documents", "embeddings"])))
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

    def rebuild_index(self) -> None:
        """Rebuild the local replica (catalog and BM25 index) from the store."""
        generation, seq = self._generation()
        with self._lock:
            self._sync(generation, seq, full=True)
            self._catalog.lexical.refresh()
            self._snapshot = Snapshot(self._catalog, self._catalog.generation)

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

    def commit_state(self) -> tuple[str, int]:
        """The generation stamp and sequence number of the last commit."""
        return self._generation()

    def local_folder(self) -> Path | None:
        """The embedded store's folder; ``None`` for a store on a server."""
        return Path(self._folder) if self._embedded else None

    def _generation(self) -> tuple[str, int]:
        got = self._call(lambda: self._files.get(ids=[GENERATION_ID], include=["metadatas"]))
        if not got["ids"]:
            return "empty", 0
        meta = got["metadatas"][0]
        return str(meta["generation"]), int(meta.get("last_seq", 0))

    def _bump_generation(self, before: str, seq: int) -> None:
        generation = uuid.uuid4().hex
        self._call(
            lambda: self._files.upsert(
                ids=[GENERATION_ID], embeddings=[[1.0]], documents=[""],
                metadatas=[{"generation": generation, "last_seq": seq}],
            )
        )
        with self._lock:
            if before == self._fresh:
                self._fresh, self._fresh_seq = generation, seq

    def _identity(self) -> str:
        # A store deleted and made again under the same name must not inherit the replica,
        # and one whose passages were searched by another text is indexed again.
        return f"{LAYOUT}/{chunking.PASSAGE_VERSION}/{self._chunks.id}/{self._files.id}"

    def _decode_record(self, document: str, meta: dict[str, Any]) -> FileRecord:
        source = str(meta["source"])
        title = str(meta.get("title", ""))
        chunks = tuple(
            Chunk(
                id=o["id"], text="", source=source, title=title, start=o["start"],
                end=o["end"], page=o.get("page"), heading=o.get("heading", ""),
                place=o.get("place", ""), code=o.get("code", ""),
            )
            for o in json.loads(document)
        )
        return FileRecord(source, str(meta["sha256"]), title, chunks,
                          str(meta.get("recipe", "")))

    def _all_records(self) -> list[FileRecord]:
        got = self._paged(self._files, include=["documents", "metadatas"])
        return [
            self._decode_record(doc, meta)
            for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if rid not in (GENERATION_ID, MODEL_ID) and not meta.get("removed")
        ]

    def _paged(self, collection: Any, **query: Any) -> dict[str, list[Any]]:
        """A whole ``get`` read in pages: Chroma fails one read of tens of thousands of
        records ("too many SQL variables")."""
        fields = ["ids", *query.get("include", [])]
        out: dict[str, list[Any]] = {f: [] for f in fields}
        offset = 0
        while True:
            got = self._call(lambda o=offset: collection.get(
                limit=self._batch, offset=o, **query))
            for f in fields:
                values = got.get(f)
                out[f].extend(list(values) if values is not None else [None] * len(got["ids"]))
            offset += len(got["ids"])
            if len(got["ids"]) < self._batch:
                return out

    def _changes(self, since: int | None) -> tuple[list[FileRecord], list[str]]:
        """Files committed (and removed) at sequence ``since`` or later; all with None.

        ``>=`` rather than ``>``: two writers on one server may draw the same number, and
        applying a record twice is harmless.
        """
        if since is None:
            return self._all_records(), []
        got = self._paged(self._files, where={"seq": {"$gte": since}},
                          include=["documents", "metadatas"])
        records, removed = [], []
        for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
            if meta.get("removed"):
                removed.append(str(meta["source"]))
            else:
                records.append(self._decode_record(doc, meta))
        return records, removed

    def _sync(self, generation: str, seq: int, full: bool = False) -> None:
        """Bring the local replica to ``generation``; processes sharing it take turns, and
        whoever comes second finds the work done."""
        catalog = self._catalog
        if not full and catalog.generation == generation:
            return
        try:
            catalog.lock.acquire(timeout=600)
        except Exception as exc:
            raise StoreError(f"cannot lock the local index in {catalog.folder}: {exc}") from exc
        try:
            identity = self._identity()
            for _ in range(3):
                if not full and catalog.generation == generation:
                    return
                applied = catalog.meta("seq")
                whole = full or applied is None or catalog.meta("identity") != identity
                records, removed = self._changes(None if whole else int(applied or 0))
                texts = self._texts(records, whole)
                listed = {c.id for r in records for c in r.chunks}
                missing = listed - texts.keys()
                if not whole:
                    missing -= catalog.committed(missing)
                if not missing:
                    catalog.apply(generation, seq, records, removed, texts, identity, whole)
                    return
                # A writer published a newer version and swept passages of this one between
                # the two reads: look again rather than show a file in part.
                generation, seq = self._generation()
            complete = [r for r in records if not any(c.id in missing for c in r.chunks)]
            log.warning("%d file(s) changed while the local index was updated; "
                        "they are shown at their previous version", len(records) - len(complete))
            # Recorded as no generation at all, so the next question looks again.
            catalog.apply("", int(applied or 0), complete, removed, texts,
                          "" if whole else identity, whole)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot update the local index in {catalog.folder}: "
                             f"{explain(exc, catalog.folder)}") from exc
        finally:
            catalog.lock.release()

    def _texts(self, records: Sequence[FileRecord], every: bool) -> dict[str, str]:
        """Texts of the passages of ``records``: all of them, or (``every`` False) those the
        replica does not hold yet."""
        ids = sorted({c.id for r in records for c in r.chunks})
        wanted = ids if every else sorted(set(ids) - self._catalog.committed(ids))
        texts: dict[str, str] = {}
        for i in range(0, len(wanted), self._batch):
            batch = wanted[i:i + self._batch]
            got = self._call(lambda b=batch: self._chunks.get(ids=b, include=["documents"]))
            texts.update(zip(got["ids"], got["documents"], strict=True))
        return texts
