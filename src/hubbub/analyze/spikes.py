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
5. **Drivers** (``analyze.drivers``): for each spike and each dimension (post kind, topic, hashtag,
   domain, near-duplicate cluster, coordinated-account cluster, language) the posts carrying a
   value in the spike are compared with the value's own baseline: its share of the posts in the
   reference window (the ``history_days`` before the spike, less the buckets of other spikes) times
   the spike's expected volume. Values with at least ``min_driver_posts`` posts and ``lift =
   (posts + 1) / (expected + 1) >= min_ratio`` are kept, the largest excesses (posts - expected)
   of each dimension; each carries ``share_of_excess`` (its excess / the spike's excess) and all of
   a spike's drivers are ranked by it. Account concentration: accounts posting, the top 10
   accounts' share of the posts and how many accounts make half the excess (counts only).
   p-value: Poisson upper tail at the expected count (for reading, not used to rank). Hashtags are
   compared case-insensitively. A spike of several buckets reports its ``peak`` (the bucket of the
   largest excess) with ``peak_posts`` and ``peak_expected``.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis import _
from scipy import stats

from hubbub.analyze import drivers as drv
from hubbub.analyze.aggregates import hourly
from hubbub.analyze.runlog import record_run
from hubbub.analyze.significance import bh_qvalues
from hubbub.canonical import KEY_PATTERN
from hubbub.privacy import KEY_PREFIX
from hubbub.query.compile import Frame, aggregate_covers, compile_node
from hubbub.query.parse import fields_used, parse
from hubbub.store.store import Store

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
INTERVALS = {"hour": (HOUR_US, "h"), "day": (DAY_US, "D")}
DIMENSIONS = drv.ALL_DIMENSIONS
MIN_EXPECTED = drv.MIN_EXPECTED


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
    coordination: bool = True  # the ``coordination`` driver dimension (when detect_spikes is given ``coordinated``)

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
    grid: np.ndarray = np.full(n_days * per_day, np.nan)
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
                  selection: dict[str, Any] | None = None, span: tuple[datetime, datetime] | None = None,
                  coordinated: Callable[[Store, Any], pa.Table] | None = None) -> SpikeResult:
    """Spikes in the posts of the Ibis table ``posts`` (already filtered by the caller's query).

    ``span``: the first and last time of the collection the selection was taken from (e.g. the
    dataset's), so that the days before a topic's first post count as zero instead of missing.
    ``coordinated``: (store, posts) -> (author_key, cluster) of coordinated accounts among posts
    (``analyze.coordination.coordinated_accounts``), for the ``coordination`` driver dimension."""
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
    drivers, conc, reps = _explain(store, posts, p, groups, times, y, mu, spike_of, agg,
                                   coordinated if p.coordination else None)
    summary = drv.summary(drivers)
    spikes = _join_concentration(spikes, conc)
    spikes = spikes.append_column("top_drivers", pa.array([summary.get(i, "") for i in spikes["spike_id"].to_pylist()],
                                                          pa.string()))
    params_rec = {"analysis": "spikes", **asdict(p), "selection": selection or {}, "seed": None,
                  "model": "median level x weekday x hour-of-day baseline; negative binomial upper tail; BH",
                  "posts_selected": int(y.sum()), "last_bucket": series["bucket"][-1].as_py().isoformat()}
    run_id = record_run(store, "spikes", params_rec, {"buckets": n, "tested": int(tested.sum()),
                                                      "spikes": len(groups), "dispersion": alpha})
    return SpikeResult(series, spikes, drivers, reps, alpha, params_rec, run_id)


_CACHED = ("platform", "post_id", "created_at", "kind", "author_key", "text", "hashtags", "domains",
           "lang_declared", "likes", "reposts", "quotes", "replies")


