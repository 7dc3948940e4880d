"""The ``bot`` command: a thin terminal front end over :class:`bot.service.Bot`."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

from bot.guard import QuestionError
from bot.settings import Settings, SettingsError, load_settings, origins, unknown_variables
from bot.store import StoreError

if TYPE_CHECKING:
    from bot.models import Answer
    from bot.service import Bot

app = typer.Typer(
    help="Grounded, cited question answering over your documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: object, code: int = 1) -> NoReturn:
    """Print ``error: message`` in red on stderr and exit with ``code``."""
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


BackendChoice = Literal["extractive", "openai"]


def _settings(**overrides: Any) -> Settings:
    """Settings with the flags given; a typo'd ``BOT_*`` variable is a warning, a bad value
    one line per variable and exit code 2."""
    for warning in unknown_variables():
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        for line in str(exc).splitlines():
            typer.secho(f"error: invalid setting {line}", fg="red", err=True)
        raise typer.Exit(2) from None
    from bot.logs import to_debug_log

    to_debug_log(settings.data_dir)
    return settings


def _show(answer: Answer, prefix: str = "") -> None:
    """Formatted in a terminal, plain text when piped."""
    if sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False).print(prefix, answer.as_rich(), sep="", end="\n")
    else:
        typer.echo(prefix + answer.as_text())


def _bot(settings: Settings) -> Bot:
    from bot.service import build_bot

    try:
        return build_bot(settings)
    except (StoreError, RuntimeError) as exc:
        _fail(exc)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    prune: Annotated[bool, typer.Option(help="Remove stored files that are gone from PATHS.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add or update documents; unchanged files are skipped by content hash."""
    from bot.ingest import unchanged_report
    from bot.progress import Progress

    settings = _settings()
    bar = Progress("file", quiet=as_json)

    def progress(done: int, total: int, name: str) -> None:
        bar.update(done, total, Path(name).name if name else "")

    try:
        # Files all unchanged since the last ingest: answered without opening the store.
        report = unchanged_report(settings, paths, prune=prune, progress=progress) \
            or _bot(settings).ingest(paths, prune=prune, progress=progress)
    except StoreError as exc:
        _fail(exc)
    finally:
        bar.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for f in report.files:
            if f.status in {"failed", "skipped"}:
                color = "red" if f.status == "failed" else "yellow"
                typer.secho(f"{f.status}: {f.source}: {f.message}", fg=color, err=True)
            elif f.status != "unchanged":
                typer.echo(f"{f.status}: {f.source} ({f.chunks} chunks, {f.embedded} embedded)")
                if f.message:
                    typer.secho(f"warning: {f.source}: {f.message}", fg="yellow", err=True)
        typer.echo(report.summary())
        for hint in report.hints():
            typer.secho(f"hint: {hint}", fg="yellow", err=True)
    if report.nothing_ingestible:
        from bot.loaders import SUPPORTED_SUFFIXES

        _fail("nothing was ingested: no file under the given paths could be read "
              f"(supported: {' '.join(SUPPORTED_SUFFIXES)})")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    backend: Annotated[BackendChoice | None, typer.Option(help="extractive or openai.")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=50, help="Passages to retrieve.")]
    = None,
) -> None:
    """Ask one question and print the cited answer."""
    bot = _bot(_settings(answer_backend=backend))
    try:
        answer = bot.ask(question, top_k=top_k)
    except (QuestionError, ValueError, StoreError) as exc:
        _fail(exc, 2 if isinstance(exc, ValueError) else 1)
    if as_json:
        typer.echo(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2))
    else:
        _show(answer)


@app.command()
def chat(
    backend: Annotated[BackendChoice | None, typer.Option(help="extractive or openai.")] = None,
) -> None:
    """A conversation in the terminal; follow-up questions use the earlier turns."""
    bot = _bot(_settings(answer_backend=backend))
    history: list[dict[str, str]] = []
    typer.echo("Ask about your documents. An empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            break
        if not question:
            break
        try:
            answer = bot.ask(question, history)
        except (QuestionError, ValueError, StoreError) as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            continue
        if answer.standalone_question != answer.question:
            typer.secho(f"(understood as: {answer.standalone_question})", dim=True)
        _show(answer, "bot> ")
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]


