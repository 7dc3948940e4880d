"""Turn the sides' raw JSON into ``results.md``, ``latency.png`` and ``bench.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


def targets(s: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(target, measured, detail, met) for each goal of the benchmark."""
    ours, base, flt = s["ours"], s["baseline"], s["ours-float"]
    rows = []
    if "pydocs" in ours and "pydocs" in base:
        oc, bc = ours["pydocs"]["cold"], base["pydocs"]["cold"]
        r = _ratio(oc["chunks_per_s"], bc["chunks_per_s"])
        rows.append(("Cold ingest >= 2x baseline chunks/s (Python docs)", f"{r}x",
                     f"MB of source/s: {_ratio(oc['mb_per_s'], bc['mb_per_s'])}x", r >= 2))
        speed = _ratio(oc["seconds"], ours["pydocs"]["reingest_s"])
        rows.append(("Unchanged re-ingest >= 50x faster than cold", f"{speed}x",
                     f"{ours['pydocs']['reingest_s']} s vs {oc['seconds']} s", speed >= 50))
        last = ours["pydocs"]["points"][-1]
        rp95, ep95 = last["retrieval_ms"]["p95"], last["e2e_ms"]["p95"]
        floor = last["embed_ms"]["p95"]
        rows.append(("Retrieval p95 <= 50 ms (full Python docs)", f"{rp95} ms",
                     f"query-embedding floor p95 {floor} ms", rp95 <= 50))
        rows.append(("End-to-end answer p95 <= 150 ms (full Python docs)", f"{ep95} ms",
                     f"query-embedding floor p95 {floor} ms", ep95 <= 150))
    d = round(ours["squad"]["hit_at_5"] - base["squad"]["hit_at_5"], 2)
    rows.append(("SQuAD hit@5 >= baseline + 5 points", f"{d:+} points",
                 f"{ours['squad']['hit_at_5']} vs {base['squad']['hit_at_5']}", d >= 5))
    q = round(ours["squad"]["hit_at_5"] - flt["squad"]["hit_at_5"], 2)
    rows.append(("int8 embeddings within 1 point of the float model's hit@5", f"{q:+} points",
                 f"{ours['squad']['hit_at_5']} vs {flt['squad']['hit_at_5']}", abs(q) <= 1))
    return rows


def _ms(d: dict[str, float] | None) -> str:
    return f"{d['p50']} / {d['p95']}" if d else "n/a"


