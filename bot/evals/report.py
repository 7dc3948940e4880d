"""Reports of a run: a terminal table, a JSON file, and a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from bot.evals.harness import CaseResult, RunResult
from bot.evals.metrics import METRICS, Summary

HTML_ROWS = 2000


def _fmt(summary: Summary, key: str) -> str:
    if summary.value is None:
        return "—"
    value = f"{summary.value:.3f}"
    return value if key.startswith("latency_") else f"{value} ({summary.measured})"


def terminal_table(result: RunResult) -> str:
    """One row per metric, one column per configuration; (n) = cases measured."""
    names = [c.name for c in result.columns]
    rows = [["metric", *names]]
    for key in METRICS:
        rows.append([key, *(_fmt(result.summaries[n][key], key) for n in names)])
    for extra in _judge_rows(result):
        rows.append(extra)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ds = result.dataset
    head = (f"{ds.name} ({ds.kind}): {len(ds.cases)} of {ds.total_cases} cases, "
            f"top_k={result.top_k}; (n) = cases measured")
    passed = {n: sum(r.passed for r in result.results[n]) for n in names}
    foot = "cases passed: " + ", ".join(f"{n} {passed[n]}/{len(ds.cases)}" for n in names)
    return "\n".join([head, *lines, foot])


def _judge_rows(result: RunResult) -> list[list[str]]:
    if not result.judge:
        return []
    rows = []
    for metric in ("faithfulness", "relevance"):
        cells = [f"judge_{metric}"]
        for c in result.columns:
            stats = result.judge.get(c.name, {}).get(metric)
            cells.append("—" if not stats or stats["mean"] is None
                         else f"{stats['mean']:.3f} ±{stats['spread']:.3f}")
        rows.append(cells)
    return rows


def as_json(result: RunResult, command: str = "") -> dict[str, Any]:
    """Summary per column and every case with its answer, citations and retrieval."""
    return {
        "dataset": {"name": result.dataset.name, "kind": result.dataset.kind,
                    "cases": len(result.dataset.cases), "total_cases": result.dataset.total_cases},
        "command": command,
        "settings": result.settings,
        "ingest": result.ingest,
        "columns": [c.name for c in result.columns],
        "metrics": {k: {"label": label, "higher_is_better": up}
                    for k, (label, up) in METRICS.items()},
        "summary": {n: {k: s.as_dict() for k, s in summ.items()}
                    for n, summ in result.summaries.items()},
        "passed": {n: sum(r.passed for r in rs) for n, rs in result.results.items()},
        "judge": result.judge,
        "risk_coverage": result.curves,
        "cases": [r.as_dict() for rs in result.results.values() for r in rs],
    }


def write_reports(result: RunResult, out: Path, command: str = "") -> dict[str, Path]:
    """Write ``report.json`` and ``report.html`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "html": out / "report.html"}
    paths["json"].write_text(
        json.dumps(as_json(result, command), ensure_ascii=False, indent=1, allow_nan=False),
        "utf-8",
    )
    paths["html"].write_text(html_report(result, command), "utf-8")
    return paths


def plot_png(result: RunResult) -> bytes:
    """Latency distribution and the main answer metrics per column, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c.name for c in result.columns]
    fig, (left, right, curve) = plt.subplots(1, 3, figsize=(15, 3.8))
    for n in names:
        lat = [r.latency_s for r in result.results[n] if r.latency_s is not None]
        if lat:
            left.hist(lat, bins=30, alpha=0.55, label=n)
    left.set_title("latency per question (s)")
    left.set_xlabel("seconds")
    left.set_ylabel("questions")
    if len(names) > 1:
        left.legend(fontsize=8)
    keys = [k for k in ("hit@5", "mrr", "must_include", "gold_in_answer", "squad_f1",
                        "quote_exact", "support_independent", "correct_refusal",
                        "refusal_precision", "false_refusal")
            if any(result.summaries[n][k].value is not None for n in names)]
    width = 0.8 / max(len(names), 1)
    for i, n in enumerate(names):
        values = [result.summaries[n][k].value or 0.0 for k in keys]
        right.bar([x + i * width for x in range(len(keys))], values, width, label=n)
    right.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(keys))])
    right.set_xticklabels(keys, rotation=30, ha="right", fontsize=8)
    right.set_ylim(0, 1)
    right.set_title("metrics per configuration")
    right.legend(fontsize=8)
    for n in names:
        points = result.curves.get(n, {}).get("points", [])
        if points:
            curve.step([p["coverage"] for p in points], [p["risk"] for p in points],
                       where="post", marker=".", label=f"{n} (AURC "
                       f"{result.curves[n]['aurc']:.3f})")
    curve.set_title("risk-coverage (by confidence)")
    curve.set_xlabel("coverage (share of cases answered)")
    curve.set_ylabel("risk (answered wrongly)")
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1)
    curve.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;font-size:13px}th{background:#f3f3f3}.num{text-align:right}
tr.fail td:first-child{border-left:4px solid #c0392b}tr.pass td:first-child{border-left:4px
solid #27ae60}details{max-width:60em}.muted{color:#777}img{max-width:100%}
"""


def html_report(result: RunResult, command: str = "") -> str:
    """A self-contained page: summary, plot, and per-case rows with failures first."""
    e = html.escape
    names = [c.name for c in result.columns]
    ds = result.dataset
    summary_rows = "".join(
        f"<tr><td>{e(key)}</td><td class=muted>{e(METRICS[key][0])}</td>"
        + "".join(f"<td class=num>{e(_fmt(result.summaries[n][key], key))}</td>" for n in names)
        + "</tr>"
        for key in METRICS
    ) + "".join(
        "<tr>" + f"<td>{e(r[0])}</td><td class=muted>LLM judge, mean ± spread</td>"
        + "".join(f"<td class=num>{e(c)}</td>" for c in r[1:]) + "</tr>"
        for r in _judge_rows(result)
    )
    image = base64.b64encode(plot_png(result)).decode("ascii")
    risk_rows = "".join(_risk_row(result, n) for n in names)
    ordered = sorted(
        (r for rs in result.results.values() for r in rs),
        key=lambda r: (r.passed, names.index(r.column)),
    )
    shown = ordered[:HTML_ROWS]
    rows = "".join(_case_row(r) for r in shown)
    more = (f"<p class=muted>{len(ordered) - len(shown)} more cases are in report.json.</p>"
            if len(ordered) > len(shown) else "")
    failed = sum(not r.passed for r in ordered)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Eval report: {e(ds.name)}</title><style>{_STYLE}</style></head><body>
<h1>Eval report: {e(ds.name)}</h1>
<p>{len(ds.cases)} of {ds.total_cases} cases ({e(ds.kind)}), top_k={result.top_k};
{failed} case runs failed. Corpus: {e(result.ingest)}.</p>
<p class=muted>Command: <code>{e(command)}</code></p>
<table><tr><th>metric</th><th>meaning</th>{''.join(f'<th>{e(n)}</th>' for n in names)}</tr>
{summary_rows}</table>
<p class=muted>(n) = cases on which the metric could be measured; the others count as
unmeasured and do not enter the mean.</p>
<h2>Risk and refusals</h2>
<table><tr><th>configuration</th><th>AURC</th><th>best possible AURC</th>
<th>refusal precision</th><th>refusal recall</th><th>cases with an estimated confidence</th>
</tr>{risk_rows}</table>
<p class=muted>Risk = answered wrongly: an unanswerable case answered, or an answerable one
answered incorrectly (must_include, or gold answer in the answer on SQuAD), among the cases
answered when only those at or above a confidence are. Without an estimate, an answer counts
as confidence 1 and a refusal as 0.</p>
<img alt="latency, metrics and risk-coverage" src="data:image/png;base64,{image}">
<h2>Cases (failures first)</h2>
<table><tr><th>case</th><th>result</th><th>question</th><th>answer</th><th>metrics</th></tr>
{rows}</table>{more}
</body></html>
"""


def _risk_row(result: RunResult, name: str) -> str:
    e = html.escape
    curve = result.curves.get(name, {})
    summary = result.summaries[name]

    def num(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    return (f"<tr><td>{e(name)}</td><td class=num>{num(curve.get('aurc'))}</td>"
            f"<td class=num>{num(curve.get('aurc_optimal'))}</td>"
            f"<td class=num>{e(_fmt(summary['refusal_precision'], 'refusal_precision'))}</td>"
            f"<td class=num>{e(_fmt(summary['correct_refusal'], 'correct_refusal'))}</td>"
            f"<td class=num>{curve.get('confidence_estimated', 0)} of "
            f"{len(result.results[name])}</td></tr>")


def _case_row(r: CaseResult) -> str:
    e = html.escape
    status = "pass" if r.passed else "fail"
    answer = r.answer or {}
    question = e(r.case.question)
    standalone = answer.get("standalone_question")
    if standalone and standalone != r.case.question:
        question += f"<br><span class=muted>understood as: {e(standalone)}</span>"
    if r.case.history:
        question += f"<br><span class=muted>after {len(r.case.history)} earlier turns</span>"
    cites = "".join(
        f"<li>[{c['n']}] {e(Path(c['source']).name)} ({e(c['location'])}): {e(c['text'])}</li>"
        for c in answer.get("citations", [])
    )
    retrieved = "".join(
        f"<li>{e(Path(s['source']).name)} score={s['score']:.4f}: {e(s['text'][:300])}</li>"
        for s in answer.get("retrieved", [])
    )
    expected = e(r.case.reference or "; ".join(" / ".join(g) for g in r.case.must_include))
    body = e(answer.get("answer", r.error))
    if cites:
        body += f"<details><summary>citations</summary><ol>{cites}</ol></details>"
    if retrieved:
        body += f"<details><summary>retrieved</summary><ol>{retrieved}</ol></details>"
    if expected:
        body += f"<br><span class=muted>expected: {expected}</span>"
    shown = ", ".join(f"{k}={v:.2f}" for k, v in r.metrics.items() if v is not None)
    return (f"<tr class={status}><td>{e(r.case.id)}<br><span class=muted>{e(r.column)}</span></td>"
            f"<td>{status}<br>{'<br>'.join(e(f) for f in r.failures)}</td><td>{question}</td>"
            f"<td>{body}</td><td class=muted>{e(shown)}</td></tr>")
