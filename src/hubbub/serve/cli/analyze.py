"""CLI verbs of the analyses: ``hubbub spikes``, ``hubbub narratives``, ``hubbub topics``
(docs/analyses.md). Each takes a query, prints a table (or ``--json`` / ``--csv``) and, where a chart
helps, writes one with ``--chart PATH`` (.png or .svg)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import typer

from hubbub.serve.cli.common import (
    ChartOpt,
    CsvOpt,
    DatasetOpt,
    JsonOpt,
    SaveOpt,
    WorkspaceOpt,
    _check_chart,
    _emit,
    _emit_csv,
    _open,
    _user_errors,
    _wrote,
    app,
)

QueryArg = Annotated[str | None, typer.Argument(metavar="[QUERY]", help="A query; omit for every post.")]


def _out(table: pa.Table, doc: dict[str, Any], as_json: bool, as_csv: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC,
                                      default=str).decode() + "\n")
    elif as_csv:
        _emit_csv(table)
    else:
        _emit(table, False, title)


@app.command("spikes")
def spikes_cmd(
    query: QueryArg = None,
    dataset: DatasetOpt = None,
    interval: Annotated[str, typer.Option("--interval", help="hour or day.")] = "hour",
    history_days: Annotated[int, typer.Option("--history-days", help="Days of history behind each baseline.")] = 28,
    fdr: Annotated[float, typer.Option("--fdr", help="False discovery rate (Benjamini-Hochberg).")] = 0.01,
    min_count: Annotated[int, typer.Option("--min-count", help="Fewest posts in a spike bucket.")] = 20,
    min_ratio: Annotated[float, typer.Option("--min-ratio", help="Smallest count / expected in a spike.")] = 1.5,
    chart: ChartOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    save: SaveOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Spikes against an hour-of-day x weekday baseline, with drivers and representative posts."""
    _check_chart(chart)
    with _open(workspace, read_only=True, save_runs=save) as hb, _user_errors():
        res = hb.spikes(query, interval=interval, dataset=dataset, history_days=history_days, fdr=fdr,
                        min_count=min_count, min_ratio=min_ratio)
    table = res.spikes if as_csv else res.spikes.select(["spike_id", "start", "end", "peak", "posts", "expected",
                                                          "ratio", "accounts", "top10_share", "top_drivers"])
    _out(table, res.to_dict(), as_json, as_csv, f"spikes ({interval}; run {res.run_id})")
    if not as_json and not as_csv and res.spikes.num_rows:
        cols = ["spike_id", "dimension", "label", "posts", "expected", "excess", "share_of_excess", "lift"]
        _emit(res.drivers.select(cols), False, "drivers")
        _emit(res.posts.select(["spike_id", "rank", "platform", "post_id", "text"]), False, "representative posts")
    if chart is not None:
        from hubbub.serve.charts import spikes_chart

        spikes_chart(res.series, res.spikes, chart, title=f"posts per {interval}" + (f": {query}" if query else ""))
        _wrote(chart)


@app.command("narratives")
def narratives_cmd(
    query: QueryArg = None,
    dataset: DatasetOpt = None,
    threshold: Annotated[float, typer.Option("--threshold", help="Cosine similarity that links two units.")] = 0.5,
    mutual_k: Annotated[int, typer.Option("--mutual-k", help="Links only between mutual k-nearest units.")] = 5,
    all_: Annotated[bool, typer.Option("--all", help="Also narratives within one language and platform.")] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    save: SaveOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Content carried across languages and platforms, with where it started and how it spread."""
    with _open(workspace, read_only=True, save_runs=save) as hb, _user_errors():
        res = hb.narratives(query, dataset=dataset, threshold=threshold, mutual_k=mutual_k, cross_only=not all_)
    _out(res.spread if as_csv else res.narratives, res.to_dict(), as_json, as_csv, f"narratives (run {res.run_id})")
    if not as_json and not as_csv and res.spread.num_rows:
        _emit(res.spread, False, "first seen per platform and language")


TOPIC_COLUMNS = ("topic_id", "label", "posts", "share", "sentiment", "trend", "growth")  # the compact table


@app.command("topics")
def topics_cmd(
    query: QueryArg = None,
    dataset: DatasetOpt = None,
    interval: Annotated[str, typer.Option("--interval", help="hour, day or week.")] = "week",
    recent: Annotated[int, typer.Option("--recent", help="Buckets counted as recent.")] = 1,
    top: Annotated[int, typer.Option("--top", min=0, help="Show the largest N topics (0: all).")] = 20,
    min_size: Annotated[int, typer.Option("--min-size", min=1, help="Show topics of at least N posts.")] = 1,
    chart: ChartOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    save: SaveOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Topics of the selected posts (label, size, share, sentiment) with their evolution: sizes and sentiment
    over time, emerging and fading topics. The table is compact (--json / --csv: every column); --top and
    --min-size choose the topics of every output. One topic's posts: `hubbub topic ID`."""
    _check_chart(chart)
    with _open(workspace, read_only=True, save_runs=save) as hb, _user_errors():
        res = hb.topic_evolution(query, interval=interval, dataset=dataset, recent=recent)
    topics = res.topics.filter(pc.greater_equal(res.topics["posts"], min_size))
    topics = topics.slice(0, top or None)
    series = res.series.filter(pc.is_in(res.series["topic_id"], topics["topic_id"]))
    doc = {"run_id": res.run_id, "params": res.params, "topics_found": res.topics.num_rows,
           "topics": topics.to_pylist(), "series": series.to_pylist()}
    shown = f"{topics.num_rows} of {res.topics.num_rows} topics"
    _out(topics if as_csv else topics.select(list(TOPIC_COLUMNS)), doc, as_json, as_csv,
         f"topics per {interval}, {shown} (run {res.run_id}; --top 0 for all, --json for every column)")
    if chart is not None:
        from hubbub.serve.charts import topics_chart

        topics_chart(series, topics, chart, title=f"topic sizes per {interval}")
        _wrote(chart)
