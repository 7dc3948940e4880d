"""The core every front end calls: :meth:`Bot.ingest` and :meth:`Bot.ask`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_core.embeddings import Embeddings

from bot.answer import Draft, ExtractiveAnswerer, check_reply, refusal
from bot.conversation import Turn, condense, context_of
from bot.guard import addresses_the_bot, clean_question, is_steering, without_planted
from bot.ingest import Ingester, Progress
from bot.llm import NOT_IN_DOCUMENTS, LLMError, OpenAIChat
from bot.models import NOTHING_INDEXED, Answer, IngestReport, Scored, SourceInfo, display_names
from bot.reader import Reader
from bot.retrieval import Retriever
from bot.settings import Settings
from bot.store import ChunkStore, Snapshot
from bot.writelock import WriteLock

if TYPE_CHECKING:
    from bot.retriever import BotRetriever

Backend = Literal["extractive", "openai"]


class Bot:
    """Grounded, cited question answering over the documents in one store."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embeddings,
        store: ChunkStore,
        chat: OpenAIChat | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.chat = chat
        self.retriever = Retriever(store, embedder, settings)
        self.extractive = ExtractiveAnswerer(
            embedder, settings.min_confidence, settings.max_answer_sentences, reader=reader
        )
        # The store generation whose embedding model was last found to match this bot's.
        self._model_checked = ""
        # One lock for every write of this process, so its threads (uploads of several web
        # sessions) queue here instead of each waiting on the file as if another process.
        self.lock = WriteLock(settings.data_dir, settings.write_lock_timeout)

    @property
    def backends(self) -> list[Backend]:
        """Answer backends available in this configuration."""
        return ["extractive", "openai"] if self.chat is not None else ["extractive"]

    # ----- documents -------------------------------------------------------------------

    @property
    def ingester(self) -> Ingester:
        """Ingest over this bot's embedder and store (built per use: it holds no state)."""
        return Ingester(self.settings, self.embedder, self.store, self.store, lock=self.lock)

    def ingest(
        self, paths: Sequence[Path | str], prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Add, update (and with ``prune``, remove) documents; unchanged files cost nothing."""
        return self.ingester.ingest(paths, prune=prune, progress=progress)

    def remove(self, source: str) -> bool:
        """Remove one document (by its stored source path) and its passages."""
        return self.ingester.remove(source)

    def sources(self) -> list[SourceInfo]:
        """The documents in the store, each with the name people see."""
        items = self.store.sources()
        names = display_names(s.source for s in items)
        return [replace(s, name=names[s.source]) for s in items]

    def find_sources(self, name: str) -> list[str]:
        """Stored sources ``name`` designates: a path (absolute, or from the working folder),
        else the end of stored paths as the bot shows them ("setup.md", "guides/setup.md")."""
        stored = [s.source for s in self.sources()]
        exact = str(Path(name).expanduser().resolve())
        if exact in stored:
            return [exact]
        parts = Path(name).parts
        return [s for s in stored if parts and Path(s).parts[-len(parts):] == parts]

    def warm_up(self) -> None:
        """Load the store's snapshot, the embedding model, the evidence model and the entity
        tagger now, so the first question does not pay for them; asks nothing."""
        self.store.snapshot()
        self.embedder.embed_query("warm-up")
        self.extractive.warm_up()

    def search(self, query: str, k: int | None = None) -> list[Scored]:
        """The passages this bot would answer ``query`` from, best first (``k``, default
        BOT_TOP_K). Raises :class:`bot.guard.QuestionError` for an empty or over-long query.
        """
        text = clean_question(query, self.settings.max_question_chars)
        # The rule ask() applies: sentences that instruct their reader are cut out, since
        # these passages usually go straight into someone's LLM prompt.
        return _set_aside_planted(self.retriever.retrieve(text, k), notes=[])

    def as_retriever(self, k: int | None = None) -> BotRetriever:
        """This bot's retrieval as a LangChain retriever (``k`` passages, default BOT_TOP_K)."""
        from bot.retriever import BotRetriever

        return BotRetriever(bot=self, k=k)

    # ----- questions -------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
    ) -> Answer:
        """Answer ``question`` (a follow-up to ``history``) from the documents, with citations."""
        final: Answer | None = None
        for event in self.ask_stream(question, history, backend=backend, top_k=top_k):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, but first yields the generated text as it streams (LLM backend).

        The last item is always the checked :class:`Answer`; streamed text is a preview and
        may differ from it, since unsupported sentences are removed after the check.
        """
        started = time.perf_counter()
        backend = backend or self.settings.answer_backend
        if backend == "openai" and self.chat is None:
            raise ValueError("the openai backend is not configured (set OPENAI_BASE_URL)")
        text = clean_question(question, self.settings.max_question_chars)
        snap = self.store.snapshot()
        if not snap.files:
            # Said here, so every front end tells a new user what to do instead of refusing.
            yield Answer(question=text, standalone_question=text, text=NOTHING_INDEXED,
                         refused=True, backend=backend,
                         latency_s=time.perf_counter() - started)
            return
        if snap.generation != self._model_checked:
            # A store of another model's vectors would answer from noise: said once per change.
            self.store.check_model(self.settings.embedding_identity)
            self._model_checked = snap.generation
        notes: list[str] = []
        standalone = self._standalone(text, history, backend, notes)
        if is_steering(text):
            draft = refusal("The question asks the bot to step outside its documents.")
            yield self._finish(text, standalone, draft, [], backend, notes, started)
            return
        context = context_of(standalone, history)
        retrieved = self.retriever.retrieve(standalone, top_k, snap, context)
        retrieved = _set_aside_planted(retrieved, notes)
        if backend == "openai" and self.chat is not None:
            draft = yield from self._generate(standalone, retrieved, snap, notes)
        else:
            draft = self.extractive.answer(standalone, retrieved, snap)
        names = snap.names
        yield self._finish(text, standalone, draft, retrieved, backend, notes, started, names)

    def _standalone(
        self, text: str, history: Sequence[Turn], backend: str, notes: list[str]
    ) -> str:
        if not history:
            return text
        if backend == "openai" and self.chat is not None:
            try:
                return self.chat.rewrite(text, history)
            except LLMError as exc:
                notes.append(f"The language model could not rewrite the question ({exc}).")
        return condense(text, history)

    def _generate(
        self, question: str, retrieved: list[Scored], snap: Snapshot, notes: list[str]
    ) -> Generator[str, None, Draft]:
        # Evidence gate before any generation: a prompt alone does not decide refusals.
        ranking = self.extractive.rank(question, retrieved, snap)
        if not ranking.candidates or ranking.confidence < self.extractive.threshold:
            return refusal(confidence=ranking.confidence)
        assert self.chat is not None
        parts: list[str] = []
        # The client's timeout bounds each read; a reply trickling in must not run past
        # BOT_LLM_TIMEOUT in total either.
        deadline = time.monotonic() + self.settings.llm_timeout
        stream = self.chat.stream_answer(question, retrieved)
        try:
            for delta in stream:
                if time.monotonic() > deadline:
                    raise LLMError(f"no complete reply within {self.settings.llm_timeout:g} s")
                parts.append(delta)
                yield delta
        except LLMError as exc:
            notes.append(
                f"The language model was unavailable ({exc}); this is the extractive answer."
            )
            return self.extractive.answer(question, retrieved, snap)
        finally:
            stream.close()
        reply = "".join(parts).strip()
        if reply and NOT_IN_DOCUMENTS in reply:
            return refusal()
        checked = check_reply(reply, retrieved, self.embedder) if reply else refusal()
        checked.confidence = ranking.confidence
        if checked.refused:
            notes.append(
                "The language model's reply had no sentence cited and supported by the "
                "documents; this is the extractive answer."
            )
            return self.extractive.answer(question, retrieved, snap)
        return checked

    def _finish(
        self, question: str, standalone: str, draft: Draft, retrieved: list[Scored],
        backend: str, notes: list[str], started: float, names: dict[str, str] | None = None,
    ) -> Answer:
        names = names or {}
        return Answer(
            question=question, standalone_question=standalone, text=draft.text,
            refused=draft.refused, citations=draft.citations, retrieved=retrieved,
            backend=backend, notes=notes + draft.notes,
            latency_s=time.perf_counter() - started, confidence=draft.confidence,
            highlights=draft.highlights, names=names,
        )


def _set_aside_planted(retrieved: list[Scored], notes: list[str]) -> list[Scored]:
    """Documents are data: sentences that try to instruct the model are never evidence nor
    shown to it. The rest of such a passage stays usable, unless the order cannot be cut out."""
    trusted: list[Scored] = []
    flagged = 0
    for hit in retrieved:
        if not addresses_the_bot(hit.chunk.text):
            trusted.append(hit)
            continue
        flagged += 1
        clean = without_planted(hit.chunk.text)
        if clean is not None:
            trusted.append(replace(hit, chunk=replace(hit.chunk, text=clean)))
    if flagged:
        notes.append(
            f"Instructions addressed to the bot were set aside from {flagged} passage(s): "
            "they are not information."
        )
    return trusted


def build_bot(
    settings: Settings,
    *,
    embedder: Embeddings | None = None,
    store: ChunkStore | None = None,
    chat: OpenAIChat | None = None,
    reader: Reader | None = None,
) -> Bot:
    """Wire a :class:`Bot`: the one place where its parts are built.

    Parts passed in are used as given (a test's shared embedder, an eval's private store);
    the rest come from ``settings``: the embedder, the store, and the LLM when one is set.
    """
    if embedder is None:
        from bot.embeddings import build_embedder

        embedder = build_embedder(settings)
    if store is None:
        from bot.store import make_client, store_folder

        # Opening an embedded store may create it (tables, collections): two processes
        # doing that at once on a fresh folder collide, so it happens under the writers'
        # lock, once the folder is known to be usable. A server creates its own tables.
        opening: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        if not settings.chroma_host:
            store_folder(settings)
            opening = WriteLock(settings.data_dir, settings.write_lock_timeout).held()
        with opening:
            store = ChunkStore(make_client(settings), settings.collection,
                               settings.data_dir / "index")
    if chat is None and settings.llm_configured:
        from bot.llm import build_chat_model

        chat = OpenAIChat(build_chat_model(settings))
    if reader is None:
        reader = Reader()
    return Bot(settings, embedder, store, chat, reader)
