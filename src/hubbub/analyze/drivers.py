"""What drove a spike (``hubbub spikes``; docs/analyses.md): driver values per dimension, ranked by
the share of the spike's excess they explain, and how concentrated the spike's accounts are.

Dimensions (``DIMENSIONS``): ``kind`` (post, repost, reply, quote), ``topic``, ``hashtag``,
``domain``, ``cluster`` (near-duplicate text cluster), ``coordination`` (the coordinated-account
cluster: the caller passes the clusters, ``Hubbub.spikes`` those of the default coordination analysis
over the posts of the spikes' windows) and ``lang``.

For a spike with ``posts`` observed against ``expected`` (its excess ``E = posts - expected``) and a
value ``v`` with ``o`` posts in the spike and ``r`` of the ``R`` posts of the reference window (the
history before the spike less other spikes): ``expected_v = r / R x expected``, ``excess_v = o -
expected_v`` and ``share_of_excess = excess_v / E``. For a dimension of one value per post the
shares of all its values add up to 1 (a value that only follows the volume still gets its share:
compare ``spike_share = o / posts`` with ``ref_share = r / R`` to tell those apart). Values with at
least ``min_driver_posts`` posts and ``lift = (o + 1) / (expected_v + 1) >= min_ratio`` are kept,
the ``top_drivers`` largest excesses per dimension; p-value: Poisson upper tail at ``expected_v``.

Accounts (``accounts`` dimension and the spike's columns): the number of accounts posting in the
spike, the share of its posts by the 10 most active (``TOP_ACCOUNTS``) and how many accounts,
taken by their own excess (computed as for a value), make half of the spike's excess. Accounts are
counted, never named.

All drivers of a spike are ordered by ``share_of_excess``; the spike's ``top_drivers`` summary
names the ``SUMMARY_DRIVERS`` largest whose share of the spike's posts is at least ``OVER`` times their share of
the reference (values that merely follow the volume, such as the main language, are left out).
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pyarrow as pa
from scipy import special

from hubbub.store.store import Store

DIMENSIONS = ("kind", "topic", "hashtag", "domain", "cluster", "coordination", "lang")
ALL_DIMENSIONS = (*DIMENSIONS, "accounts")
TOP_ACCOUNTS = 10
OVER = 1.25
SUMMARY_DRIVERS = 4
MIN_EXPECTED = 0.1
TEXT_CHARS = 200

DRIVER_SCHEMA = pa.schema([("spike_id", pa.int64()), ("dimension", pa.string()), ("rank", pa.int64()),
                           ("value", pa.string()), ("label", pa.string()), ("posts", pa.int64()),
                           ("expected", pa.float64()), ("excess", pa.float64()), ("share_of_excess", pa.float64()),
                           ("spike_share", pa.float64()), ("ref_share", pa.float64()), ("lift", pa.float64()),
                           ("p_value", pa.float64())])
CONCENTRATION_SCHEMA = pa.schema([("spike_id", pa.int64()), ("accounts", pa.int64()),
                                  ("top10_share", pa.float64()), ("accounts_half_excess", pa.int64())])


def short_text(text: str | None, n: int = TEXT_CHARS) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[:n - 1] + "…"


def poisson_tail(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(X >= count) for X Poisson with mean ``expected``."""
    counts = np.asarray(counts, np.float64)
    return np.where(counts <= 0, 1.0, special.gammainc(np.maximum(counts, 1.0), expected))


# -- values per post ---------------------------------------------------------------------------
def cluster_table(store: Store) -> pa.Table | None:
    """(platform, post_id, cluster_id) of the near-duplicate clusters, None without the step."""
    if not store.has_table("enrich_neardup"):
        return None
    from hubbub.enrich.clusters import neardup_clusters
    from hubbub.enrich.steps.neardup import MIN_CHARS

    return neardup_clusters(store, min_chars=MIN_CHARS).select(["platform", "post_id", "cluster_id"])


def dimension_values(store: Store, posts: Any, dim: str, clusters: pa.Table | None = None,
                     members: pa.Table | None = None) -> Any | None:
    """Ibis table (platform, post_id, created_at, value) of a post's values of one dimension (one row
    per distinct value of a post), or None when the dimension is not available in the store."""
    base = posts.select("platform", "post_id", "created_at", "kind", "author_key", "hashtags", "domains",
                        "lang_declared")
    if dim == "kind":
        return base.select("platform", "post_id", "created_at", value=base.kind)
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
    if dim == "coordination":
        if members is None or members.num_rows == 0:
            return None
        m = ibis.memtable(members.rename_columns(["_ak", "cluster"]))
        j = base.join(m, base.author_key == m._ak)
        return j.select("platform", "post_id", "created_at", value=j.cluster.cast("string"))
    if dim == "accounts":
        out = base.select("platform", "post_id", "created_at", value=base.author_key)
        return out.filter(out.value.notnull())
    raise ValueError(f"unknown dimension {dim!r}; choose from {', '.join(DIMENSIONS)}")


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


_AGG_COLUMN = {"lang": "lang", "topic": "topic_id", "kind": "kind"}
_AGG_SOURCE = {"lang": ("enrich_lang", "lang"), "topic": ("enrich_topic", "topic")}


