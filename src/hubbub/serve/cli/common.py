"""The ``hubbub`` command line: a thin layer over hubbub.api (same verbs, same results)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from hubbub import __version__
from hubbub.api import EXPORT_FORMATS, Hubbub, _lists_as_json
from hubbub.errors import UserError
from hubbub.eval.report import TASKS as EVAL_TASKS
from hubbub.eval.report import report_paths
from hubbub.ingest.importer import ImportSummary
from hubbub.query import QueryError
from hubbub.sources.registry import get_source
from hubbub.store.workspace import ENV_WORKSPACE, WorkspaceError, default_path

app = typer.Typer(
    name="hubbub",
    help="Analyse public opinion in public social-media data. Workspace: --workspace or $HUBBUB_WORKSPACE.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
quarantine_app = typer.Typer(help="List quarantined records, or retry them after a mapping fix.",
                             invoke_without_command=True)
app.add_typer(quarantine_app, name="quarantine")

# Not a terminal (a pipe, a log, CI): a fixed width wide enough for the tables.
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, highlight=False, soft_wrap=True)
STATE: dict[str, Any] = {"workspace": None, "quiet": False}

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help=f"Workspace folder (default ./hubbub-data or ${ENV_WORKSPACE}).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]
ChartOpt = Annotated[Path | None, typer.Option("--chart", help="Write a chart (.png or .svg).")]
DatasetOpt = Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset.")]
SaveOpt = Annotated[bool, typer.Option(
    "--save", help="Record the run's provenance in the workspace (`hubbub runs`); without it the workspace is "
                   "only read.")]
EnrichmentOpt = Annotated[str | None, typer.Option(
    "--enrichment", "-e", metavar="STEPS",
    help="Enrichment columns: all (default: every step that ran, but the embedding), none, or steps such as "
         "lang,sentiment,topic (docs/schema.md).", show_default=False)]


def _version(value: bool) -> None:
    if value:
        out.print(__version__)
        raise typer.Exit()


@app.callback()
def _main(
    workspace: WorkspaceOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or decoration (for scripts).")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_version)] = False,
) -> None:
    STATE["workspace"] = workspace
    STATE["quiet"] = quiet


def _ws(workspace: Path | None) -> Path:
    return workspace or STATE["workspace"] or default_path()


def _open(workspace: Path | None, read_only: bool = False, save_runs: bool = False) -> Hubbub:
    try:
        return Hubbub(_ws(workspace), read_only=read_only and not save_runs, save_runs=save_runs)
    except WorkspaceError as exc:
        _fail(str(exc))


def _fail(msg: str, code: int = 2) -> NoReturn:
    err.print(Text(f"error: {msg}", style="red"))
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """A malformed query exits 2 with the query and a caret under the problem (no "error: " prefix: it
    would shift the query off its caret line); a bad parameter exits 2 with its message."""
    try:
        yield
    except QueryError as exc:
        err.print(Text(exc.display(), style="red"))
        raise typer.Exit(2) from None
    except (UserError, ValueError) as exc:  # anything else (a TypeError, ...) is a bug and shows as one
        _fail(str(exc))


def _check_chart(chart: Path | None) -> None:
    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        _fail(f"{chart}: charts are written as .png or .svg")


def _wrote(path: Path) -> None:
    if not STATE["quiet"]:
        err.print(Text(f"wrote {path}"))


# -- init -----------------------------------------------------------------------------------------
@app.command()
def init(workspace: WorkspaceOpt = None) -> None:
    """Create a workspace: its store and its secret key for pseudonymisation (mode 0600)."""
    path = _ws(workspace)
    try:
        hb, created = Hubbub.init(path)
    except WorkspaceError as exc:
        _fail(str(exc))
    hb.close()
    if not STATE["quiet"]:
        out.print(Text(f"{'created' if created else 'exists'}: workspace {path}"))


# -- import ---------------------------------------------------------------------------------------
@app.command("import")
def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive); .gz .zst .zip are read.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to import into.")] = "default",
    format: Annotated[str | None, typer.Option("--format", "-f", help="Force a format (see `hubbub formats`).")
                      ] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m", help="Column mapping file for CSV/JSONL.")
                       ] = None,
    keep_handles: Annotated[bool, typer.Option(
        "--keep-handles", help="Opt in to storing raw author handles and unscrubbed raw records for this dataset."
    )] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Read files again even if the same bytes were imported into this dataset before.")] = False,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Import posts. Exit status: 0 all imported, 3 some records quarantined, 4 some file unreadable (files
    in a folder that are not posts are skipped, not failed)."""
    path = _ws(workspace)
    try:
        hb = Hubbub(path, create=True)
    except WorkspaceError as exc:
        _fail(str(exc))
    source = None
    if mapping is not None:
        source = _mapping_source(mapping)
    elif format is not None:
        try:
            get_source(format)
        except KeyError as exc:
            _fail(str(exc.args[0]))
    quiet = STATE["quiet"] or as_json
    try:
        with _progress(quiet) as prog:
            summary = hb.import_files(paths, dataset, format=format, source=source,
                                      keep_handles=keep_handles, progress=prog, force=force)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    finally:
        hb.close()
    if as_json:
        sys.stdout.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif not STATE["quiet"]:
        _print_summary(summary)
    else:
        for f in summary.files:
            if f.error:
                err.print(Text(f"{f.path}: {f.error}"))
    raise typer.Exit(summary.exit_code())


