"""The optional LLM-judge tier: claim-level faithfulness and answer relevance, repeated.

It calls any OpenAI-compatible endpoint (the bot's ``OPENAI_*`` settings). Verdicts of a
language model vary, so each run is repeated and reported as mean and spread. With an
endpoint configured the means can be gated like any metric (``judge_faithfulness``,
``judge_relevance`` in ``--fail-under`` or a thresholds file); without one such a bar misses
as unmeasured. Replies that cannot be parsed count as unmeasured.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from typing import Any

from bot.evals.harness import CaseResult, RunResult
from bot.evals.metrics import Summary
from bot.settings import Settings

CLAIMS_SYSTEM = """Split the answer into short, self-contained factual claims.
Reply with JSON only: {"claims": ["claim 1", "claim 2"]}"""
VERDICT_SYSTEM = """Decide whether the claim is fully supported by the passages alone.
Reply with JSON only: {"verdict": "supported"} or {"verdict": "unsupported"}"""
RELEVANCE_SYSTEM = """Rate how directly the answer addresses the question, from 1 (not at
all) to 5 (completely). Reply with JSON only: {"score": N}"""

Complete = Callable[[str, str], str]


class JudgeError(RuntimeError):
    """The judge endpoint is not configured or not reachable."""


def endpoint(settings: Settings) -> Complete:
    """A ``(system, user) -> reply`` function for the configured endpoint."""
    if not settings.llm_configured:
        raise JudgeError("--judge needs an OpenAI-compatible endpoint: set OPENAI_BASE_URL "
                         "(and OPENAI_API_KEY if it needs one)")
    try:
        from openai import OpenAI
    except ImportError as exc:
        raise JudgeError("--judge needs the openai package: pip install openai") from exc
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    client = OpenAI(api_key=key, base_url=settings.openai_base_url,
                    timeout=settings.llm_timeout, max_retries=1)

    def complete(system: str, user: str) -> str:
        try:
            reply = client.chat.completions.create(
                model=settings.openai_model, temperature=settings.llm_temperature,
                messages=[{"role": "system", "content": system},
                          {"role": "user", "content": user}],
            )
        except Exception as exc:
            # Some endpoints quote the key they were sent in their error messages.
            detail = str(exc).replace(key, "[redacted]") if len(key) >= 8 else str(exc)
            raise JudgeError(
                f"the judge endpoint failed: {type(exc).__name__}: {detail}"
            ) from exc
        content = reply.choices[0].message.content if reply.choices else None
        return content or ""

    return complete


def _json(reply: str) -> dict[str, Any] | None:
    match = re.search(r"\{.*\}", reply, re.DOTALL)
    if not match:
        return None
    try:
        obj = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def judge_case(result: CaseResult, complete: Complete) -> tuple[float | None, float | None]:
    """Faithfulness (share of claims supported by the cited text) and relevance (0..1)."""
    answer = result.answer
    if not answer or answer.get("refused"):
        return None, None
    text = answer["answer"]
    question = answer.get("standalone_question") or result.case.question
    passages = "\n\n".join(f"[{c['n']}] {c['text']}" for c in answer.get("citations", []))
    faithfulness: float | None = None
    parsed = _json(complete(CLAIMS_SYSTEM, f"Question: {question}\nAnswer: {text}"))
    claims = parsed.get("claims") if parsed else None
    if isinstance(claims, list) and claims and all(isinstance(c, str) for c in claims):
        verdicts = []
        for claim in claims:
            v = _json(complete(VERDICT_SYSTEM, f"Passages:\n{passages}\n\nClaim: {claim}"))
            verdict = str(v.get("verdict", "")).lower() if v else ""
            if verdict in ("supported", "unsupported"):
                verdicts.append(verdict == "supported")
        if verdicts:
            faithfulness = sum(verdicts) / len(verdicts)
    relevance: float | None = None
    r = _json(complete(RELEVANCE_SYSTEM, f"Question: {question}\nAnswer: {text}"))
    score = r.get("score") if r else None
    if isinstance(score, int | float) and 1 <= score <= 5:
        relevance = (float(score) - 1) / 4
    return faithfulness, relevance


def _stats(runs: list[list[float | None]]) -> dict[str, Any]:
    means = []
    for values in runs:
        got = [v for v in values if v is not None]
        means.append(sum(got) / len(got) if got else None)
    measured = [x for x in means if x is not None]
    return {
        "mean": statistics.fmean(measured) if measured else None,
        "spread": (max(measured) - min(measured)) if measured else 0.0,
        "stdev": statistics.pstdev(measured) if len(measured) > 1 else 0.0,
        "runs": means,
        "unmeasured": sum(v is None for values in runs for v in values),
    }


def judge_run(result: RunResult, complete: Complete, repeats: int = 3) -> dict[str, Any]:
    """Judge every answered case ``repeats`` times; mean and spread per column.

    The means also enter ``result.summaries`` as ``judge_faithfulness`` and
    ``judge_relevance``, so the gate can hold them to bars.
    """
    if repeats < 1:
        raise ValueError("judge repeats must be at least 1")
    out: dict[str, Any] = {"repeats": repeats}
    for column, cases in result.results.items():
        faith: list[list[float | None]] = []
        relevance: list[list[float | None]] = []
        for _ in range(repeats):
            scores = [judge_case(r, complete) for r in cases if r.answer and not
                      r.answer.get("refused")]
            faith.append([f for f, _ in scores])
            relevance.append([r for _, r in scores])
        out[column] = {"faithfulness": _stats(faith), "relevance": _stats(relevance)}
        for metric, runs in (("faithfulness", faith), ("relevance", relevance)):
            stats = out[column][metric]
            measured = sum(v is not None for v in runs[0]) if runs else 0
            result.summaries.setdefault(column, {})[f"judge_{metric}"] = Summary(
                stats["mean"], measured, (len(runs[0]) if runs else 0) - measured)
    return out
