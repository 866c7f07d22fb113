"""Topic evolution: topic sizes and sentiment over time; emerging and fading topics (``hubbub topics``).

Reads the ``topic`` step's assignments (``enrich_topic``, outliers -1 left out) and labels
(``topics``), and the ``sentiment`` step's scores where it ran. Series (Ibis): per UTC bucket and
topic, posts, share of the selected posts of the bucket, and mean ``sentiment_score``.

Emerging / fading: the selection's buckets are split into *recent* (the last ``recent`` buckets)
and *earlier* (the rest). Given a topic's ``n`` posts, the number in the recent part is binomial
with ``q`` = the share of all selected posts that fall in the recent part when the topic merely
follows the overall volume. Upper and lower tail p-values get Benjamini-Hochberg q-values across
topics; a topic is ``emerging`` (``fading``) when its upper (lower) q-value is at most ``fdr`` and
it has at least ``min_posts`` posts; ``new`` when it has none in the earlier part and is
emerging. ``growth`` = log2 of the ratio of its smoothed recent and earlier shares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
from scipy import stats

from hubbub.analyze.runlog import record_run
from hubbub.analyze.significance import bh_qvalues
from hubbub.store.store import Store

UNITS = {"hour": "h", "day": "D", "week": "W"}


@dataclass(frozen=True)
class TopicParams:
    interval: str = "week"
    recent: int = 1
    fdr: float = 0.05
    min_posts: int = 10

    def check(self) -> None:
        if self.interval not in UNITS:
            raise ValueError(f"interval must be one of {', '.join(UNITS)}, not {self.interval!r}")
        if self.recent < 1 or self.min_posts < 1 or not 0 < self.fdr < 1:
            raise ValueError("need recent >= 1, min_posts >= 1 and 0 < fdr < 1")


@dataclass
class TopicEvolution:
    topics: pa.Table  # topic_id, label, posts, share, first_seen, last_seen, sentiment, ..., trend
    series: pa.Table  # bucket, topic_id, label, posts, share, sentiment
    params: dict[str, Any]
    run_id: str | None


def _topic_rows(store: Store) -> tuple[Any, Any]:
    from hubbub.enrich.registry import all_steps
    from hubbub.query.select import current_rows

    assigned = current_rows(store, "enrich_topic", "topic")
    if assigned is None:
        raise ValueError("topics were not computed: run `hubbub enrich --steps embed,topic` first")
    labels = current_rows(store, "topics", "topic")
    if labels is not None:
        step = all_steps().get("topic")
        if step is not None and "model_id" in labels.columns and hasattr(step, "model_id"):
            labels = labels.filter(labels.model_id == step.model_id)
        labels = labels.select("topic_id", "label")
    return assigned.filter(assigned.topic_id != -1).select("platform", "post_id", "topic_id"), labels


def topic_series(store: Store, posts: Any, interval: str) -> Any:
    """Ibis: bucket, topic_id, posts, share (of the bucket's selected posts), sentiment (mean score)."""
    from hubbub.query.select import current_rows

    assigned, _ = _topic_rows(store)
    unit = UNITS[interval]
    base = posts.select("platform", "post_id", bucket=posts.created_at.truncate(unit))
    totals = base.group_by("bucket").aggregate(total=base.count())
    j = base.join(assigned, ["platform", "post_id"])
    sent = current_rows(store, "enrich_sentiment", "sentiment")
    if sent is not None:
        j = j.left_join(sent.select("platform", "post_id", "sentiment_score"), ["platform", "post_id"])
        score = j.sentiment_score
    else:
        score = ibis.null("float64")
    j = j.select("bucket", "topic_id", score=score)
    g = j.group_by(["bucket", "topic_id"]).aggregate(posts=j.count(), sentiment=j.score.mean())
    g = g.join(totals, "bucket")
    return g.select("bucket", "topic_id", "posts", share=g.posts / g.total.nullif(0), sentiment=g.sentiment)


def topic_evolution(store: Store, posts: Any, params: TopicParams | None = None,
                    selection: dict[str, Any] | None = None) -> TopicEvolution:
    p = params or TopicParams()
    p.check()
    _, labels = _topic_rows(store)
    series = topic_series(store, posts, p.interval)
    if labels is not None:
        series = series.left_join(labels, "topic_id")
        series = series.select("bucket", "topic_id", "label", "posts", "share", "sentiment")
    else:
        series = series.mutate(label=series.topic_id.cast("string"))
    s = store.to_arrow(series.order_by(["bucket", "topic_id"]))
    unit = UNITS[p.interval]
    totals = store.to_arrow(posts.group_by(b=posts.created_at.truncate(unit)).aggregate(n=posts.count())
                            .order_by("b"))
    buckets = totals["b"].to_pylist()
    recent_from = buckets[-p.recent] if len(buckets) > p.recent else None
    df = s.to_pandas()
    rows = []
    if not df.empty:
        all_total = float(sum(totals["n"].to_pylist()))
        recent_total = float(sum(n for b, n in zip(buckets, totals["n"].to_pylist(), strict=True)
                                 if recent_from is not None and b >= recent_from))
        q_share = recent_total / all_total if all_total else 0.0
        df["recent"] = df["bucket"] >= recent_from if recent_from is not None else False
        df["wsent"] = df["sentiment"] * df["posts"]
        for tid, g in df.groupby("topic_id"):
            n = int(g["posts"].sum())
            r = int(g.loc[g["recent"], "posts"].sum())
            sent_n = g.loc[g["sentiment"].notna(), "posts"].sum()
            rows.append({"topic_id": int(tid), "label": g["label"].iloc[0], "posts": n,
                         "share": n / all_total if all_total else None,
                         "first_seen": g["bucket"].min(), "last_seen": g["bucket"].max(),
                         "sentiment": float(g["wsent"].sum() / sent_n) if sent_n else None,
                         "recent_posts": r, "earlier_posts": n - r,
                         "growth": float(np.log2(((r + 0.5) / (recent_total + 1))
                                                 / ((n - r + 0.5) / (all_total - recent_total + 1))))})
        _classify(rows, q_share, p)
    rows.sort(key=lambda r: (-r["posts"], r["topic_id"]))
    schema = pa.schema([("topic_id", pa.int64()), ("label", pa.string()), ("posts", pa.int64()),
                        ("share", pa.float64()), ("first_seen", pa.timestamp("us", tz="UTC")),
                        ("last_seen", pa.timestamp("us", tz="UTC")), ("sentiment", pa.float64()),
                        ("recent_posts", pa.int64()), ("earlier_posts", pa.int64()), ("growth", pa.float64()),
                        ("q_emerging", pa.float64()), ("q_fading", pa.float64()), ("trend", pa.string())])
    for r in rows:
        for k in ("first_seen", "last_seen"):
            r[k] = r[k].tz_localize("UTC") if r[k].tzinfo is None else r[k]
    topics = pa.Table.from_pylist(rows, schema=schema)
    rec = {"analysis": "topics", **asdict(p), "selection": selection or {}, "seed": None,
           "recent_from": recent_from.isoformat() if recent_from is not None else None,
           "model": "binomial test of the recent share, Benjamini-Hochberg across topics"}
    run_id = record_run(store, "topics", rec, {"topics": len(rows)})
    return TopicEvolution(topics, s, rec, run_id)


def _classify(rows: list[dict[str, Any]], q: float, p: TopicParams) -> None:
    n = np.array([r["posts"] for r in rows], float)
    r = np.array([r["recent_posts"] for r in rows], float)
    if 0 < q < 1:
        up = np.where(r > 0, stats.binom.sf(r - 1, n, q), 1.0)  # P(X >= r), X ~ Binomial(n, q)
        down = np.where(r < n, stats.binom.cdf(r, n, q), 1.0)  # P(X <= r)
    else:
        up = down = np.ones(n.size)
    qu, qd = bh_qvalues(up), bh_qvalues(down)
    for row, a, b in zip(rows, qu, qd, strict=True):
        row["q_emerging"], row["q_fading"] = float(a), float(b)
        big = row["posts"] >= p.min_posts
        if big and a <= p.fdr:
            row["trend"] = "new" if row["earlier_posts"] == 0 else "emerging"
        elif big and b <= p.fdr:
            row["trend"] = "fading"
        else:
            row["trend"] = "stable"
