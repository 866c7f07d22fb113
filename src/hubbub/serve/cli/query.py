"""CLI verbs of the query language: ``hubbub search``, ``hubbub trends``, ``hubbub check-query``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import pyarrow as pa
import typer
from rich.text import Text

from hubbub.api import EXPORT_FORMATS
from hubbub.serve.cli.common import (
    STATE,
    ChartOpt,
    CsvOpt,
    DatasetOpt,
    EnrichmentOpt,
    JsonOpt,
    SaveOpt,
    WorkspaceOpt,
    _check_chart,
    _emit,
    _emit_csv,
    _fail,
    _open,
    _user_errors,
    _wrote,
    app,
    err,
    out,
)

QueryArg = Annotated[str, typer.Argument(metavar="QUERY", help="A query (docs/query.md); '' for every post.")]
TEXT_WIDTH = 100


def _print(table: pa.Table, as_json: bool, as_csv: bool, title: str) -> None:
    if as_csv:
        _emit_csv(table)
    else:
        _emit(table, as_json, title)


@app.command("search")
def search_cmd(
    query: QueryArg,
    dataset: DatasetOpt = None,
    sort: Annotated[str, typer.Option("--sort", help="time or engagement.")] = "time",
    oldest: Annotated[bool, typer.Option("--oldest", help="Oldest (or least engaged) first.")] = False,
    page: Annotated[int, typer.Option("--page", help="Page number (1-based).")] = 1,
    limit: Annotated[int, typer.Option("--limit", help="Posts per page.")] = 20,
    count_only: Annotated[bool, typer.Option("--count", help="Only print the number of matching posts.")] = False,
    export: Annotated[Path | None, typer.Option("--export", help="Write every matching post to .csv, .parquet "
                                                "or .jsonl.")] = None,
    enrichment: EnrichmentOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Posts matching a query: a page of them (newest or most engaged first), their count, or an export;
    --json, --csv and --export carry the enrichment columns."""
    if export is not None and export.suffix.lstrip(".").lower() not in (*EXPORT_FORMATS, "ndjson"):
        _fail(f"{export}: unknown export format; use .csv, .parquet or .jsonl")
    with _open(workspace, read_only=export is None) as hb, _user_errors():
        if export is not None:
            n = hb.export(export, dataset=dataset, query=query, enrichment=enrichment)
            if not STATE["quiet"]:
                err.print(Text(f"wrote {n:,} posts to {export}"))
            return
        total = hb.count(query, dataset)
        if count_only:
            if as_json:
                sys.stdout.write(orjson.dumps({"query": query, "posts": total}).decode() + "\n")
            else:
                out.print(f"{total}")
            return
        table_view = not as_json and not as_csv
        rows = hb.search(query, dataset, sort=sort, ascending=oldest, page=page, limit=limit,
                         enrichment="none" if table_view else enrichment)
    if table_view:
        short = [None if t is None else (t if len(t) <= TEXT_WIDTH else t[:TEXT_WIDTH - 1] + "…")
                 for t in rows["text"].to_pylist()]
        rows = rows.set_column(rows.column_names.index("text"), "text", pa.array(short, pa.string()))
        rows = rows.select(["created_at", "platform", "kind", "text", "engagement", "author_key", "post_id"])
    _print(rows, as_json, as_csv, f"{total:,} posts match; page {page} ({sort})")


@app.command("trends")
def trends_cmd(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="A query (docs/query.md); '' for every post.")] = "",
    interval: Annotated[str, typer.Option("--interval", help="hour, day or week (UTC).")] = "day",
    by: Annotated[str | None, typer.Option("--by", help="platform, lang (detected), lang_declared (by the platform), "
                                           "topic, sentiment, hashtag, domain, cluster, kind or dataset.")] = None,
    top: Annotated[int, typer.Option("--top", help="Values of --by kept; the rest are '(other posts)', or '(other "
                                     "occurrences)' for hashtag and domain.")] = 10,
    dataset: DatasetOpt = None,
    chart: ChartOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    save: SaveOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Posts per hour, day or week matching a query, broken down by one dimension, with shares."""
    _check_chart(chart)
    with _open(workspace, read_only=True, save_runs=save) as hb, _user_errors():
        series = hb.trends(query, interval=interval, by=by, dataset=dataset, top=top)
    if chart is not None:
        from hubbub.serve.charts import trends_chart

        trends_chart(series, interval, chart, f"{query or 'all posts'}" + (f" by {by}" if by else ""))
        _wrote(chart)
    _print(series, as_json, as_csv, f"posts per {interval}" + (f" by {by}" if by else ""))


@app.command("check-query")
def check_query_cmd(query: QueryArg, as_json: JsonOpt = False, workspace: WorkspaceOpt = None) -> None:
    """Check a query without running it (exit 0: fine, 2: a problem, shown with its column)."""
    with _open(workspace, read_only=True) as hb:
        problems = hb.validate_query(query)
    if as_json:
        sys.stdout.write(orjson.dumps({"ok": not problems, "problems": [
            {k: p[k] for k in ("message", "position")} for p in problems]}).decode() + "\n")
    elif problems:
        for p in problems:
            err.print(Text(p["display"], style="red"))
    elif not STATE["quiet"]:
        out.print("ok")
    raise typer.Exit(2 if problems else 0)
