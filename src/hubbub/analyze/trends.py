"""Time series of a query: posts per UTC hour, day or week, optionally broken down by one dimension,
with each value's share of the bucket's posts.

One Ibis expression per series (the same on DuckDB and Spark): bucket with ``truncate`` in UTC,
count per (bucket, key), keep the ``top`` keys of the whole period (the rest become ``(other posts)``,
or ``(other occurrences)`` for hashtags and domains; posts without a value ``(none)``), join the
bucket totals on the bucket, and divide with ``nullif``. Queries that only use fields of the hourly
pre-aggregate (``analyze.aggregates``) read it instead of the posts. Buckets without posts are absent
(``dense`` fills them in, for charts).

For ``hashtag`` and ``domain`` a post counts once for each distinct value it carries (hashtags
compared case-folded), so the shares of a bucket can add up to more than 1.
"""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa

from hubbub.analyze.aggregates import hourly
from hubbub.analyze.runlog import record_run
from hubbub.query.compile import Frame, aggregate_covers, compile_node, folded
from hubbub.query.parse import QueryError, fields_used, parse
from hubbub.query.select import frame
from hubbub.store.store import Store

INTERVALS = {"hour": "h", "day": "D", "week": "W"}
BREAKDOWNS = ("platform", "lang", "lang_declared", "topic", "sentiment", "hashtag", "domain", "cluster", "kind",
              "dataset")
PER_VALUE = ("hashtag", "domain")  # a post counts once per distinct value: the rows count occurrences
_AGG_BY = {None: None, "platform": "platform", "lang": "lang", "sentiment": "sentiment", "topic": "topic_id",
           "kind": "kind", "dataset": "dataset"}
OTHER_POSTS, OTHER_OCCURRENCES, NONE = "(other posts)", "(other occurrences)", "(none)"


def other_key(by: str | None) -> str:
    """The key of the values past ``top``: what its count counts (posts, or hashtag/domain occurrences)."""
    return OTHER_OCCURRENCES if by in PER_VALUE else OTHER_POSTS


def _keyed(store: Store, t: Any, by: str | None, dataset: str | None) -> Any:
    """(bucket-source time, key) rows of the posts ``t``: one per post, or per distinct value."""
    if by is None:
        return t.select(ts=t.created_at, key=ibis.literal("all"))
    if by in PER_VALUE:
        vals = t.hashtags.map(folded) if by == "hashtag" else t.domains
        k = t.select(ts=t.created_at, pid=t.post_id, vals=vals.unique())
        has = k.filter(k.vals.length() > 0)
        un = has.select("ts", key=has.vals.unnest())
        none = k.filter(k.vals.isnull() | (k.vals.length() == 0)).select("ts", key=ibis.literal(NONE))
        return un.union(none, distinct=False)
    if by == "cluster":
        from hubbub.enrich.clusters import neardup_clusters

        cl = ibis.memtable(neardup_clusters(store, dataset=dataset).select(["platform", "post_id", "cluster_id"])
                           .rename_columns(["_cp", "_cid", "cluster_id"]))
        j = t.left_join(cl, [t.platform == cl._cp, t.post_id == cl._cid])
        return j.select(ts=j.created_at, key=j.cluster_id)
    col = "topic_id" if by == "topic" else by
    return t.select(ts=t.created_at, key=t[col].cast("string"))


def _with_labels(store: Store, rows: Any, by: str | None) -> Any:
    """Topic keys ``<id>: <label>`` when the ``topics`` table names them."""
    if by != "topic" or not store.has_table("topics"):
        return rows
    tp = store.table("topics")
    tp = tp.select(_tid=tp.topic_id.cast("string"), _label=tp.label)
    j = rows.left_join(tp, rows.key == tp._tid)
    return j.select("bucket", "n", key=ibis.ifelse(j._label.isnull(), j.key, j.key.concat(": ", j._label)))