def markdown(s: dict[str, Any], info: dict[str, Any]) -> str:
    """The results page."""
    ours, base, flt = s["ours"], s["baseline"], s["ours-float"]
    out = ["# Benchmark results", ""]
    load0 = tuple(round(x, 1) for x in info["load_average_at_start"])
    load1 = tuple(round(x, 1) for x in info["load_average_at_end"])
    machine = (f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB "
               f"memory, Python {info['python']}.")
    if info.get("resumed"):
        out.append(f"{machine} The machine was shared with other work. Resumed run: "
                   f"{info.get('resume_note', '')} Each side's wall time is in bench.json.")
    else:
        out.append(
            f"{machine} Load average {load0} at start, {load1} at end: the machine was "
            f"shared, so absolute times are noisy; ours and the baseline ran {info['mode']} "
            f"in the same run ({info['wall_minutes']} min), so ratios are the figures to read."
        )
    if info.get("quick"):
        out.append("**Quick smoke run, not the full benchmark.**")
    out += ["", f"Ours: `BOT_EMBEDDING_BACKEND={ours.get('embedding_backend')}`, default "
            "settings otherwise (hybrid retrieval, extractive answers). Baseline: "
            "RecursiveCharacterTextSplitter(1000, 200), Chroma.from_documents with "
            "HuggingFaceEmbeddings on the same MiniLM folder, similarity_search(k=4).", ""]
    out += ["## Targets", "", "| target | measured | detail | met |", "|---|---|---|---|"]
    out += [f"| {t} | {m} | {d} | {'yes' if ok else '**no**'} |" for t, m, d, ok in targets(s)]
    out += ["", "## Ingest", "",
            "| corpus | side | chunks | seconds | chunks/s | MB source/s | unchanged re-ingest s |",
            "|---|---|---|---|---|---|---|"]
    for name in ("corpus", "squad", "pydocs"):
        for label, side in (("ours (int8)", ours), ("ours (float)", flt), ("baseline", base)):
            part = side.get(name)
            if not part:
                continue
            ing = part.get("ingest") or part.get("cold")
            again = part.get("reingest_s", "n/a (recipe re-embeds everything)")
            out.append(f"| {name} | {label} | {ing['chunks']} | {ing['seconds']} | "
                       f"{ing['chunks_per_s']} | {ing['mb_per_s']} | {again} |")
    out += ["", "## SQuAD 2.0 (301 paragraphs in 8 articles)", "",
            "| side | hit@5 | answer | unanswerable refused | answer p50 / p95 ms |",
            "|---|---|---|---|---|"]
    for label, side in (("ours (int8)", ours), ("ours (float)", flt)):
        q = side["squad"]
        out.append(f"| {label} | {q['hit_at_5']} | {q['answer_contains_gold']} % of extractive "
                   f"answers hold a gold answer | {q['refused_unanswerable']} % | "
                   f"{_ms(q['e2e_ms'])} |")
    q = base["squad"]
    out.append(f"| baseline | {q['hit_at_5']} | {q['answer_in_context_k4']} % of k=4 contexts "
               f"hold a gold answer (no answer step offline) | 0 % (no refusal) | "
               f"retrieval only {_ms(q['retrieval_ms'])} |")
    out += ["", f"Questions: {ours['squad']['questions']} answerable, "
            f"{ours['squad']['impossible']} unanswerable, spread evenly over the file. A hit is a "
            "top-5 passage from the right article that holds a gold answer.", ""]
    if "pydocs" in ours:
        out += ["## Latency against corpus size (Python 3.11 docs, 40 fixed questions)", "",
                "ms, p50 / p95; every query embedded afresh (cache cleared).", "",
                "| side | pages | stored chunks | query embedding | retrieval | end-to-end answer "
                "| first query after ingest s |", "|---|---|---|---|---|---|---|"]
        for label, side in (("ours", ours), ("baseline", base)):
            for p in side.get("pydocs", {}).get("points", []):
                out.append(f"| {label} | {p['files']} | {p['stored_chunks']} | "
                           f"{_ms(p['embed_ms'])} | {_ms(p['retrieval_ms'])} | "
                           f"{_ms(p.get('e2e_ms'))} | {p.get('first_query_s', 'n/a')} |")
        out += ["", "![latency against corpus size](latency.png)", ""]
    out += ["## Resources", "", "| side | peak RSS MB | index on disk MB (Python docs) | "
            "model load s |", "|---|---|---|---|"]
    for label, side in (("ours (int8)", ours), ("ours (float, SQuAD only)", flt),
                        ("baseline", base)):
        out.append(f"| {label} | {side['peak_rss_mb']} | "
                   f"{side.get('pydocs', {}).get('index_mb', 'n/a')} | {side['model_load_s']} |")
    return "\n".join(out) + "\n"


def plot(s: dict[str, Any], path: Path) -> None:
    """Latency p95 against stored chunks, for both sides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [("ours", "retrieval_ms", "ours retrieval", "C0", "-"),
              ("ours", "e2e_ms", "ours end-to-end answer", "C0", "--"),
              ("ours", "embed_ms", "ours query embedding (floor)", "C0", ":"),
              ("baseline", "retrieval_ms", "baseline similarity_search", "C1", "-"),
              ("baseline", "embed_ms", "baseline query embedding", "C1", ":")]
    for side, key, label, color, style in series:
        pts = s[side].get("pydocs", {}).get("points", [])
        if pts:
            ax.plot([p["stored_chunks"] for p in pts], [p[key]["p95"] for p in pts],
                    marker="o", color=color, linestyle=style, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the store (log)")
    ax.set_ylabel("p95 latency, ms")
    ax.set_title("Latency against corpus size (Python 3.11 docs)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(sides: dict[str, Any], info: dict[str, Any], out: Path) -> None:
    """Write ``bench.json``, ``results.md`` and ``latency.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(
        json.dumps({"machine": info, "sides": sides,
                    "targets": [dict(zip(("target", "measured", "detail", "met"), t,
                                         strict=True)) for t in targets(sides)]},
                   indent=2), "utf-8")
    (out / "results.md").write_text(markdown(sides, info), "utf-8")
    plot(sides, out / "latency.png")
