"""The benchmark's corpora and fixed question sets."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SQUAD_FILE = REPO.parent / "shared" / "datasets" / "squad2-dev-split" / "squad2-open.json"
PYDOCS = Path("/usr/share/doc/python3.11/html")
CORPUS = REPO / "corpus"

# Latency points, as fractions of the Python docs' bytes (files in a fixed shuffled order):
# about 1k and 10k stored chunks, then everything.
STAGES = (0.012, 0.115, 1.0)

# Fixed questions for the latency runs over the Python documentation. They are timed, not
# graded: the documentation has no gold answers.
PYDOCS_QUESTIONS = [
    "How do I open a file for appending text?",
    "What does functools.lru_cache do?",
    "How can I sort a list of dictionaries by a key?",
    "What is the difference between a list and a tuple?",
    "How do I create a virtual environment?",
    "What does the with statement do?",
    "How do I read a CSV file?",
    "What is a generator expression?",
    "How do I start a subprocess and capture its output?",
    "What does asyncio.gather return?",
    "How are default argument values evaluated?",
    "What is the global interpreter lock?",
    "How do I parse command line arguments?",
    "What does the walrus operator do?",
    "How do I format a float with two decimals?",
    "What exceptions can json.loads raise?",
    "How do dataclasses generate __init__?",
    "What is the purpose of __slots__?",
    "How do I make an HTTP request with urllib?",
    "What does pathlib.Path.glob return?",
    "How do I measure the execution time of small code snippets?",
    "What is the difference between str and bytes?",
    "How do I define an abstract base class?",
    "What does the logging module's basicConfig do?",
    "How can a thread pool run functions concurrently?",
    "What is a context variable?",
    "How do I compare two floating point numbers for approximate equality?",
    "What does zip do with iterables of different lengths?",
    "How do I copy a directory tree?",
    "What is structural pattern matching?",
    "How do I get the current date and time in UTC?",
    "What does the enumerate function return?",
    "How are keyword-only arguments declared?",
    "What is a weak reference?",
    "How do I serialize an object with pickle?",
    "What does the nonlocal statement do?",
    "How do I write unit tests with unittest?",
    "What is the difference between deepcopy and copy?",
    "How do I read environment variables?",
    "What are type hints for callables?",
]


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD question over an article file."""

    question: str
    article: str
    answers: tuple[str, ...]
    impossible: bool


def squad_corpus(work: Path) -> Path:
    """SQuAD articles written as one text file each (paragraphs separated by blank lines)."""
    data = json.loads(SQUAD_FILE.read_text("utf-8"))
    folder = work / "squad"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for article in data["data"]:
        text = "\n\n".join(p["context"].strip() for p in article["paragraphs"]) + "\n"
        (folder / f"{_slug(article['title'])}.txt").write_text(text, "utf-8")
    return folder


def squad_questions(answerable: int = 300, impossible: int = 100) -> list[SquadQuestion]:
    """A fixed, evenly spread sample of answerable and unanswerable questions."""
    data = json.loads(SQUAD_FILE.read_text("utf-8"))
    pos: list[SquadQuestion] = []
    neg: list[SquadQuestion] = []
    for article in data["data"]:
        name = f"{_slug(article['title'])}.txt"
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                q = SquadQuestion(qa["question"].strip(), name, answers, qa["is_impossible"])
                (neg if q.impossible else pos).append(q)
    return _spread(pos, answerable) + _spread(neg, impossible)


def _spread(items: list[SquadQuestion], n: int) -> list[SquadQuestion]:
    if n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def ensure_pydocs() -> Path:
    """The Python 3.11 HTML documentation, installed from Debian's package if missing."""
    if not PYDOCS.is_dir():
        print("installing Debian's python3.11-doc ...", flush=True)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [*sudo, "apt-get", "install", "-y", "python3.11-doc"]
        if subprocess.run(install, env=env).returncode:
            subprocess.run([*sudo, "apt-get", "update"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
    return PYDOCS


def pydocs_stages(limit: float = 1.0) -> list[list[Path]]:
    """The HTML pages in a fixed shuffled order, cut into the latency stages.

    Each stage lists the files added on top of the previous stages.
    """
    files = sorted(p for p in PYDOCS.rglob("*.html") if not _hidden(p.relative_to(PYDOCS)))
    random.Random(0).shuffle(files)
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes)
    stages: list[list[Path]] = []
    start, acc = 0, 0
    for frac in STAGES:
        if frac > limit:
            break
        end = start
        while end < len(files) and (acc + sizes[end] <= frac * total or end == start):
            acc += sizes[end]
            end += 1
        if frac >= 1.0:
            end = len(files)
        stages.append(files[start:end])
        start = end
    return stages


def _hidden(rel: Path) -> bool:
    # Sphinx's _static, _sources (the reST text) and _images are not documentation pages.
    return any(part.startswith(("_", ".")) for part in rel.parts)


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "article"