def _explain(store: Store, posts: Any, p: SpikeParams, groups: list[tuple[int, int]], times: np.ndarray,
             y: np.ndarray, mu: np.ndarray, spike_of: np.ndarray, agg: Any | None,
             coordinated: Callable[[Store, Any], pa.Table] | None) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Drivers, account concentration and representative posts, reading the posts of the windows'
    time range once (cached)."""
    step, unit = INTERVALS[p.interval]
    windows, tot = drv.windows(groups, times, y, mu, spike_of, p.history_days * (DAY_US // step))
    if not groups:  # empty tables
        drivers, conc = drv.explain(store, posts, unit, groups, windows, tot, p.top_drivers, p.min_driver_posts,
                                    p.min_ratio)
        return drivers, conc, _representatives(store, posts, p, windows, drivers, None)
    lo = _ts(times[max(0, groups[0][0] - p.history_days * (DAY_US // step))])
    hi = _ts(times[groups[-1][1]] + step)
    clusters = drv.cluster_table(store)
    inside = posts.filter((posts.created_at >= lo) & (posts.created_at < hi))
    members = coordinated(store, inside) if coordinated is not None else None
    members = members if members is not None and members.num_rows else None
    cached = inside.select(*_CACHED).cache()
    try:
        drivers, conc = drv.explain(store, cached, unit, groups, windows, tot, p.top_drivers, p.min_driver_posts,
                                    p.min_ratio, clusters, members, agg)
        return drivers, conc, _representatives(store, cached, p, windows, drivers, clusters)
    finally:
        _release(store, cached)


def _join_concentration(spikes: pa.Table, conc: pa.Table) -> pa.Table:
    """The spikes with their account concentration columns (null where no account posted)."""
    by = {r["spike_id"]: r for r in conc.to_pylist()}
    for f in drv.CONCENTRATION_SCHEMA:
        if f.name != "spike_id":
            vals = [by.get(i, {}).get(f.name) for i in spikes["spike_id"].to_pylist()]
            spikes = spikes.append_column(f, pa.array(vals, f.type))
    return spikes


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
                     "buckets": b - a + 1,
                     "peak_posts": int(y[peak]), "peak_expected": round(float(mu[peak]), 1),
                     "posts": int(obs), "expected": round(exp, 1),
                     "excess": round(obs - exp, 1), "ratio": round(obs / exp, 2) if exp > 0 else None,
                     "q_value": float(np.nanmin(q[seg])), "baseline": why})
    schema = pa.schema([("spike_id", pa.int64()), ("start", pa.timestamp("us", tz="UTC")),
                        ("end", pa.timestamp("us", tz="UTC")), ("peak", pa.timestamp("us", tz="UTC")),
                        ("buckets", pa.int64()), ("peak_posts", pa.int64()), ("peak_expected", pa.float64()),
                        ("posts", pa.int64()), ("expected", pa.float64()),
                        ("excess", pa.float64()), ("ratio", pa.float64()), ("q_value", pa.float64()),
                        ("baseline", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


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
        vals = drv.dimension_values(store, inside, dim, clusters)
        if vals is None:
            continue
        vals = vals.filter(vals.value.isin(sorted(set(top.filter(pc.equal(top["dimension"], dim))["value"]
                                                      .to_pylist()))))
        vals = vals.mutate(bucket=vals.created_at.truncate(unit), dimension=ibis.literal(dim)).join(win, "bucket")
        hits.append(vals.join(top_t, ["spike_id", "dimension", "value"]).select("spike_id", "platform", "post_id"))
    w = posts.mutate(bucket=posts.created_at.truncate(unit)).join(win, "bucket")
    w = w.select("spike_id", "platform", "post_id", "created_at", "text",
                 _masked=w.text.fill_null("").re_replace(KEY_PATTERN, KEY_PREFIX),
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
    text = pa.array([drv.short_text(t) for t in got["text"].to_pylist()], pa.string())
    return got.set_column(got.schema.get_field_index("text"), "text", text).cast(schema)


_ORDER = [_.score.desc(), _.repost, _.eng.desc(), _.created_at, _.platform, _._masked, _.post_id]


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
