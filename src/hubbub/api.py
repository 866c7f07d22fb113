"""The Python API: the same verbs as the CLI, returning Arrow tables (``.to_pandas()``,
``polars.from_arrow(t)``) or small dataclasses.

    >>> from hubbub import api
    >>> hb = api.Hubbub("hubbub-data", create=True)
    >>> summary = hb.import_files(["exports/"], dataset="elections")
    >>> hb.stats()["platform"].to_pandas()
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hubbub.analyze import stats as st
from hubbub.eval.report import TASKS as EVAL_TASKS
from hubbub.ingest.importer import ImportSummary, Progress, RetryResult, import_paths, retry_quarantined
from hubbub.sources.base import Source
from hubbub.store.store import Store
from hubbub.store.workspace import Workspace, default_path, init_workspace, open_workspace

EXPORT_FORMATS = ("csv", "parquet", "jsonl")
Enrichment = str | Sequence[str] | None  # which enrichment columns: hubbub.enrich.columns.parse_groups


def _dataset_checked(cls: type) -> type:
    """Every public method of ``cls`` with a ``dataset`` parameter first checks that the dataset
    exists (``Store.check_dataset``: an error naming those that do), before it reads, writes or
    records a run; ``import_files`` creates its dataset and is left as it is."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or name in _CREATES_DATASET or not inspect.isfunction(fn):
            continue
        sig = inspect.signature(fn)
        if "dataset" in sig.parameters:
            setattr(cls, name, _checking(fn, sig))
    return cls


def _checking(fn: Callable[..., Any], sig: inspect.Signature) -> Callable[..., Any]:
    @functools.wraps(fn)
    def checked(self: Hubbub, *args: Any, **kw: Any) -> Any:
        dataset = sig.bind(self, *args, **kw).arguments.get("dataset")
        if dataset is not None:
            self.store.check_dataset(dataset)
        return fn(self, *args, **kw)

    return checked


_CREATES_DATASET = ("import_files",)