@app.command()
def sources(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the indexed documents."""
    bot = _bot(_settings())
    items = bot.sources()
    if as_json:
        typer.echo(json.dumps([s.as_dict() for s in items], indent=2))
        return
    if not items:
        typer.echo("No documents indexed yet. Run: bot ingest PATH")
    for s in items:
        typer.echo(f"{s.chunks:5d} chunks  {s.name}")


@app.command()
def config() -> None:
    """Print the effective settings and where each came from (default, .env, environment)."""
    _settings()
    rows = origins()
    width = max(len(r.variable) for r in rows)
    for row in rows:
        typer.echo(f"{row.variable:<{width}}  {row.value!s:<30}  {row.source}")


@app.command()
def remove(source: Annotated[str, typer.Argument(
        help="A document as `bot sources` shows it: its name, or a path.")]) -> None:
    """Remove one document from the store."""
    bot = _bot(_settings())
    found = bot.find_sources(source)
    if len(found) > 1:
        _fail(f"{source} names {len(found)} documents; give more of the path: "
              + ", ".join(found))
    if not found or not bot.remove(found[0]):
        _fail(f"{source} is not indexed (`bot sources` lists what is)")
    typer.echo(f"removed: {found[0]}")


@app.command()
def web(
    host: Annotated[str | None, typer.Option(help="Bind address (BOT_WEB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (BOT_WEB_PORT).")] = None,
) -> None:
    """Serve the browser chat (http://127.0.0.1:7860 by default)."""
    from bot.web import serve

    settings = _settings(web_host=host, web_port=port)
    try:
        serve(_bot(settings), settings, announce=typer.echo)
    except OSError as exc:
        typer.secho(
            f"error: cannot serve on {settings.web_host}:{settings.web_port} ({exc}); "
            "choose another port with --port or BOT_WEB_PORT",
            fg="red", err=True,
        )
        raise typer.Exit(1) from exc


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (BOT_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (BOT_API_PORT).")] = None,
) -> None:
    """Serve the HTTP API: OpenAI-compatible /v1/chat/completions, /v1/ask, docs at /docs."""
    from bot.api import serve

    settings = _settings(api_host=host, api_port=port)
    try:
        serve(_bot(settings), settings, announce=typer.echo)
    except OSError as exc:
        _fail(f"cannot serve on {settings.api_host}:{settings.api_port} ({exc}); "
              "choose another port with --port or BOT_API_PORT")


@app.command()
def mcp() -> None:
    """Serve the documents to MCP clients over stdio (tools: ask, search)."""
    from bot.mcpserver import serve

    try:
        serve(_bot(_settings()))
    except StoreError as exc:
        _fail(exc)


@app.command()
def doctor(
    repair: Annotated[bool, typer.Option(help="Fix what the check finds.")] = False,
) -> None:
    """Check the store: passages without vectors, vectors without passages, broken files."""
    from bot import doctor as checkup

    bot = _bot(_settings())
    health = checkup.check(bot)
    for line in health.lines():
        typer.echo(line)
    if health.ok:
        typer.echo("the store is consistent")
        return
    if not repair:
        _fail("the store is inconsistent; run `bot doctor --repair` to fix it")
    for line in checkup.repair(bot, health):
        typer.echo(line)
    if not checkup.check(bot).ok:
        _fail("the store is still inconsistent after the repair")
    typer.echo("the store is consistent")


feedback_app = typer.Typer(help="Votes people gave answers in the web app.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path, typer.Argument(help="JSONL file to write (eval case format).")],
    vote: Annotated[str | None, typer.Option(help="Only 'up' or only 'down' votes.")] = None,
) -> None:
    """Write feedback as eval cases for `bot eval`; thumbs-down become regression cases."""
    from bot.feedback import FeedbackStore

    if vote not in (None, "up", "down"):
        _fail("--vote must be 'up' or 'down'", 2)
    store = FeedbackStore.in_data_dir(_settings().data_dir)
    count, review = store.export(out, vote)  # type: ignore[arg-type]
    typer.echo(f"wrote {count} cases to {out}")
    if review:
        typer.secho(
            f"skipped {review} thumbs-down without a note: a wrong answer is not an "
            "unanswerable question; type the expected answer under the vote in the chat to "
            "export it", fg="yellow", err=True)


@app.command()
def slack(
    mode: Annotated[str | None, typer.Option(help="socket, http or auto (BOT_SLACK_MODE).")]
    = None,
    host: Annotated[str | None, typer.Option(help="HTTP mode bind address (BOT_SLACK_HOST).")]
    = None,
    port: Annotated[int | None, typer.Option(help="HTTP mode port (BOT_SLACK_PORT).")] = None,
) -> None:
    """Answer questions in Slack threads (setup: docs/slack.md)."""
    from bot.slack import SlackSetupError, resolve_mode, run

    settings = _settings(slack_mode=mode, slack_host=host, slack_port=port)
    try:
        resolve_mode(settings)  # missing tokens fail here, before the model loads
        run(_bot(settings), settings)
    except SlackSetupError as exc:
        _fail(exc, 2)


@app.command("eval")
def eval_(
    dataset: Annotated[Path, typer.Argument(help="A JSONL case file or a SQuAD 2.0 JSON file.")],
    corpus: Annotated[list[Path] | None, typer.Option(
        help="Documents a JSONL set is asked against (ingested into a temporary store).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Sample this many cases.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --limit sample.")] = 0,
    retrieval: Annotated[str | None, typer.Option(
        help="Retrieval modes to compare, comma-separated: hybrid,dense,lexical.")] = None,
    backend: Annotated[str | None, typer.Option(
        help="Answer backends to compare, comma-separated: extractive,openai.")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="Passages per answer.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for report.json and report.html (default: evals/reports/NAME).")] = None,
    fail_under: Annotated[list[str] | None, typer.Option(
        help="METRIC=VALUE: exit 1 when the metric is below VALUE (repeatable).")] = None,
    fail_over: Annotated[list[str] | None, typer.Option(
        help="METRIC=VALUE: exit 1 when a lower-is-better metric is above VALUE.")] = None,
    thresholds: Annotated[Path | None, typer.Option(
        help="TOML file of bars; the table named after the dataset file applies.")] = None,
    judge: Annotated[bool, typer.Option(
        help="Add the LLM-judge tier (needs OPENAI_BASE_URL); thresholds may gate on "
        "judge_faithfulness and judge_relevance.")] = False,
    judge_repeats: Annotated[int, typer.Option(min=1, help="Judge runs to average.")] = 3,
) -> None:
    """Evaluate answers on a dataset: retrieval, answers, citations, refusals, latency."""
    import shlex
    import tempfile

    from bot.evals import gate, harness, report
    from bot.evals import judge as judging
    from bot.evals.datasets import DatasetError, load_dataset

    settings = _settings(top_k=top_k)
    try:
        bars = [gate.parse_bar(b) for b in fail_under or []]
        bars += [gate.parse_bar(b, floor=False) for b in fail_over or []]
        if thresholds is not None:
            bars = gate.load_thresholds(thresholds, dataset.stem) + bars
        columns = harness.parse_columns(retrieval, backend, settings)
        complete = judging.endpoint(settings) if judge else None
    except (ValueError, judging.JudgeError) as exc:
        _fail(exc, 2)
    from bot.progress import Progress

    bar = Progress("question")

    def progress(column: str, done: int, total: int) -> None:
        bar.update(done, total, column)

    with tempfile.TemporaryDirectory(prefix="bot-eval-docs-") as docs:
        try:
            data = load_dataset(dataset, list(corpus or []), Path(docs), limit, seed)
            result = harness.run(data, settings, columns, progress=progress)
        except (DatasetError, ValueError, RuntimeError) as exc:
            _fail(exc, 2)
        finally:
            bar.close()
    if complete is not None:
        try:
            result.judge = judging.judge_run(result, complete, judge_repeats)
        except judging.JudgeError as exc:
            typer.secho(f"warning: judge tier skipped: {exc}", fg="yellow", err=True)
    command = shlex.join(["bot", "eval", *sys.argv[2:]])
    paths = report.write_reports(result, out or Path("evals") / "reports" / data.name, command)
    typer.echo(report.terminal_table(result))
    typer.echo(f"reports: {paths['json']}  {paths['html']}")
    misses = gate.check(bars, result.summaries)
    for miss in misses:
        typer.secho(f"FAIL {miss}", fg="red", err=True)
    if misses:
        raise typer.Exit(1)
    if bars:
        typer.echo(f"all {len(bars)} bars met")


@app.command()
def train(
    datasets: Annotated[list[str] | None, typer.Argument(
        help="SQuAD 2.0 JSON files, or JSONL case files as CASES.jsonl=CORPUS_DIR. Default: "
        "the shared SQuAD splits and evals/datasets/*-train.")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the model artifact.")]
    = Path("bot") / "evidence-model.json",
    seed: Annotated[int, typer.Option(help="Seed of every fitted model.")] = 0,
    folds: Annotated[int, typer.Option(min=2, help="Validation folds (whole articles or "
                                       "documents held out).")] = 5,
    refusal_rate: Annotated[float, typer.Option(
        min=0.0, max=0.5, help="Share of answerable held-out questions the threshold may "
        "refuse.")] = 0.10,
    reader: Annotated[bool, typer.Option(
        help="Also fine-tune the cross-encoder reader that rereads the best candidates "
        "(about 50 minutes on 2 cores) and write it into reader-model/ beside the artifact. "
        "Off by default: on the default data it did not beat the linear model at equal "
        "answer length (evals/README.md).")] = False,
    cache: Annotated[Path | None, typer.Option(
        help="Keep each dataset's collected features in this file; a dataset whose files "
        "and feature names are unchanged is not asked again (for refitting after a change "
        "that leaves how features are computed alone).")] = None,
) -> None:
    """Fit the evidence scorer from data and write its artifact with validation figures."""
    from bot.embeddings import build_embedder
    from bot.reader_training import Recipe
    from bot.settings import PROJECT_DIR
    from bot.training import default_datasets
    from bot.training import train as fit

    specs: list[tuple[Path, Path | None]] = []
    for item in datasets or []:
        path, _, corpus = item.partition("=")
        specs.append((Path(path), Path(corpus) if corpus else None))
    specs = specs or default_datasets(PROJECT_DIR)
    for needed in (p for spec in specs for p in spec):
        if needed is not None and not needed.exists():
            typer.secho(f"error: {needed}: no such file or folder", fg="red", err=True)
            raise typer.Exit(2)
    settings = _settings()
    artifact = fit(specs, out, settings, build_embedder(settings), seed=seed, folds=folds,
                   refusal_rate=refusal_rate, progress=lambda m: typer.echo(m, err=True),
                   cache=cache, reader=Recipe() if reader else None)
    typer.echo(json.dumps(artifact["validation"], indent=1))
    typer.echo(f"model written to {out}")


def main() -> None:
    """Entry point of the ``bot`` script."""
    try:
        app()
    except StoreError as exc:
        # Any command: a bad data folder, a damaged store or a full disk is one line.
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        typer.secho(f"error: no space left on the disk ({exc.filename or 'write failed'}); "
                    "free some space, or set BOT_DATA_DIR to a folder on another disk",
                    fg="red", err=True)
        sys.exit(1)