def _series(rows: Any, totals: Any, top: int, other: str) -> Any:
    """(bucket, key, count, total, share) from (bucket, key, n) rows and (bucket, total) totals; the
    values past ``top`` become key ``other``."""
    rows = rows.mutate(key=rows.key.fill_null(NONE))
    valued = rows.filter(rows.key != NONE)
    ranked = valued.group_by("key").aggregate(_all=valued.n.sum()).order_by([ibis.desc("_all"), "key"]).limit(top)
    keep = rows.key.isin(ranked.key) | (rows.key == NONE)
    rows = rows.mutate(key=ibis.ifelse(keep, rows.key, ibis.literal(other)))
    counts = rows.group_by(["bucket", "key"]).aggregate(count=rows.n.sum().cast("int64"))
    tot = totals.rename(_b="bucket")
    j = counts.join(tot, counts.bucket == tot._b)
    return j.select("bucket", "key", "count", total=j.total.cast("int64"),
                    share=j["count"].cast("float64") / j.total.nullif(0).cast("float64")
                    ).order_by(["bucket", ibis.desc("count"), "key"])


def timeseries_expr(store: Store, query: str | None, interval: str = "day", by: str | None = None,
                    dataset: str | None = None, top: int = 10, use_aggregate: bool = True) -> tuple[Any, bool]:
    """(Ibis expression of the series, whether it reads the pre-aggregate)."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; choose from {', '.join(INTERVALS)}")
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}; choose from {', '.join(BREAKDOWNS)}")
    if top < 1:
        raise ValueError("top must be at least 1")
    unit = INTERVALS[interval]
    node = parse(query or "")
    agg = None
    if use_aggregate and by in _AGG_BY and aggregate_covers(node):
        need_topic = by == "topic" or "topic" in fields_used(node)
        if not need_topic or store.has_table("enrich_topic"):
            agg = hourly(store)
    if agg is not None:
        a = agg if dataset is None else agg.filter(agg.dataset == dataset)
        if node is not None:
            try:
                a = a.filter(compile_node(node, Frame(a, aggregate=True)))
            except QueryError as e:
                raise QueryError(e.message, e.position, query or "") from None
        a = a.mutate(bucket=a.hour.truncate(unit))
        col = _AGG_BY[by]
        key = ibis.literal("all") if col is None else a[col].cast("string")
        rows = _with_labels(store, a.group_by(["bucket", key.name("key")]).aggregate(n=a.posts.sum()), by)
        totals = a.group_by("bucket").aggregate(total=a.posts.sum())
        return _series(rows, totals, top, other_key(by)), True
    t = frame(store, query, dataset, extra={by} & {"lang", "sentiment", "topic"} if by else ())
    t = t.mutate(bucket=t.created_at.truncate(unit))
    keyed = _keyed(store, t, by, dataset)
    keyed = keyed.mutate(bucket=keyed.ts.truncate(unit))
    rows = _with_labels(store, keyed.group_by(["bucket", "key"]).aggregate(n=keyed.count()), by)
    totals = t.group_by("bucket").aggregate(total=t.count())
    return _series(rows, totals, top, other_key(by)), False


def timeseries(store: Store, query: str | None = None, interval: str = "day", by: str | None = None,
               dataset: str | None = None, top: int = 10, use_aggregate: bool = True,
               record: bool = True) -> pa.Table:
    """Arrow table (bucket, key, count, total, share): posts matching ``query`` per UTC ``interval``
    (hour, day, week) and value of ``by`` (None: one series, key ``all``); ``total`` is the bucket's
    matching posts and ``share = count / total``. Raises ``QueryError`` / ``ValueError``."""
    expr, from_agg = timeseries_expr(store, query, interval, by, dataset, top, use_aggregate)
    out = store.to_arrow(expr)
    out = out.set_column(0, "bucket", out["bucket"].cast(pa.timestamp("us", tz="UTC")))
    if record:
        record_run(store, "trends", {"analysis": "trends", "query": query, "dataset": dataset, "interval": interval,
                                     "by": by, "top": top, "pre_aggregate": from_agg, "seed": None},
                   {"rows": out.num_rows, "buckets": len(set(out["bucket"].to_pylist()))})
    return out


def dense(series: pa.Table, interval: str) -> tuple[list[Any], dict[str, list[int]]]:
    """(every bucket from the first to the last, {key: counts with 0 for buckets without posts})."""
    import pandas as pd

    if series.num_rows == 0:
        return [], {}
    df = series.select(["bucket", "key", "count"]).to_pandas()
    freq = {"hour": "h", "day": "D", "week": "W-MON"}[interval]
    buckets = pd.date_range(df.bucket.min(), df.bucket.max(), freq=freq, tz="UTC")
    wide = df.pivot_table(index="bucket", columns="key", values="count", aggfunc="sum").reindex(buckets).fillna(0)
    return list(buckets.to_pydatetime()), {str(k): wide[k].astype(int).tolist() for k in wide.columns}
