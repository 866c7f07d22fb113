"""Explainable spike detection over a selection of posts (``hubbub spikes``; docs/analyses.md).

1. **Series** (Ibis): posts per UTC hour or day of the selection; buckets without posts between the
   first and the last post count 0.
2. **Baseline** (numpy over the small series), from the ``history_days`` complete UTC days before
   the bucket's day (at least ``min_history_days`` of them, else the bucket is not tested):
   ``expected = level x weekday factor x hour share`` where
   - level = median of the daily totals of those days,
   - weekday factor = median of the totals of the same weekday among them / level (1 when fewer
     than three such days: the median of two would follow a spike),
   - hour share (hourly series only) = median count of that hour of day over those days, with
     0.5 added to every hour, divided by the sum over the 24 hours.
   Medians keep earlier spikes out of the baseline. ``expected`` is floored at ``MIN_EXPECTED``.
3. **Test**: the count is negative binomial with mean ``expected`` and dispersion ``alpha``
   (variance ``mu + alpha mu^2``); ``alpha`` is estimated once per series, robustly, from the
   spread of ``log((count + 0.5) / (expected + 0.5))`` (1.4826 x MAD squared, less the Poisson
   part ``median(1 / (expected + 0.5))``, at least 0). The upper-tail p-values of all tested
   buckets get Benjamini-Hochberg q-values; a bucket is significant when ``q <= fdr``, it holds at
   least ``min_count`` posts and at least ``min_ratio`` times its expected count.
4. **Spikes**: significant buckets at most ``max_gap`` buckets apart are merged into one spike.
5. **Drivers**: for each spike and each dimension (topic, hashtag, domain, near-duplicate cluster,
   language) the posts carrying a value in the spike are compared with the value's own baseline:
   its share of the posts in the reference window (the ``history_days`` before the spike, less
   the buckets of other spikes) times the spike's expected volume. Values with at least
   ``min_driver_posts`` posts and ``lift = (posts + 1) / (expected + 1) >= min_ratio`` are ranked by
   excess (posts - expected); p-value: Poisson upper tail at the expected count (for reading, not
   used to rank). Hashtags are compared case-insensitively.
6. **Representative posts**: posts of the spike carrying the most of its top drivers (hashtags,
   domains, clusters, topics), originals before reposts, then by engagement and time; one per text.

Speed on a large store: when ``selection`` names the query and dataset the posts were selected with
and the query only uses fields of the hourly pre-aggregate (``analyze.aggregates``), the series
and the language and topic drivers are read from it (when every enrichment row is of the step's
current version, so that both count the same posts). The posts of the time range the windows span
are read once into a cached table; driver values are counted per bucket and value before the join
with the windows, and only values with enough posts in a spike get their reference counts.

Deterministic (no sampling); every run writes a ``runs`` row (kind ``analysis:spikes``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis import _
from scipy import stats

from hubbub.analyze.aggregates import hourly
from hubbub.analyze.runlog import record_run
from hubbub.analyze.significance import bh_qvalues
from hubbub.query.compile import Frame, aggregate_covers, compile_node
from hubbub.query.parse import fields_used, parse
from hubbub.store.store import Store

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
INTERVALS = {"hour": (HOUR_US, "h"), "day": (DAY_US, "D")}
DIMENSIONS = ("topic", "hashtag", "domain", "cluster", "lang")
MIN_EXPECTED = 0.1
TEXT_CHARS = 200


@dataclass(frozen=True)
class SpikeParams:
    interval: str = "hour"
    history_days: int = 28
    min_history_days: int = 3
    fdr: float = 0.01
    min_count: int = 20
    min_ratio: float = 1.5
    max_gap: int = 1
    top_drivers: int = 5
    min_driver_posts: int = 5
    representatives: int = 3

    def check(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {self.interval!r}")
        if not 1 <= self.min_history_days <= self.history_days:
            raise ValueError("need 1 <= min_history_days <= history_days")
        if not 0 < self.fdr < 1:
            raise ValueError("fdr must be in (0, 1)")
        if self.min_count < 1 or self.min_ratio < 1 or self.max_gap < 0:
            raise ValueError("need min_count >= 1, min_ratio >= 1 and max_gap >= 0")
        if self.top_drivers < 1 or self.min_driver_posts < 1 or self.representatives < 0:
            raise ValueError("need top_drivers >= 1, min_driver_posts >= 1 and representatives >= 0")


@dataclass
class SpikeResult:
    series: pa.Table  # bucket, posts, expected, level, weekday_factor, hour_share, p_value, q_value, ...
    spikes: pa.Table  # spike_id, start, end, peak, buckets, posts, expected, excess, ratio, q_value, ...
    drivers: pa.Table  # spike_id, dimension, rank, value, label, posts, expected, excess, lift, p_value
    posts: pa.Table  # spike_id, rank, platform, post_id, created_at, text
    dispersion: float
    params: dict[str, Any]
    run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """Spikes with their drivers and representative posts nested (for JSON)."""
        drivers = self.drivers.to_pylist()
        posts = self.posts.to_pylist()
        out = []
        for s in self.spikes.to_pylist():
            s["drivers"] = [d for d in drivers if d["spike_id"] == s["spike_id"]]
            s["representative_posts"] = [p for p in posts if p["spike_id"] == s["spike_id"]]
            out.append(s)
        return {"run_id": self.run_id, "params": self.params, "dispersion": self.dispersion, "spikes": out}


# -- series and baseline -----------------------------------------------------------------------
def bucket_counts(posts: Any, interval: str) -> Any:
    """Posts per UTC bucket (Ibis expression: bucket, posts)."""
    unit = INTERVALS[interval][1]
    return posts.group_by(bucket=posts.created_at.truncate(unit)).aggregate(posts=posts.count()).order_by("bucket")


def selection_aggregate(store: Store, selection: dict[str, Any] | None) -> Any | None:
    """The hourly pre-aggregate filtered like ``selection`` ({"query", "dataset"}: what the posts were
    selected with), or None when the selection is not given or uses a field the aggregate lacks."""
    if not selection or "query" not in selection or "dataset" not in selection:
        return None
    node = parse(selection["query"] or "")
    if not aggregate_covers(node) or ("topic" in fields_used(node) and not store.has_table("enrich_topic")):
        return None
    agg = hourly(store)
    if agg is None:
        return None
    if selection["dataset"] is not None:
        agg = agg.filter(agg.dataset == selection["dataset"])
    return agg if node is None else agg.filter(compile_node(node, Frame(agg, aggregate=True)))


def aggregate_counts(agg: Any, interval: str) -> Any:
    """Posts per UTC bucket from the hourly aggregate (the same rows as ``bucket_counts``)."""
    unit = INTERVALS[interval][1]
    return (agg.group_by(bucket=agg.hour.truncate(unit)).aggregate(posts=agg.posts.sum().cast("int64"))
            .order_by("bucket"))


def baseline(counts: np.ndarray, first_us: int, interval: str, history_days: int = 28,
             min_history_days: int = 3) -> dict[str, np.ndarray]:
    """Expected counts for a gap-free series starting at bucket ``first_us`` (UTC microseconds):
    arrays ``expected``, ``level``, ``weekday_factor``, ``hour_share`` (NaN where untested)."""
    step = INTERVALS[interval][0]
    per_day = DAY_US // step
    n = counts.size
    first_day = first_us // DAY_US
    offset = (first_us - first_day * DAY_US) // step
    n_days = -(-(offset + n) // per_day)
    grid = np.full(n_days * per_day, np.nan)
    grid[offset:offset + n] = counts
    grid = grid.reshape(n_days, per_day)
    totals = grid.sum(axis=1)  # NaN for days only partly inside the series
    weekday = (first_day + np.arange(n_days) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    out = {k: np.full((n_days, per_day), np.nan) for k in ("expected", "level", "weekday_factor", "hour_share")}
    for d in range(n_days):
        hist = np.arange(max(0, d - history_days), d)
        hist = hist[~np.isnan(totals[hist])]
        if hist.size < min_history_days:
            continue
        level = float(np.median(totals[hist]))
        same = hist[weekday[hist] == weekday[d]]
        factor = float(np.median(totals[same])) / level if same.size >= 3 and level > 0 else 1.0
        med = np.median(grid[hist], axis=0) + 0.5
        share = med / med.sum()
        out["level"][d] = level
        out["weekday_factor"][d] = factor
        out["hour_share"][d] = share
        out["expected"][d] = np.maximum(level * factor * share, MIN_EXPECTED)
    return {k: v.reshape(-1)[offset:offset + n] for k, v in out.items()}


def dispersion(counts: np.ndarray, expected: np.ndarray) -> float:
    """Negative-binomial ``alpha`` from the robust spread of log ratios (see the module doc)."""
    ok = ~np.isnan(expected)
    if ok.sum() < 3:
        return 0.0
    r = np.log((counts[ok] + 0.5) / (expected[ok] + 0.5))
    spread = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    return max(0.0, spread ** 2 - float(np.median(1.0 / (expected[ok] + 0.5))))


def upper_tail(counts: np.ndarray, expected: np.ndarray, alpha: float) -> np.ndarray:
    """P(X >= count) for X negative binomial (mean ``expected``, dispersion ``alpha``; Poisson at 0)."""
    counts = np.asarray(counts, np.float64)
    pos = np.maximum(counts, 1.0)  # P(X >= 0) = 1
    if alpha <= 1e-9:
        p = stats.poisson.sf(pos - 1, expected)
    else:
        size = 1.0 / alpha
        p = stats.nbinom.sf(pos - 1, size, size / (size + expected))
    return np.where(counts <= 0, 1.0, p)


def merge_runs(flags: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """(first, last) indices of groups of True values at most ``max_gap`` False values apart."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


