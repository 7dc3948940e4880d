"""Store check (``bot doctor``): passages without vectors, vectors without passages, file
records that point at passages the store does not hold, and a local search index out of step
with the store; ``repair`` fixes them.

A file's record lists its passages; each passage is stored once with its text and vector.
The check reads every record and every stored passage and asks the search index for each
passage by its own vector, so a vector stored but missing from the index is found too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.service import Bot


@dataclass
class Health:
    """What the check found."""

    files: int = 0
    passages: int = 0
    # Files whose record lists passages the store does not hold, with how many.
    broken_files: dict[str, int] = field(default_factory=dict)
    # Stored passages with no vector, or one the search index does not return.
    without_vectors: set[str] = field(default_factory=set)
    # Stored passages no committed file lists (left by a crash; the next ingest sweeps them).
    orphans: set[str] = field(default_factory=set)
    # The local replica (catalog and BM25 index) disagrees with the store.
    index_out_of_step: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not (self.broken_files or self.without_vectors or self.orphans
                    or self.index_out_of_step)

    def lines(self) -> list[str]:
        """The findings, one line each."""
        out = [f"{self.files} files, {self.passages} passages checked"]
        for source, count in sorted(self.broken_files.items()):
            out.append(f"file points at {count} missing passage(s): {source}")
        if self.without_vectors:
            out.append(f"{len(self.without_vectors)} passage(s) have no searchable vector")
        if self.orphans:
            out.append(f"{len(self.orphans)} stored passage(s) belong to no file")
        if self.index_out_of_step:
            out.append("the local search index disagrees with the store")
        return out


def check(bot: Bot) -> Health:
    """Read the whole store and report what is inconsistent."""
    store = bot.store
    records = store.records()
    stored = store.stored()
    listed = {c.id for r in records for c in r.chunks}
    health = Health(files=len(records), passages=len(listed))
    for record in records:
        absent = {c.id for c in record.chunks} - stored.keys()
        if absent:
            health.broken_files[record.source] = len(absent)
    with_vector = {cid: v for cid, (_, v) in stored.items() if v is not None and len(v)}
    health.without_vectors = {cid for cid in stored if cid not in with_vector} & listed
    health.without_vectors |= store.unfindable(
        {cid: v for cid, v in with_vector.items() if cid in listed}
    )
    health.orphans = set(stored) - listed
    whole = {c.id for r in records if r.source not in health.broken_files for c in r.chunks}
    snap = store.snapshot()
    indexed = set(snap.chunks)
    health.index_out_of_step = indexed != whole or snap.lexical.ids() != indexed
    return health


def repair(bot: Bot, health: Health) -> list[str]:
    """Fix what :func:`check` found; returns what was done, one line each."""
    done: list[str] = []
    lock = bot.lock
    if health.without_vectors:
        with lock.held():
            texts = bot.store.stored(sorted(health.without_vectors))
            chunks = [c for r in bot.store.records() for c in r.chunks if c.id in texts]
            unique = list({c.id: c for c in chunks}.values())
            whole = [replace(c, text=texts[c.id][0]) for c in unique]
            vectors = bot.embedder.embed_documents([c.searched_text for c in whole])
            # Upserting the same id writes the vector into the search index again.
            bot.store.add_vectors(whole, vectors)
        done.append(f"re-embedded {len(unique)} passage(s)")
    for source in sorted(health.broken_files):
        path = Path(source)
        if path.is_file():
            # Ingest sees the missing passages and embeds the file again, even if unchanged.
            report = bot.ingest([path])
            verdict = report.files[0].status if report.files else "failed"
            done.append(f"re-ingested ({verdict}): {source}")
        elif bot.remove(source):
            done.append(f"removed (the file is gone; ingest it again if it moves back): {source}")
    if health.orphans:
        with lock.held():
            swept = bot.store.sweep()
        done.append(f"deleted {swept} passage(s) that belonged to no file")
    if health.index_out_of_step or health.broken_files:
        bot.store.rebuild_index()
        done.append("rebuilt the local search index from the store")
    return done

