"""Run the whole benchmark: ``python -m bench`` (see bench/README.md)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.corpora import REPO, SQUAD_FILE, ensure_pydocs, squad_corpus
from bench.report import write_report

RESULTS = REPO / "bench" / "results"
# The baseline side runs the LangChain recipe; its packages come with the `bench` extra.
BASELINE_MODULES = ("langchain_chroma", "langchain_huggingface", "langchain_text_splitters")


# Vector instructions the int8 encoder's speed depends on: with VNNI or AMX an int8
# product is one instruction, with AVX2 alone it is several, so the int8 engine's lead over
# a float one differs from machine to machine.
INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def machine() -> dict[str, object]:
    """Core count, memory, CPU model and its int8-relevant instructions, noted beside the
    figures."""
    mem_kb = 0
    cpu = platform.processor()
    flags: set[str] = set()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not flags:
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1), "cpu": cpu,
        "cpu_flags": [f for f in INT8_FLAGS if f in flags],
        "python": platform.python_version(), "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the bot against the LangChain recipe.")
    parser.add_argument("--work", type=Path, default=REPO / ".data" / "bench",
                        help="Scratch folder for the stores (deleted and rebuilt).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where results are written.")
    parser.add_argument("--quick", action="store_true",
                        help="Smoke run: first Python-docs point only, 45 SQuAD questions.")
    parser.add_argument("--sequential", action="store_true",
                        help="Run ours and the baseline one after the other instead of "
                        "side by side.")
    parser.add_argument("--resume", action="store_true",
                        help="Keep the sides whose raw results are already in --out.")
    args = parser.parse_args()

    missing = [m for m in BASELINE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"the baseline needs {', '.join(missing)}: run `bash scripts/setup.sh bench` "
                 "(or pip install -e '.[bench]')")
    if not SQUAD_FILE.is_file():
        sys.exit(f"missing {SQUAD_FILE}: the shared folder must sit beside the repository")
    ensure_pydocs()
    args.work.mkdir(parents=True, exist_ok=True)
    squad_corpus(args.work)
    info = machine()
    # Export the ONNX graph here, so neither side's time or memory includes the one-off export.
    from bot.embeddings import default_model_path, export_onnx

    export_onnx(Path(default_model_path()), args.work / "models", quantize=True)

    raw = args.out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    extra = ["--pydocs", "0.012", "--squad-questions", "45"] if args.quick else []

    kept: list[str] = []

    def start(side: str) -> subprocess.Popen[bytes]:
        if args.resume and (raw / f"{side}.json").is_file():
            print(f"keeping {raw / f'{side}.json'}", flush=True)
            kept.append(side)
            return subprocess.Popen([sys.executable, "-c", ""])
        cmd = [sys.executable, "-m", "bench.sides", side, "--work", str(args.work),
               "--out", str(raw / f"{side}.json"), *extra]
        print("$", " ".join(cmd), flush=True)
        return subprocess.Popen(cmd, cwd=REPO)

    started = time.time()
    if start("ours-float").wait():
        sys.exit("the float reference run failed")
    procs = []
    for side in ("ours", "baseline"):
        procs.append(start(side))
        if args.sequential:
            procs[-1].wait()
    if any(p.wait() for p in procs):
        sys.exit("a benchmark side failed")
    info["load_average_at_end"] = os.getloadavg()
    info["wall_minutes"] = round((time.time() - started) / 60, 1)
    info["mode"] = "sequential" if args.sequential else "side by side"
    info["quick"] = args.quick
    info["resumed"] = bool(kept)
    info["resume_note"] = (
        f"{', '.join(kept)} kept from an earlier run; the other sides ran in this one, "
        "alone, so the load they saw may differ (see each side's wall time)."
    )
    sides = {s: json.loads((raw / f"{s}.json").read_text()) for s in
             ("ours", "ours-float", "baseline")}
    write_report(sides, info, args.out)
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