# -- the analysis ------------------------------------------------------------------------------
def detect_spikes(store: Store, posts: Any, params: SpikeParams | None = None,
                  selection: dict[str, Any] | None = None, span: tuple[datetime, datetime] | None = None
                  ) -> SpikeResult:
    """Spikes in the posts of the Ibis table ``posts`` (already filtered by the caller's query).

    ``span``: the first and last time of the collection the selection was taken from (e.g. the
    dataset's), so that the days before a topic's first post count as zero instead of missing."""
    p = params or SpikeParams()
    p.check()
    step, _ = INTERVALS[p.interval]
    agg = selection_aggregate(store, selection)
    raw = store.to_arrow(bucket_counts(posts, p.interval) if agg is None else aggregate_counts(agg, p.interval))
    if raw.num_rows == 0:
        raise ValueError("no posts selected: nothing to look for spikes in")
    us = raw["bucket"].cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    first, last = int(us[0]), int(us[-1])
    if span is not None:
        first = min(first, _us(span[0]) // step * step)
        last = max(last, _us(span[1]) // step * step)
    n = (last - first) // step + 1
    y = np.zeros(n, np.float64)
    y[(us - first) // step] = raw["posts"].to_numpy()
    base = baseline(y, first, p.interval, p.history_days, p.min_history_days)
    mu = base["expected"]
    alpha = dispersion(y, mu)
    tested = ~np.isnan(mu)
    pval = np.full(n, np.nan)
    pval[tested] = upper_tail(y[tested], mu[tested], alpha)
    q = bh_qvalues(pval)
    sig = tested & (q <= p.fdr) & (y >= p.min_count) & (y >= p.min_ratio * np.where(tested, mu, np.inf))
    groups = merge_runs(sig, p.max_gap)
    spike_of = np.full(n, -1, np.int64)
    for k, (a, b) in enumerate(groups):
        spike_of[a:b + 1] = k + 1
    times = first + np.arange(n, dtype=np.int64) * step
    series = pa.table({
        "bucket": pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "posts": pa.array(y.astype(np.int64)),
        "expected": _nullable(mu), "level": _nullable(base["level"]),
        "weekday_factor": _nullable(base["weekday_factor"]), "hour_share": _nullable(base["hour_share"]),
        "p_value": _nullable(pval), "q_value": _nullable(q), "significant": pa.array(sig),
        "spike_id": pa.array(np.where(spike_of > 0, spike_of, 0), pa.int64(), mask=spike_of < 0),
    })
    spikes = _spike_rows(groups, y, mu, q, base, times, step, p.interval)
    drivers, reps = _explain(store, posts, p, groups, times, y, mu, spike_of, agg)
    summary = _driver_summary(drivers)
    spikes = spikes.append_column("top_drivers", pa.array([summary.get(i, "") for i in spikes["spike_id"].to_pylist()],
                                                          pa.string()))
    params_rec = {"analysis": "spikes", **asdict(p), "selection": selection or {}, "seed": None,
                  "model": "median level x weekday x hour-of-day baseline; negative binomial upper tail; BH",
                  "posts_selected": int(y.sum()), "last_bucket": series["bucket"][-1].as_py().isoformat()}
    run_id = record_run(store, "spikes", params_rec, {"buckets": n, "tested": int(tested.sum()),
                                                      "spikes": len(groups), "dispersion": alpha})
    return SpikeResult(series, spikes, drivers, reps, alpha, params_rec, run_id)


_CACHED = ("platform", "post_id", "created_at", "kind", "text", "hashtags", "domains", "lang_declared", "likes",
           "reposts", "quotes", "replies")


def _explain(store: Store, posts: Any, p: SpikeParams, groups: list[tuple[int, int]], times: np.ndarray,
             y: np.ndarray, mu: np.ndarray, spike_of: np.ndarray, agg: Any | None) -> tuple[pa.Table, pa.Table]:
    """Drivers and representative posts, reading the posts of the windows' time range once (cached)."""
    if not groups:  # empty tables
        drivers, windows = _drivers(store, posts, p, groups, times, y, mu, spike_of, None, agg)
        return drivers, _representatives(store, posts, p, windows, drivers, None)
    step = INTERVALS[p.interval][0]
    lo = _ts(times[max(0, groups[0][0] - p.history_days * (DAY_US // step))])
    hi = _ts(times[groups[-1][1]] + step)
    clusters = _cluster_table(store)
    cached = posts.filter((posts.created_at >= lo) & (posts.created_at < hi)).select(*_CACHED).cache()
    try:
        drivers, windows = _drivers(store, cached, p, groups, times, y, mu, spike_of, clusters, agg)
        return drivers, _representatives(store, cached, p, windows, drivers, clusters)
    finally:
        _release(store, cached)


def _release(store: Store, cached: Any) -> None:
    """Drop a cached table. Ibis 12 with sqlglot 30 renders its DROP without the table's name: then
    drop it here (ibis has already forgotten it; the name is ibis's own, ``ibis_cached_<random>``)."""
    name = cached.op().name
    try:
        cached.release()
    except Exception:  # noqa: BLE001 - the DuckDB parser error of the broken DROP
        if not re.fullmatch(r"\w+", name):
            raise
        store.con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _nullable(a: np.ndarray) -> pa.Array:
    return pa.array(np.nan_to_num(a), pa.float64(), mask=np.isnan(a))


def _us(t: datetime) -> int:
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _ts(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _spike_rows(groups: list[tuple[int, int]], y: np.ndarray, mu: np.ndarray, q: np.ndarray,
                base: dict[str, np.ndarray], times: np.ndarray, step: int, interval: str) -> pa.Table:
    rows = []
    for k, (a, b) in enumerate(groups):
        seg = slice(a, b + 1)
        peak = a + int(np.argmax(y[seg] - mu[seg]))
        obs, exp = float(y[seg].sum()), float(mu[seg].sum())
        day = _ts(times[peak])
        why = (f"peak {day:%Y-%m-%d %H:%M}Z: {int(y[peak]):,} posts vs expected {mu[peak]:,.1f} = level "
               f"{base['level'][peak]:,.0f}/day x {_WEEKDAYS[day.weekday()]} {base['weekday_factor'][peak]:.2f}")
        if interval == "hour":
            why += f" x {day:%H}h share {base['hour_share'][peak]:.3f}"
        rows.append({"spike_id": k + 1, "start": _ts(times[a]), "end": _ts(times[b] + step), "peak": day,
                     "buckets": b - a + 1, "posts": int(obs), "expected": round(exp, 1),
                     "excess": round(obs - exp, 1), "ratio": round(obs / exp, 2) if exp > 0 else None,
                     "q_value": float(np.nanmin(q[seg])), "baseline": why})
    schema = pa.schema([("spike_id", pa.int64()), ("start", pa.timestamp("us", tz="UTC")),
                        ("end", pa.timestamp("us", tz="UTC")), ("peak", pa.timestamp("us", tz="UTC")),
                        ("buckets", pa.int64()), ("posts", pa.int64()), ("expected", pa.float64()),
                        ("excess", pa.float64()), ("ratio", pa.float64()), ("q_value", pa.float64()),
                        ("baseline", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


# -- drivers -----------------------------------------------------------------------------------
def _cluster_table(store: Store) -> pa.Table | None:
    if not store.has_table("enrich_neardup"):
        return None
    from hubbub.enrich.clusters import neardup_clusters
    from hubbub.enrich.steps.neardup import MIN_CHARS

    return neardup_clusters(store, min_chars=MIN_CHARS).select(["platform", "post_id", "cluster_id"])


def dimension_values(store: Store, posts: Any, dim: str, clusters: pa.Table | None = None) -> Any | None:
    """Ibis table (platform, post_id, created_at, value) of a post's values of one dimension (one row
    per distinct value of a post), or None when the dimension is not available in the store."""
    base = posts.select("platform", "post_id", "created_at", "hashtags", "domains", "lang_declared")
    if dim == "hashtag":
        return base.select("platform", "post_id", "created_at",
                           value=base.hashtags.map(lambda h: h.lower()).unique().unnest())
    if dim == "domain":
        return base.select("platform", "post_id", "created_at", value=base.domains.unique().unnest())
    if dim == "lang":
        if store.has_table("enrich_lang"):
            lang = store.table("enrich_lang").select("platform", "post_id", "lang")
            j = base.left_join(lang, ["platform", "post_id"])
            out = j.select("platform", "post_id", "created_at", value=j.lang.fill_null(j.lang_declared))
        else:
            out = base.select("platform", "post_id", "created_at", value=base.lang_declared)
        return out.filter(out.value.notnull())
    if dim == "topic":
        if not store.has_table("enrich_topic"):
            return None
        t = store.table("enrich_topic")
        t = t.filter(t.topic_id != -1).select("platform", "post_id", "topic_id")
        j = base.join(t, ["platform", "post_id"])
        return j.select("platform", "post_id", "created_at", value=j.topic_id.cast("string"))
    if dim == "cluster":
        if clusters is None or clusters.num_rows == 0:
            return None
        j = base.join(ibis.memtable(clusters), ["platform", "post_id"])
        return j.select("platform", "post_id", "created_at", value=j.cluster_id)
    raise ValueError(f"unknown dimension {dim!r}; choose from {', '.join(DIMENSIONS)}")


def _windows(p: SpikeParams, groups: list[tuple[int, int]], times: np.ndarray, y: np.ndarray, mu: np.ndarray,
             spike_of: np.ndarray) -> tuple[pa.Table, dict[tuple[int, str], tuple[float, float]]]:
    """(spike_id, bucket, role): each spike's own buckets and its reference buckets (the history
    before it, less the buckets of any spike); and per (spike_id, role) the posts and expected posts."""
    per_day = DAY_US // INTERVALS[p.interval][0]
    ids, buckets, roles = [], [], []
    totals: dict[tuple[int, str], tuple[float, float]] = {}
    for k, (a, b) in enumerate(groups):
        ref = np.arange(max(0, a - p.history_days * per_day), a)
        ref = ref[spike_of[ref] < 0]
        for idx, role in ((np.arange(a, b + 1), "spike"), (ref, "ref")):
            ids.append(np.full(idx.size, k + 1, np.int64))
            buckets.append(times[idx])
            roles.extend([role] * idx.size)
            totals[(k + 1, role)] = (float(y[idx].sum()), float(np.nansum(mu[idx])))
    table = pa.table({"spike_id": pa.array(np.concatenate(ids), pa.int64()),
                      "bucket": pa.array(np.concatenate(buckets), pa.int64()).cast(pa.timestamp("us")),
                      "role": pa.array(roles, pa.string())})
    return table, totals


def _current_only(store: Store, table: str, step: str) -> bool:
    """Whether every row of an enrichment table is of the step's current version (then the hourly
    aggregate, which counts current rows only, counts the same posts as ``dimension_values``)."""
    from hubbub.enrich.registry import all_steps

    t = store.table(table)
    s = all_steps().get(step)
    if s is None or "step_version" not in t.columns:
        return True
    stale = t.filter(t.step_version.isnull() | (t.step_version != s.version))
    return store.to_arrow(stale.aggregate(n=stale.count()))["n"][0].as_py() == 0


def bucket_values(store: Store, posts: Any, dim: str, interval: str, clusters: pa.Table | None = None,
                  agg: Any | None = None) -> Any | None:
    """Ibis table (bucket, value, n): the posts per UTC bucket carrying each value of a dimension, from
    the hourly aggregate ``agg`` for language and topic when it counts the same posts, else from
    ``dimension_values``; None when the dimension is not available."""
    unit = INTERVALS[interval][1]
    col = {"lang": "lang", "topic": "topic_id"}.get(dim)
    source = {"lang": ("enrich_lang", "lang"), "topic": ("enrich_topic", "topic")}.get(dim)
    if dim == "topic" and not store.has_table("enrich_topic"):
        return None
    if agg is not None and col is not None and source is not None and (
            not store.has_table(source[0]) or _current_only(store, *source)):
        a = agg.filter(agg[col].notnull() & (agg[col] != -1) if dim == "topic" else agg[col].notnull())
        return a.group_by(bucket=a.hour.truncate(unit), value=a[col].cast("string")).aggregate(
            n=a.posts.sum().cast("int64"))
    vals = dimension_values(store, posts, dim, clusters)
    if vals is None:
        return None
    return vals.group_by(bucket=vals.created_at.truncate(unit), value=vals.value).aggregate(n=vals.count())


def window_counts(vals: Any, win: Any, min_posts: int) -> Any:
    """(spike_id, role, value, n) from (bucket, value, n) rows and the windows table, for the values
    with at least ``min_posts`` posts in the spike (the others cannot be drivers)."""
    j = vals.join(win, "bucket")
    c = j.group_by(["spike_id", "role", "value"]).aggregate(n=j.n.sum().cast("int64"))
    hot = c.filter((c.role == "spike") & (c.n >= min_posts)).select("spike_id", "value")
    return c.semi_join(hot, ["spike_id", "value"])


def _drivers(store: Store, posts: Any, p: SpikeParams, groups: list[tuple[int, int]], times: np.ndarray,
             y: np.ndarray, mu: np.ndarray, spike_of: np.ndarray, clusters: pa.Table | None,
             agg: Any | None = None) -> tuple[pa.Table, pa.Table]:
    """Top drivers per spike and dimension, and the spike/reference windows table."""
    schema = pa.schema([("spike_id", pa.int64()), ("dimension", pa.string()), ("rank", pa.int64()),
                        ("value", pa.string()), ("label", pa.string()), ("posts", pa.int64()),
                        ("expected", pa.float64()), ("excess", pa.float64()), ("lift", pa.float64()),
                        ("p_value", pa.float64())])
    if not groups:
        return schema.empty_table(), pa.table({"spike_id": pa.array([], pa.int64())})
    windows, tot = _windows(p, groups, times, y, mu, spike_of)
    win = ibis.memtable(windows)
    rows: list[dict[str, Any]] = []
    for dim in DIMENSIONS:
        vals = bucket_values(store, posts, dim, p.interval, clusters, agg)
        if vals is None:
            continue
        counts = store.to_arrow(window_counts(vals, win, p.min_driver_posts)).to_pandas()
        if counts.empty:
            continue
        wide = counts.pivot_table(index=["spike_id", "value"], columns="role", values="n", fill_value=0)
        for sid, g in wide.groupby(level=0):
            obs = g["spike"].to_numpy(float) if "spike" in g else np.zeros(len(g))
            ref = g["ref"].to_numpy(float) if "ref" in g else np.zeros(len(g))
            ref_total = tot[(int(sid), "ref")][0]
            spike_exp = tot[(int(sid), "spike")][1]
            exp = ref / ref_total * spike_exp if ref_total > 0 else np.zeros(len(g))
            lift = (obs + 1) / (exp + 1)
            keep = (obs >= p.min_driver_posts) & (lift >= p.min_ratio)
            values = g.index.get_level_values(1).to_numpy()[keep]
            o, e, lf = obs[keep], exp[keep], lift[keep]
            order = np.lexsort((values, -(o - e)))[:p.top_drivers]
            pv = upper_tail(o[order], np.maximum(e[order], MIN_EXPECTED), 0.0)
            for r, (i, pval) in enumerate(zip(order, pv, strict=True)):
                rows.append({"spike_id": int(sid), "dimension": dim, "rank": r + 1, "value": str(values[i]),
                             "label": None, "posts": int(o[i]), "expected": round(float(e[i]), 2),
                             "excess": round(float(o[i] - e[i]), 2), "lift": round(float(lf[i]), 2),
                             "p_value": float(pval)})
    labels = _labels(store, rows)
    for r in rows:
        r["label"] = labels.get((r["dimension"], r["value"]), r["value"])
    rows.sort(key=lambda r: (r["spike_id"], DIMENSIONS.index(r["dimension"]), r["rank"]))
    return pa.Table.from_pylist(rows, schema=schema), windows


def _labels(store: Store, rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """Readable labels: a topic's label, a cluster's first text (truncated), '#tag' for hashtags."""
    out: dict[tuple[str, str], str] = {}
    topics = sorted({r["value"] for r in rows if r["dimension"] == "topic"})
    if topics and store.has_table("topics"):
        t = store.table("topics")
        got = store.to_arrow(t.filter(t.topic_id.cast("string").isin(topics)).select("topic_id", "label"))
        out.update({("topic", str(a)): str(b) for a, b in zip(got["topic_id"].to_pylist(), got["label"].to_pylist(),
                                                              strict=True)})
    roots = sorted({r["value"] for r in rows if r["dimension"] == "cluster"})
    if roots:
        posts = store.table("posts")
        key = posts.platform.concat(":", posts.post_id)
        got = store.to_arrow(posts.filter(key.isin(roots)).select(key=key, text=posts.text))
        out.update({("cluster", k): _short(t) for k, t in zip(got["key"].to_pylist(), got["text"].to_pylist(),
                                                               strict=True)})
    out.update({("hashtag", r["value"]): "#" + r["value"] for r in rows if r["dimension"] == "hashtag"})
    return out


def _short(text: str | None, n: int = TEXT_CHARS) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[:n - 1] + "…"


def _driver_summary(drivers: pa.Table) -> dict[int, str]:
    """Per spike, the top driver of each dimension: 'hashtag #x (+123); domain y (+45)'."""
    out: dict[int, list[str]] = {}
    for d in drivers.to_pylist():
        if d["rank"] == 1:
            label = d["label"] if d["dimension"] != "cluster" else _short(d["label"], 40)
            out.setdefault(d["spike_id"], []).append(f"{d['dimension']} {label} (+{d['excess']:,.0f})")
    return {k: "; ".join(v) for k, v in out.items()}


# -- representative posts ----------------------------------------------------------------------
def _representatives(store: Store, posts: Any, p: SpikeParams, windows: pa.Table, drivers: pa.Table,
                     clusters: pa.Table | None) -> pa.Table:
    """Per spike, ``p.representatives`` posts (one per normalised text) ranked by the number of the
    spike's top drivers they carry, originals first, then engagement, time and key. One query."""
    schema = pa.schema([("spike_id", pa.int64()), ("rank", pa.int64()), ("platform", pa.string()),
                        ("post_id", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
                        ("text", pa.string())])
    if p.representatives == 0 or windows.num_rows == 0:
        return schema.empty_table()
    unit = INTERVALS[p.interval][1]
    win = ibis.memtable(windows.filter(pc.equal(windows["role"], "spike")).drop_columns(["role"]))
    top = drivers.filter(pc.is_in(drivers["dimension"], pa.array(["topic", "hashtag", "domain", "cluster"])))
    top_t = ibis.memtable(top.select(["spike_id", "dimension", "value"]))
    hits = []
    inside = posts.mutate(bucket=posts.created_at.truncate(unit)).semi_join(win, "bucket").drop("bucket")
    for dim in sorted(set(top["dimension"].to_pylist())):
        vals = dimension_values(store, inside, dim, clusters)
        if vals is None:
            continue
        vals = vals.filter(vals.value.isin(sorted(set(top.filter(pc.equal(top["dimension"], dim))["value"]
                                                      .to_pylist()))))
        vals = vals.mutate(bucket=vals.created_at.truncate(unit), dimension=ibis.literal(dim)).join(win, "bucket")
        hits.append(vals.join(top_t, ["spike_id", "dimension", "value"]).select("spike_id", "platform", "post_id"))
    w = posts.mutate(bucket=posts.created_at.truncate(unit)).join(win, "bucket")
    w = w.select("spike_id", "platform", "post_id", "created_at", "text",
                 repost=(w.kind == "repost").cast("int8"),
                 eng=w.likes.fill_null(0) + w.reposts.fill_null(0) + w.quotes.fill_null(0) + w.replies.fill_null(0))
    if hits:
        h = ibis.union(*hits, distinct=False) if len(hits) > 1 else hits[0]
        score = h.group_by(["spike_id", "platform", "post_id"]).aggregate(score=h.count())
        w = w.left_join(score, ["spike_id", "platform", "post_id"])
        w = w.mutate(score=w.score.fill_null(0))
    else:
        w = w.mutate(score=ibis.literal(0))
    got = store.to_arrow(_best(w, p.representatives))
    text = pa.array([_short(t) for t in got["text"].to_pylist()], pa.string())
    return got.set_column(got.schema.get_field_index("text"), "text", text).cast(schema)


_ORDER = [_.score.desc(), _.repost, _.eng.desc(), _.created_at, _.platform, _.post_id]


def _best(w: Any, k: int) -> Any:
    """The first ``k`` posts per spike in ``_ORDER``, one per text (lower case, without links or a
    retweet prefix)."""
    same = w.text.fill_null("").lower().re_replace(r"https?://\S+|^rt @\S+:?", "").strip()
    w = w.mutate(_same=same)
    w = w.mutate(_dup=ibis.row_number().over(group_by=[_.spike_id, _._same], order_by=_ORDER))
    w = w.filter(w._dup == 0)
    w = w.mutate(rank=ibis.row_number().over(group_by=_.spike_id, order_by=_ORDER) + 1)
    w = w.filter(w["rank"] <= k).order_by(["spike_id", "rank"])
    return w.select("spike_id", "rank", "platform", "post_id", "created_at", "text")