def _mapping_source(mapping: Path) -> Any:
    try:
        return Hubbub.load_mapping(mapping)
    except ValueError as exc:
        _fail(str(exc))


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{int(task.completed):,} records  {rate:,.0f}/s", style="cyan")


class _StepColumn(ProgressColumn):
    """Posts done of the step's total, rate, and the time left (the time taken once done)."""

    def render(self, task: Task) -> Text:
        done, total = int(task.completed), int(task.total or 0)
        elapsed = task.finished_time if task.finished else (task.elapsed or 0.0)
        rate = done / elapsed if elapsed else 0.0
        if task.finished:
            when = f"done in {_clock(elapsed)}"
        else:
            left = task.time_remaining
            when = f"ETA {_clock(left)}" if left is not None else "ETA -:--:--"
        return Text(f"{done:,}/{total:,} posts  {rate:,.0f}/s  {when}", style="cyan")


def _clock(seconds: float | None) -> str:
    s = int(round(seconds or 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class _progress:
    """Context manager giving a progress callback (file, records read) or None when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not err.is_terminal
        self.p: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.last = 0.0

    def __enter__(self) -> Any:
        if self.quiet:
            return None
        self.p = Progress(SpinnerColumn(), TextColumn("{task.description}"), _RateColumn(), console=err,
                          transient=False)
        self.p.start()
        return self.update

    def update(self, file: str, done: int) -> None:
        assert self.p is not None
        if file not in self.tasks:
            self.tasks[file] = self.p.add_task(Text(Path(file).name).plain, total=None)
        self.p.update(self.tasks[file], completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.p is not None:
            self.p.stop()


def _print_summary(s: ImportSummary) -> None:
    t = Table(title=f"import into dataset {s.dataset!r}", title_justify="left")
    nums = ("read", "imported", "duplicate", "quarantined", "skipped")
    t.add_column("file", overflow="fold", min_width=24)
    t.add_column("format", no_wrap=True)
    t.add_column("status", no_wrap=True)
    for c in nums:
        t.add_column(c, justify="right", no_wrap=True)
    names = _short_paths([f.path for f in s.files])
    for f, name in zip(s.files, names, strict=True):
        style = {"failed": "red", "partial": "yellow", "not-posts": "dim"}.get(f.status, "")
        t.add_row(Text(name), f.format or "-", Text(f.status, style=style),
                  *[f"{getattr(f, c):,}" for c in nums])
    tot = s.to_dict()["totals"]
    t.add_row(Text("total", style="bold"), "", "", *[f"{tot[c]:,}" for c in nums])
    out.print(t)
    for f in s.files:
        if f.error:
            err.print(Text(f"{f.path}: {f.error}", style="red" if f.status == "failed" else "yellow"))
    if tot["quarantined"]:
        err.print(Text(f"{tot['quarantined']:,} records quarantined: `hubbub quarantine` lists them."))
    elsewhere = s.total("elsewhere")
    if elsewhere:
        err.print(Text(f"note: {elsewhere:,} of the duplicates are posts already stored in another dataset, so "
                       f"dataset {s.dataset!r} does not hold them: a post is stored once per workspace (see "
                       "docs/schema.md, Keys); to hold them apart, e.g. with --keep-handles, use another "
                       "workspace", style="yellow"))


def _short_paths(paths: list[str]) -> list[str]:
    """Paths relative to their common folder, so the table shows what tells files apart."""
    if len(paths) < 2:
        return [Path(p).name for p in paths]
    try:
        common = os.path.commonpath([p.split("!")[0] for p in paths])
    except ValueError:
        return paths
    if os.path.isfile(common):
        common = os.path.dirname(common)
    return [os.path.relpath(p, common) if "!" not in p else os.path.relpath(p.split("!")[0], common) + "!"
            + p.split("!", 1)[1] for p in paths]


# -- enrich ---------------------------------------------------------------------------------------
def _steps_help() -> str:
    """The --steps help, from the registry: which steps run by default and which only when named."""
    from hubbub.enrich.registry import all_steps, default_steps

    on = [s.name for s in default_steps()]
    opt_in = sorted(set(all_steps()) - set(on))
    return f"Comma-separated steps (default: {', '.join(on)}; only when named: {', '.join(opt_in)})."


@app.command("enrich")
def enrich_cmd(
    dataset: DatasetOpt = None,
    steps: Annotated[str | None, typer.Option("--steps", "-s", help=_steps_help())] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for steps that sample.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Posts per committed batch.")] = 5_000,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", metavar="STEP.NAME=VALUE",
        help="Step option (repeatable), e.g. embed.encoder=quality; see docs/enrich.md.")] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Enrich posts not yet enriched by the same step version (resumable; provenance in `runs`)."""
    from hubbub.enrich.options import parse_option_args

    names = [s.strip() for s in steps.split(",") if s.strip()] if steps else None
    quiet = STATE["quiet"] or as_json or not err.is_terminal
    with _open(workspace) as hb:
        try:
            options = parse_option_args(option or [])
            if quiet:
                results = hb.enrich(names, dataset=dataset, seed=seed, batch_size=batch_size, options=options)
            else:
                with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _StepColumn(),
                              console=err) as p:
                    tasks: dict[str, Any] = {}

                    def prog(step: str, done: int, total: int) -> None:
                        if step not in tasks:
                            tasks[step] = p.add_task(step, total=total)
                        p.update(tasks[step], completed=done)

                    results = hb.enrich(names, dataset=dataset, seed=seed, batch_size=batch_size, progress=prog,
                                        options=options)
        except KeyError as exc:
            _fail(str(exc.args[0]))
        except ValueError as exc:
            _fail(str(exc))
    table = pa.table({"step": [r.step for r in results], "run_id": [r.run_id for r in results],
                      "to_do": [r.todo for r in results], "done": [r.done for r in results]})
    _emit(table, as_json, "enrich")


@app.command("eval")
def eval_cmd(
    data: Annotated[Path, typer.Option("--data", help="Folder with the labelled sets in their own layouts.")
                    ] = Path("../shared/data"),
    split: Annotated[str, typer.Option("--split", help="Split to score (validation or test).")] = "validation",
    tasks: Annotated[str, typer.Option("--tasks", help=f"Comma-separated, from: {', '.join(EVAL_TASKS)}.")
                     ] = ",".join(EVAL_TASKS),
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many texts per set (quick runs).")
                     ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for eval.json and eval.md.")] = Path("eval-report"),
    as_json: JsonOpt = False,
) -> None:
    """Accuracy on labelled data, side by side with baselines; writes a Markdown and a JSON report."""
    try:
        report = Hubbub.evaluate(data, split, [t.strip() for t in tasks.split(",") if t.strip()], limit, out_dir)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    j, m = report_paths(out_dir)
    if as_json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for r in report["results"]:
        _emit(pa.Table.from_pylist(r["rows"]), False, f"{r['task']} ({report['split']})")
    if not STATE["quiet"]:
        err.print(Text(f"wrote {j} and {m}"))


# -- look -----------------------------------------------------------------------------------------
@app.command()
def datasets(as_json: JsonOpt = False, workspace: WorkspaceOpt = None) -> None:
    """List datasets with their post, file and quarantine counts."""
    with _open(workspace) as hb:
        _emit(hb.datasets(), as_json, "datasets")


@app.command()
def stats(
    dataset: DatasetOpt = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="platform, kind, lang (detected), lang_declared (by the platform), day, dataset (repeatable).")
                  ] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Post counts by platform, kind, detected and declared language, and day."""
    from hubbub.analyze.stats import TITLES

    with _open(workspace) as hb:
        try:
            tables = hb.stats(dataset, by=by or ("platform", "kind", "lang", "lang_declared", "day"))
        except ValueError as exc:
            _fail(str(exc))
    if as_json:
        sys.stdout.write(orjson.dumps({k: v.to_pylist() for k, v in tables.items()},
                                      option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC).decode() + "\n")
        return
    for name, table in tables.items():
        _emit(table, False, TITLES.get(name, name))


@app.command()
def runs(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Only this kind: enrich, analysis, a step or "
                                             "an analysis (lang, trends, spikes, ...), or a whole kind.")] = None,
    dataset: DatasetOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Recorded enrichment and analysis runs (provenance): kind, time, dataset, query, parameters, counts."""
    with _open(workspace, read_only=True) as hb, _user_errors():
        table = hb.runs(kind, dataset, limit)
    if as_json:
        rows = [{**r, "params": orjson.loads(r["params"]) if r["params"] else None,
                 "counts": orjson.loads(r["counts"]) if r["counts"] else None} for r in table.to_pylist()]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC).decode() + "\n")
        return
    started = [None if t is None else t.strftime("%Y-%m-%d %H:%M:%SZ") for t in table["started_at"].to_pylist()]
    _emit(pa.table({"started (UTC)": pa.array(started, pa.string()), "kind": table["kind"],
                    "dataset": table["dataset"], "query": table["query"], "seconds": table["seconds"],
                    "params": [_brief(p, _OWN_COLUMN) for p in table["params"].to_pylist()],
                    "counts": [_brief(c) for c in table["counts"].to_pylist()], "run_id": table["run_id"]}),
          False, "runs (newest first; --json for every parameter)")