def bucket_values(store: Store, posts: Any, dim: str, unit: str, clusters: pa.Table | None = None,
                  agg: Any | None = None, members: pa.Table | None = None) -> Any | None:
    """Ibis table (bucket, value, n): the posts per UTC bucket (``unit``: ``h`` or ``D``) carrying each
    value of a dimension, from the hourly aggregate ``agg`` for kind, language and topic when it
    counts the same posts, else from ``dimension_values``; None when the dimension is not available."""
    col = _AGG_COLUMN.get(dim)
    source = _AGG_SOURCE.get(dim)
    if dim == "topic" and not store.has_table("enrich_topic"):
        return None
    if agg is not None and col is not None and (
            source is None or not store.has_table(source[0]) or _current_only(store, *source)):
        a = agg.filter(agg[col].notnull() & (agg[col] != -1) if dim == "topic" else agg[col].notnull())
        return a.group_by(bucket=a.hour.truncate(unit), value=a[col].cast("string")).aggregate(
            n=a.posts.sum().cast("int64"))
    vals = dimension_values(store, posts, dim, clusters, members)
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


# -- the drivers -------------------------------------------------------------------------------
def windows(groups: list[tuple[int, int]], times: np.ndarray, y: np.ndarray, mu: np.ndarray,
            spike_of: np.ndarray, ref_buckets: int) -> tuple[pa.Table, dict[tuple[int, str], tuple[float, float]]]:
    """(spike_id, bucket, role): each spike's own buckets and its reference buckets (the
    ``ref_buckets`` before it, less the buckets of any spike); and per (spike_id, role) the posts
    and expected posts."""
    ids, buckets, roles = [], [], []
    totals: dict[tuple[int, str], tuple[float, float]] = {}
    for k, (a, b) in enumerate(groups):
        ref = np.arange(max(0, a - ref_buckets), a)
        ref = ref[spike_of[ref] < 0]
        for idx, role in ((np.arange(a, b + 1), "spike"), (ref, "ref")):
            ids.append(np.full(idx.size, k + 1, np.int64))
            buckets.append(times[idx])
            roles.extend([role] * idx.size)
            totals[(k + 1, role)] = (float(y[idx].sum()), float(np.nansum(mu[idx])))
    table = pa.table({"spike_id": pa.array(np.concatenate(ids) if ids else [], pa.int64()),
                      "bucket": pa.array(np.concatenate(buckets) if buckets else [], pa.int64())
                      .cast(pa.timestamp("us")),
                      "role": pa.array(roles, pa.string())})
    return table, totals


def _wide(counts: Any) -> Any:
    return counts.pivot_table(index=["spike_id", "value"], columns="role", values="n", fill_value=0)


def _side(g: Any, role: str) -> np.ndarray:
    return g[role].to_numpy(float) if role in g else np.zeros(len(g))


def _rates(g: Any, tot: dict[tuple[int, str], tuple[float, float]], sid: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]:
    """(observed, expected, reference counts, spike posts, reference posts, spike excess) of a group."""
    obs, ref = _side(g, "spike"), _side(g, "ref")
    ref_total = tot[(sid, "ref")][0]
    spike_obs, spike_exp = tot[(sid, "spike")]
    exp = ref / ref_total * spike_exp if ref_total > 0 else np.zeros(len(g))
    return obs, exp, ref, spike_obs, ref_total, spike_obs - spike_exp


def explain(store: Store, posts: Any, unit: str, groups: list[tuple[int, int]], win_table: pa.Table,
            tot: dict[tuple[int, str], tuple[float, float]], top: int, min_posts: int, min_ratio: float,
            clusters: pa.Table | None = None, members: pa.Table | None = None, agg: Any | None = None
            ) -> tuple[pa.Table, pa.Table]:
    """(drivers, account concentration per spike) of the spikes ``groups`` over ``posts``."""
    if not groups:
        return DRIVER_SCHEMA.empty_table(), CONCENTRATION_SCHEMA.empty_table()
    win = ibis.memtable(win_table)
    rows: list[dict[str, Any]] = []
    for dim in DIMENSIONS:
        vals = bucket_values(store, posts, dim, unit, clusters, agg, members)
        if vals is None:
            continue
        counts = store.to_arrow(window_counts(vals, win, min_posts)).to_pandas()
        if counts.empty:
            continue
        for sid, g in _wide(counts).groupby(level=0):
            obs, exp, ref, spike_obs, ref_total, excess = _rates(g, tot, int(sid))
            lift = (obs + 1) / (exp + 1)
            keep = (obs >= min_posts) & (lift >= min_ratio)
            values = g.index.get_level_values(1).to_numpy()[keep]
            o, e, r, lf = obs[keep], exp[keep], ref[keep], lift[keep]
            order = np.lexsort((values, -(o - e)))[:top]
            pv = poisson_tail(o[order], np.maximum(e[order], MIN_EXPECTED))
            for rank, (i, pval) in enumerate(zip(order, pv, strict=True)):
                rows.append(_row(int(sid), dim, rank + 1, str(values[i]), o[i], e[i], r[i], spike_obs, ref_total,
                                 excess, float(lf[i]), float(pval)))
    conc, acc_rows = _accounts(store, posts, unit, win, tot)
    rows.extend(acc_rows)
    labels = _labels(store, rows, members)
    for r in rows:
        r["label"] = r["label"] or labels.get((r["dimension"], r["value"]), r["value"])
    rows.sort(key=lambda r: (r["spike_id"], -(r["share_of_excess"] or 0.0), ALL_DIMENSIONS.index(r["dimension"]),
                             r["rank"]))
    return pa.Table.from_pylist(rows, schema=DRIVER_SCHEMA), conc