@_dataset_checked
class Hubbub:
    def __init__(self, workspace: str | Path | None = None, create: bool = False, read_only: bool = False,
                 save_runs: bool = False):
        """``save_runs``: analyses write their provenance to ``runs`` (``hubbub runs``); otherwise reading
        never writes (the result still carries its parameters; its run id is None)."""
        path = Path(workspace) if workspace is not None else default_path()
        self.ws: Workspace = open_workspace(path, create=create)
        self.store = Store(self.ws, read_only=read_only, save_runs=save_runs)

    @staticmethod
    def init(workspace: str | Path | None = None) -> tuple[Hubbub, bool]:
        path = Path(workspace) if workspace is not None else default_path()
        _, created = init_workspace(path)
        return Hubbub(path), created

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Hubbub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what Hubbub reads and how well it scores (no workspace needed) --------------------------
    @staticmethod
    def formats() -> pa.Table:
        """The input formats ``import_files`` detects or takes as ``format``: format, platform, description."""
        from hubbub.sources.registry import all_sources

        srcs = sorted(all_sources().values(), key=lambda s: s.name)
        return pa.table({"format": [s.name for s in srcs], "platform": [s.platform for s in srcs],
                         "description": [s.description for s in srcs]})

    @staticmethod
    def load_mapping(path: str | Path) -> Source:
        """A source from a column-mapping file (docs/mapping.md), for ``import_files(source=...)``;
        ValueError naming the file and the key that is wrong."""
        from hubbub.sources.tabular import load_mapping, mapped_source

        p = Path(path)
        try:
            return mapped_source(load_mapping(p))
        except (OSError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(msg if str(p) in msg else f"{p}: {msg}") from None

    @staticmethod
    def evaluate(data: str | Path, split: str = "validation", tasks: Sequence[str] = EVAL_TASKS,
                 limit: int | None = None, out: str | Path | None = None) -> dict[str, Any]:
        """Accuracy on the labelled sets in ``data`` side by side with baselines (``hubbub eval``); with
        ``out``, also writes eval.json and eval.md there. Returns the report."""
        from hubbub.eval.report import run_eval, write_reports

        report: dict[str, Any] = run_eval(Path(data), split, list(tasks), limit)
        if out is not None:
            write_reports(report, Path(out))
        return report

    @staticmethod
    def write_network(result: Any, path: str | Path, format: str | None = None) -> Path:
        """Write a coordination result's kept network as GEXF or GraphML (``format`` or the suffix), with
        posts, degree, first and last seen and cluster as node attributes (handles only where the
        dataset keeps them)."""
        from hubbub.analyze.coordination.export import write_network

        return write_network(path, result.edges, result.members, result.params["layers"], format,
                             result.accounts)

    # -- import ---------------------------------------------------------------------------------
    def import_files(
        self,
        paths: Sequence[str | Path],
        dataset: str,
        format: str | None = None,
        source: Source | None = None,
        keep_handles: bool = False,
        progress: Progress | None = None,
        force: bool = False,
    ) -> ImportSummary:
        summary = import_paths(self.store, [Path(p) for p in paths], dataset, fmt=format, source=source,
                               keep_handles=keep_handles, progress=progress, force=force)
        self._changed()
        return summary

    def retry_quarantine(self, dataset: str | None = None, format: str | None = None,
                         source: Source | None = None) -> RetryResult:
        result = retry_quarantined(self.store, dataset, fmt=format, source=source)
        self._changed()
        return result

    def _changed(self) -> None:
        """After a write that changes posts or enrichment: bring the pre-aggregates up to date (reads
        never build them)."""
        from hubbub.analyze.aggregates import refresh

        refresh(self.store)

    # -- enrich -------------------------------------------------------------------------------
    def enrich(self, steps: Sequence[str] | None = None, dataset: str | None = None, seed: int = 0,
               batch_size: int = 5_000, progress: Any = None, workers: int | None = None,
               options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Any]:
        """Run enrichment steps (default: all default steps) on posts not yet enriched. ``options``:
        per-step options, e.g. ``{"embed": {"encoder": "quality"}}`` (ValueError if a step rejects them)."""
        from hubbub.enrich.options import configure
        from hubbub.enrich.registry import default_steps, get_step
        from hubbub.enrich.runner import enrich

        chosen = configure([get_step(s) for s in steps] if steps else default_steps(), options)
        runs = enrich(self.store, chosen, dataset=dataset, seed=seed, batch_size=batch_size, progress=progress,
                      workers=workers)
        self._changed()
        return runs

    # -- look -----------------------------------------------------------------------------------
    def posts(self, dataset: str | None = None, enrichment: Enrichment = None) -> Any:
        """The posts with their enrichment columns (docs/schema.md) as an Ibis expression (for notebooks:
        ``.to_pandas()``, ``.to_polars()``). ``enrichment``: None or ``"all"`` (every step that ran), ``"none"``,
        or step names (``"lang,sentiment"`` or a list)."""
        from hubbub.enrich.columns import parse_groups, with_enrichment

        return with_enrichment(self.store, st.posts_for(self.store.table("posts"), dataset),
                               parse_groups(enrichment), dataset)

    def datasets(self) -> pa.Table:
        s = self.store
        return s.to_arrow(st.datasets(s.table("posts"), s.table("datasets"), s.table("files")))

    def stats(self, dataset: str | None = None,
              by: Sequence[str] = ("platform", "kind", "lang", "lang_declared", "day")) -> dict[str, pa.Table]:
        """Overview and post counts per breakdown: ``lang`` is the detected language (the ``lang`` step's,
        else the declared one, as ``lang:`` counts), ``lang_declared`` the platform's."""
        from hubbub.query.select import frame

        posts = st.posts_for(self.store.table("posts"), dataset)
        if "lang" in by:
            posts = frame(self.store, None, dataset, extra={"lang"})
        out = {"overview": self.store.to_arrow(st.overview(posts))}
        for b in by:
            out[b] = self.store.to_arrow(st.counts_by(posts, b))
        return out

    def runs(self, kind: str | None = None, dataset: str | None = None, limit: int = 50) -> pa.Table:
        """Recorded enrichment and analysis runs, newest first (``hubbub.analyze.runlog.list_runs``)."""
        from hubbub.analyze.runlog import list_runs

        return list_runs(self.store, kind, dataset, limit)

    def quarantine(self, dataset: str | None = None, include_resolved: bool = False) -> pa.Table:
        return self.store.query(
            """SELECT dataset, source_file, locator, format, reason, resolved FROM quarantine
            WHERE (? IS NULL OR dataset = ?) AND (? OR NOT resolved) ORDER BY rowid""",
            [dataset, dataset, include_resolved],
        )

    # -- query --
    def search(self, query: str | None, dataset: str | None = None, sort: str = "time", ascending: bool = False,
               page: int = 1, limit: int = 20, enrichment: Enrichment = None) -> pa.Table:
        """One page of the posts matching ``query`` (docs/query.md), newest or most engaged first, with
        the enrichment columns (``enrichment`` as in ``posts``)."""
        from hubbub.enrich.columns import parse_groups
        from hubbub.query.search import search

        return search(self.store, query, dataset, sort=sort, ascending=ascending, page=page, limit=limit,
                      enrichment=parse_groups(enrichment))

    def count(self, query: str | None, dataset: str | None = None) -> int:
        from hubbub.query.search import count

        return count(self.store, query, dataset)

    def trends(self, query: str | None = None, interval: str = "day", by: str | None = None,
               dataset: str | None = None, top: int = 10) -> pa.Table:
        """Posts per UTC hour/day/week (bucket, key, count, total, share), by one breakdown."""
        from hubbub.analyze.trends import timeseries

        return timeseries(self.store, query, interval=interval, by=by, dataset=dataset, top=top)

    def validate_query(self, query: str) -> list[dict[str, Any]]:
        """Problems of a query (empty: fine), each {message, position (1-based column), display}."""
        from hubbub.query import validate

        return validate(query, self.store)

    @staticmethod
    def query_warnings(query: str) -> list[dict[str, object]]:
        """What a valid query probably does not mean (lowercase ``or`` between terms ...): each {kind,
        severity, message, position}; the query still runs as written."""
        from hubbub.query import warnings

        return [w.to_dict() for w in warnings(query)]

    # -- coordination --
    def coordination(self, query: str | None = None, dataset: str | None = None,
                     layers: Sequence[str] = ("link", "repost", "text", "reply", "hashtag"), window: float = 60.0,
                     min_weight: int = 2, null: bool = True, **kw: Any) -> Any:
        """Coordinated accounts (docs/coordination.md): a ``CoordinationResult`` with ``edges`` per layer,
        the combined ``graph``, cluster ``members`` and ``clusters`` summaries; ``kw``: windows, alpha,
        bin_seconds, resolution, seed, min_cluster_size, context."""
        from hubbub.analyze.coordination import coordination

        return coordination(self.store, dataset=dataset, query=query, layers=layers, window=window,
                            min_weight=min_weight, null=null, **kw)

    # -- analyze --
    def spikes(self, query: str | None = None, interval: str = "hour", dataset: str | None = None,
               **params: Any) -> Any:
        """Spikes of the posts matching ``query`` against an hour-of-day x weekday baseline, with drivers
        and representative posts (docs/analyses.md): a ``SpikeResult``; ``params``: the fields of
        ``hubbub.analyze.spikes.SpikeParams`` (history_days, fdr, min_count, min_ratio, ...)."""
        from hubbub.analyze.coordination import coordinated_accounts
        from hubbub.analyze.spikes import SpikeParams, detect_spikes
        from hubbub.query import select

        p = SpikeParams(interval=interval, **params)
        p.check()
        return detect_spikes(self.store, select(self.store, query, dataset), p,
                             selection={"query": query, "dataset": dataset}, span=self._span(dataset),
                             coordinated=coordinated_accounts)

    def narratives(self, query: str | None = None, dataset: str | None = None, **params: Any) -> Any:
        """Near-duplicate clusters and posts with the same content across languages and platforms, linked
        by embedding similarity, with first-seen times (docs/analyses.md): a ``NarrativeResult``;
        ``params``: threshold, mutual_k, max_units, cross_only. Needs the ``embed`` step."""
        from hubbub.analyze.narratives import NarrativeParams, find_narratives
        from hubbub.query import select

        return find_narratives(self.store, select(self.store, query, dataset), NarrativeParams(**params),
                               selection={"query": query, "dataset": dataset})

    def topic_evolution(self, query: str | None = None, interval: str = "week", dataset: str | None = None,
                        **params: Any) -> Any:
        """Topic sizes and mean sentiment per UTC bucket; emerging and fading topics (docs/analyses.md):
        a ``TopicEvolution``; ``params``: recent, fdr, min_posts. Needs the ``topic`` step."""
        from hubbub.analyze.topic_evolution import TopicParams, topic_evolution
        from hubbub.query import select

        return topic_evolution(self.store, select(self.store, query, dataset), TopicParams(interval=interval, **params),
                               selection={"query": query, "dataset": dataset})

    def _span(self, dataset: str | None) -> tuple[Any, Any] | None:
        """First and last post time of the dataset (or of all posts): the frame of a query's series."""
        row = self.store.to_arrow(st.overview(st.posts_for(self.store.table("posts"), dataset))).to_pylist()[0]
        return (row["first"], row["last"]) if row["first"] is not None else None

    # -- topics --
    def topics(self, min_size: int = 0) -> pa.Table:
        """Topics of the ``topic`` step (largest first): id, label, keywords, languages, size."""
        from hubbub.analyze import topics as tp

        return self.store.to_arrow(tp.topics(self._topic_table("topics"), min_size))

    def topic(self, topic_id: int, limit: int = 20) -> dict[str, pa.Table]:
        """One topic: its representative posts and its ``limit`` posts most similar to it."""
        from hubbub.analyze import topics as tp

        s = self.store
        return {"representatives": s.to_arrow(tp.representatives(self._topic_table("topics"), s.table("posts"),
                                                                 topic_id)),
                "posts": s.to_arrow(tp.topic_posts(self._topic_table("enrich_topic"), s.table("posts"), topic_id,
                                                   limit))}

    def _topic_table(self, name: str) -> Any:
        from hubbub.enrich.topics.tables import has_model

        if not has_model(self.store):
            raise ValueError("no topics yet: run `hubbub enrich --steps topic` first")
        return self.store.table(name)

    # -- export ---------------------------------------------------------------------------------
    def export(self, out: str | Path, format: str | None = None, dataset: str | None = None,
               include_raw: bool = False, query: str | None = None, enrichment: Enrichment = None) -> int:
        """Write posts (those matching ``query`` when given) with their enrichment columns (``enrichment``
        as in ``posts``) to CSV, Parquet or JSONL (format from the suffix if not given). Returns rows."""
        from hubbub.enrich.columns import parse_groups, with_enrichment

        out = Path(out)
        fmt = (format or out.suffix.lstrip(".")).lower()
        if fmt == "ndjson":
            fmt = "jsonl"
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"{out}: unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        groups = parse_groups(enrichment)
        if query is not None:
            from hubbub.query import select

            posts = select(self.store, query, dataset)
        else:
            posts = st.posts_for(self.store.table("posts"), dataset)
        if not include_raw:
            posts = posts.drop("raw")
        expr = with_enrichment(self.store, posts, groups, dataset).order_by(["created_at", "platform", "post_id"])
        table = self.store.to_arrow(expr)
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            pq.write_table(table, out, compression="zstd")
        elif fmt == "csv":
            pacsv.write_csv(_lists_as_json(table), out)
        else:
            with open(out, "wb") as fh:
                for row in table.to_pylist():
                    fh.write(orjson.dumps(row, option=orjson.OPT_NAIVE_UTC) + b"\n")
        return table.num_rows

    def snapshot(self, out: str | Path, enrichment: Enrichment = None) -> Path:
        """Write posts with their enrichment columns as Parquet partitioned by dataset and UTC day
        (``<out>/posts/dataset=<name>/day=<YYYY-MM-DD>/*.parquet``, the layout Spark reads)."""
        from hubbub.enrich.columns import parse_groups, with_enrichment

        groups = parse_groups(enrichment)
        return self.store.snapshot(Path(out), with_enrichment(self.store, self.store.table("posts"), groups))

def _lists_as_json(table: pa.Table) -> pa.Table:
    cols = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type):
            col = pa.array([None if v is None else orjson.dumps(v).decode() for v in col.to_pylist()],
                           pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)