_OWN_COLUMN = ("dataset", "query", "selection", "model", "step", "analysis")  # shown elsewhere, or long


def _brief(doc: str | None, drop: tuple[str, ...] = ()) -> str | None:
    """A run's JSON for the table: compact, without ``drop``, cut short."""
    if not doc:
        return None
    d = orjson.loads(doc)
    if isinstance(d, dict):
        d = {k: v for k, v in d.items() if k not in drop}
    text = orjson.dumps(d).decode()
    return text if len(text) <= 60 else text[:59] + "…"


@app.command()
def export(
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Output file: .csv, .parquet or .jsonl.")],
    format: Annotated[str | None, typer.Option("--format", "-f", help="csv, parquet or jsonl.")] = None,
    dataset: DatasetOpt = None,
    raw: Annotated[bool, typer.Option("--raw", help="Include the (pseudonymised) raw source record.")] = False,
    enrichment: EnrichmentOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Export posts with their enrichment columns (one row per post, account keys only)."""
    if format is not None and format not in EXPORT_FORMATS:
        _fail(f"unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    with _open(workspace) as hb:
        try:
            n = hb.export(out_path, format=format, dataset=dataset, include_raw=raw, enrichment=enrichment)
        except ValueError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{out_path}: cannot write ({exc.strerror or str(exc).splitlines()[0]})")
    if not STATE["quiet"]:
        err.print(Text(f"wrote {n:,} posts to {out_path}"))


@app.command()
def formats(as_json: JsonOpt = False) -> None:
    """List the input formats `hubbub import` detects (or takes with --format)."""
    _emit(Hubbub.formats(), as_json, "formats")


@app.command()
def snapshot(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Folder for the Parquet layout.")],
    enrichment: EnrichmentOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write posts with their enrichment columns as Parquet partitioned by dataset and day (the layout other
    engines such as Spark read)."""
    with _open(workspace) as hb, _user_errors():
        p = hb.snapshot(out_dir, enrichment=enrichment)
    if not STATE["quiet"]:
        err.print(Text(f"wrote {p}"))


@quarantine_app.callback()
def quarantine_list(
    ctx: typer.Context,
    dataset: DatasetOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Include records resolved by a retry.")] = False,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List quarantined records: file, line or offset, format and reason."""
    if ctx.invoked_subcommand is not None:
        return
    with _open(workspace) as hb, _user_errors():
        _emit(hb.quarantine(dataset, include_resolved=all_), as_json, "quarantine")


@quarantine_app.command("retry")
def quarantine_retry(
    dataset: DatasetOpt = None,
    format: Annotated[str | None, typer.Option("--format", "-f", help="Map with this format instead.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m", help="Map with this column mapping.")] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Map quarantined records again (after fixing a mapping); those that now map are imported."""
    source = _mapping_source(mapping) if mapping else None
    with _open(workspace) as hb, _user_errors():
        r = hb.retry_quarantine(dataset, format=format, source=source)
    d = {"tried": r.tried, "resolved": r.resolved, "still_quarantined": r.still_quarantined,
         "imported": r.imported, "duplicate": r.duplicate}
    if as_json:
        sys.stdout.write(orjson.dumps(d).decode() + "\n")
    else:
        _emit(pa.table({k: [v] for k, v in d.items()}), False, "quarantine retry")
    raise typer.Exit(3 if r.still_quarantined else 0)


# -- output ---------------------------------------------------------------------------------------
def _emit_csv(table: pa.Table) -> None:
    pacsv.write_csv(_lists_as_json(table), sys.stdout.buffer)


def _emit(table: pa.Table, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(table.to_pylist(), option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC,
                                      default=str).decode() + "\n")
        return
    title_ = None if STATE["quiet"] else title
    t = Table(title=title_, title_justify="left", min_width=len(title_) if title_ and len(title_) < 60 else None)
    for name in table.column_names:
        numeric = pa.types.is_integer(table[name].type) or pa.types.is_floating(table[name].type)
        t.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in table.to_pylist():
        # Text() never interprets markup: values (post text, file names) are shown as they are.
        t.add_row(*[Text(_fmt(v)) for v in row.values()])
    out.print(t)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):  # tables show 4 significant digits; --json / --csv keep full precision
        return f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.4g}"
    if hasattr(v, "isoformat"):
        return v.isoformat().replace("+00:00", "Z")
    return str(v)