def _row(sid: int, dim: str, rank: int, value: str, o: float, e: float, r: float, spike_obs: float,
         ref_total: float, excess: float, lift: float, pval: float, label: str | None = None) -> dict[str, Any]:
    return {"spike_id": sid, "dimension": dim, "rank": rank, "value": value, "label": label, "posts": int(o),
            "expected": round(float(e), 2), "excess": round(float(o - e), 2),
            "share_of_excess": round(float(o - e) / excess, 4) if excess > 0 else None,
            "spike_share": round(float(o) / spike_obs, 4) if spike_obs > 0 else None,
            "ref_share": round(float(r) / ref_total, 4) if ref_total > 0 else None,
            "lift": round(lift, 2), "p_value": pval}


def _accounts(store: Store, posts: Any, unit: str, win: Any, tot: dict[tuple[int, str], tuple[float, float]]
              ) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Per spike: accounts posting, the top accounts' share of the posts, the number of accounts that
    make half the excess (CONCENTRATION_SCHEMA), and the top accounts as one ``accounts`` driver."""
    vals = bucket_values(store, posts, "accounts", unit)
    counts = store.to_arrow(window_counts(vals, win, 1)).to_pandas()
    conc: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    if counts.empty:
        return CONCENTRATION_SCHEMA.empty_table(), rows
    for sid, g in _wide(counts).groupby(level=0):
        obs, exp, ref, spike_obs, ref_total, excess = _rates(g, tot, int(sid))
        n = int((obs > 0).sum())
        # most posts first; among equal counts the smaller expected first: the sums never depend on
        # which of two equal accounts comes first (nor on their keys)
        top = np.lexsort((exp, -obs))[:TOP_ACCOUNTS]
        reach = np.cumsum(np.sort(obs - exp)[::-1]) >= excess / 2
        half = int(np.argmax(reach)) + 1 if excess > 0 and reach.any() else None
        share = float(obs[top].sum() / spike_obs) if spike_obs > 0 else 0.0
        conc.append({"spike_id": int(sid), "accounts": n, "top10_share": round(share, 4),
                     "accounts_half_excess": half})
        label = (f"top {min(TOP_ACCOUNTS, n)} of {n} accounts: {share:.0%} of posts"
                 + (f"; {half} accounts make half the excess" if half else ""))
        o, e, r = obs[top].sum(), exp[top].sum(), ref[top].sum()
        pv = float(poisson_tail(np.array([o]), np.array([max(e, MIN_EXPECTED)]))[0])
        rows.append(_row(int(sid), "accounts", 1, f"top {TOP_ACCOUNTS}", o, e, r, spike_obs, ref_total, excess,
                         float((o + 1) / (e + 1)), pv, label))
    return pa.Table.from_pylist(conc, schema=CONCENTRATION_SCHEMA), rows


def _labels(store: Store, rows: list[dict[str, Any]], members: pa.Table | None) -> dict[tuple[str, str], str]:
    """Readable labels: a topic's label, a cluster's first text (truncated), '#tag' for hashtags,
    a coordination cluster's size."""
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
        out.update({("cluster", k): short_text(t) for k, t in zip(got["key"].to_pylist(), got["text"].to_pylist(),
                                                                  strict=True)})
    if members is not None:
        sizes = members.group_by("cluster").aggregate([("author_key", "count")])
        out.update({("coordination", str(c)): f"coordinated cluster {c} ({n} accounts)"
                    for c, n in zip(sizes["cluster"].to_pylist(), sizes["author_key_count"].to_pylist(), strict=True)})
    out.update({("hashtag", r["value"]): "#" + r["value"] for r in rows if r["dimension"] == "hashtag"})
    return out


def summary(drivers: pa.Table) -> dict[int, str]:
    """Per spike, its largest drivers by share of the excess among those over-represented in the
    spike: 'kind repost (97% of excess); accounts top 10 of 214 ... (35%)'."""
    out: dict[int, list[str]] = {}
    for d in drivers.to_pylist():
        over = d["ref_share"] is None or (d["spike_share"] or 0) >= OVER * d["ref_share"]
        if not over or d["share_of_excess"] is None or len(out.get(d["spike_id"], [])) >= SUMMARY_DRIVERS:
            continue
        label = d["label"] if d["dimension"] != "cluster" else short_text(d["label"], 40)
        out.setdefault(d["spike_id"], []).append(f"{d['dimension']} {label} ({d['share_of_excess']:.0%} of excess)")
    return {k: "; ".join(v) for k, v in out.items()}
