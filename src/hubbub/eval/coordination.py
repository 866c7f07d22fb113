"""``hubbub eval --tasks coordination``: synthetic coordinated campaigns, with ground truth, injected into
real posts, and decoy organic virality; precision and recall of accounts and clusters, with and without
the null model.

Background: the first ``DAYS`` days of ``coortweet-coordination-samples/german_elections_2021.csv``
(real Facebook and Twitter posts around the 2021 German election: accounts, times, shared URL and
hashtag ids). Injected (seeded, deterministic):

- campaigns (``CAMPAIGNS``): new accounts acting together over the days on links (new or already popular
  ones), reposts, hashtags already in use and copied texts; they vary in size (5-50 accounts), tempo
  (events), jitter (seconds between members; one campaign is slower than the window) and text variation
  (share of members that change the text, which exact co-text cannot match); each member also makes a
  few ordinary posts;
- decoys: ``VIRAL_EVENTS`` bursts in which 150-300 real background accounts (drawn from one pool of
  ``DECOY_POOL`` accounts, so the same accounts meet again) share one viral link, post or hashtag within
  minutes: organic virality that makes ordinary accounts co-act by chance.

Scoring: accounts in reported clusters (at least ``min_cluster_size`` accounts) are the detections;
accounts already detected on the background alone (real coordination in the German data, unknown
ground truth) are left out of the counts and reported apart. Precision = campaign accounts detected /
accounts detected; recall = campaign accounts detected / campaign accounts. A campaign counts as
found when one cluster holds at least half of its accounts and is at least half made of them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from hubbub.analyze.coordination import build_edges, combined, leiden_members, make_layers
from hubbub.analyze.coordination.layers import account_order, load_posts_table

GERMAN = "coortweet-coordination-samples/german_elections_2021.csv"
DAYS = 7
LAYERS = ("link", "repost", "text", "hashtag")
WINDOW = 60.0
MIN_WEIGHT = 2
MIN_CLUSTER = 3
SEED = 7
# size, events, jitter (s), text variation, what the campaign pushes
CAMPAIGNS = [
    (5, 8, 20, 0.0, "link"), (8, 6, 40, 0.2, "text"), (12, 10, 30, 0.0, "repost"), (20, 5, 50, 0.5, "text"),
    (30, 8, 10, 0.3, "mixed"), (50, 4, 55, 0.0, "hashtag"), (15, 12, 120, 0.0, "link"), (10, 6, 5, 0.0, "mixed"),
]
VIRAL_EVENTS = 40
DECOY_POOL = 800
ORGANIC_PER_MEMBER = 5


def background(data_dir: Path, days: int = DAYS) -> list[dict[str, Any]]:
    path = data_dir / GERMAN
    if not path.exists():
        raise FileNotFoundError(f"{path}: the German election sample is needed for the coordination evaluation")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append(r)
    t0 = min(int(r["timestamp"]) for r in rows)
    end = t0 + days * 86400
    out = []
    for r in rows:
        ts = int(r["timestamp"])
        if ts < end:
            out.append({"u": r["account_id"], "ts": ts, "post_id": r["post_id"], "kind": "post", "reposted_id": None,
                        "urls": [f"https://u.invalid/{r['url_id']}"] if r["url_id"] else [],
                        "hashtags": [f"h{r['hashtag_id']}"] if r["hashtag_id"] else [], "text": None})
    return out


def _popular(rows: list[dict[str, Any]], field: str, k: int = 50) -> list[str]:
    counts: dict[str, int] = {}
    for r in rows:
        for v in r[field]:
            counts[v] = counts.get(v, 0) + 1
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def inject(rows: list[dict[str, Any]], seed: int = SEED) -> tuple[list[dict[str, Any]], dict[str, int], set[str]]:
    """Background plus campaigns plus decoys; returns (posts, account -> campaign, decoy accounts)."""
    rng = np.random.default_rng(seed)
    t0 = min(r["ts"] for r in rows)
    t1 = max(r["ts"] for r in rows)
    pop_urls, pop_tags = _popular(rows, "urls"), _popular(rows, "hashtags")
    out = list(rows)
    truth: dict[str, int] = {}
    n = 0

    def post(u: str, ts: float, kind: str = "post", reposted: str | None = None, urls: list[str] | None = None,
             tags: list[str] | None = None, text: str | None = None) -> None:
        nonlocal n
        n += 1
        out.append({"u": u, "ts": int(ts), "post_id": f"inj{n}", "kind": kind, "reposted_id": reposted,
                    "urls": urls or [], "hashtags": tags or [], "text": text})

    for c, (size, events, jitter, variation, what) in enumerate(CAMPAIGNS, start=1):
        members = [f"campaign{c}_{i}" for i in range(size)]
        truth.update({m: c for m in members})
        for e in range(events):
            start = rng.uniform(t0, t1 - 600)
            kind = what if what != "mixed" else ("link", "repost", "text", "hashtag")[e % 4]
            item = {"link": (pop_urls[int(rng.integers(len(pop_urls)))] if rng.random() < 0.5
                             else f"https://campaign{c}.invalid/story/{e}"),
                    "repost": f"campaign{c}-post{e}", "hashtag": pop_tags[int(rng.integers(len(pop_tags)))],
                    "text": f"campaign {c} says message number {e} about the election, share it now"}[kind]
            for m in members:
                if rng.random() > 0.8:
                    continue  # not every member joins every event
                ts = start + rng.uniform(0, jitter)
                if kind == "link":
                    post(m, ts, urls=[item])
                elif kind == "repost":
                    post(m, ts, kind="repost", reposted=item)
                elif kind == "hashtag":
                    post(m, ts, tags=[item])
                else:
                    text = item if rng.random() >= variation else f"{item} {int(rng.integers(1_000_000))}"
                    post(m, ts, text=text)
        for m in members:
            for _ in range(ORGANIC_PER_MEMBER):
                ts = rng.uniform(t0, t1)
                post(m, ts, urls=[pop_urls[int(rng.integers(len(pop_urls)))]] if rng.random() < 0.5 else [],
                     tags=[pop_tags[int(rng.integers(len(pop_tags)))]] if rng.random() < 0.5 else [])
    accounts = sorted({r["u"] for r in rows})
    pool = [accounts[i] for i in rng.choice(len(accounts), size=min(DECOY_POOL, len(accounts)), replace=False)]
    decoys: set[str] = set()
    for v in range(VIRAL_EVENTS):
        start = rng.uniform(t0, t1 - 3600)
        kind = ("link", "repost", "hashtag")[v % 3]
        sharers = rng.choice(len(pool), size=int(rng.integers(150, 301)), replace=False)
        for i in sharers:
            u = pool[int(i)]
            decoys.add(u)
            ts = start + rng.exponential(120.0)
            if kind == "link":
                post(u, ts, urls=[f"https://viral.invalid/{v}"])
            elif kind == "repost":
                post(u, ts, kind="repost", reposted=f"viral-post-{v}")
            else:
                post(u, ts, tags=[f"viral{v}"])
    return out, truth, decoys


def _table(posts: list[dict[str, Any]]) -> pa.Table:
    posts = sorted(posts, key=lambda r: (r["ts"], r["post_id"]))
    return pa.table({
        "pid": pa.array(np.arange(len(posts), dtype=np.int64)), "u": [r["u"] for r in posts],
        "ts": pa.array([r["ts"] * 1_000_000 for r in posts], pa.int64()), "platform": ["other"] * len(posts),
        "post_id": [r["post_id"] for r in posts], "kind": [r["kind"] for r in posts],
        "reposted_id": [r["reposted_id"] for r in posts], "parent_id": pa.nulls(len(posts), pa.string()),
        "urls": [r["urls"] for r in posts], "hashtags": [r["hashtags"] for r in posts],
        "text": [r["text"] for r in posts]})


def detect(posts: pa.Table, null: bool, seed: int = 0, layers: tuple[str, ...] = LAYERS) -> pa.Table:
    """(author_key, cluster) of the posts' coordinated clusters."""
    con = duckdb.connect()
    try:
        load_posts_table(con, posts)
        edges = build_edges(con, make_layers(layers, WINDOW, MIN_WEIGHT), null=null)
        return leiden_members(combined(edges), seed=seed, min_size=MIN_CLUSTER, order=account_order(con))
    finally:
        con.close()


def score(members: pa.Table, truth: dict[str, int], decoys: set[str], known: set[str]) -> dict[str, Any]:
    found = dict(zip(members["author_key"].to_pylist(), members["cluster"].to_pylist(), strict=True))
    pred = {u for u in found if u not in known}
    tp = sum(1 for u in pred if u in truth)
    sizes: dict[int, int] = {}
    for c in truth.values():
        sizes[c] = sizes.get(c, 0) + 1
    clusters: dict[int, list[str]] = {}
    for u, c in found.items():
        clusters.setdefault(c, []).append(u)
    new_clusters = [us for us in clusters.values() if any(u not in known for u in us)]
    recovered = set()
    good = 0
    for us in new_clusters:
        per: dict[int, int] = {}
        for u in us:
            if u in truth:
                per[truth[u]] = per.get(truth[u], 0) + 1
        best = max(per.items(), key=lambda kv: kv[1], default=(0, 0))
        if best[1] * 2 >= len(us):
            good += 1
            if best[1] * 2 >= sizes[best[0]]:
                recovered.add(best[0])
    return {"precision": tp / len(pred) if pred else 1.0, "recall": tp / len(truth),
            "accounts_detected": len(pred), "decoy_false_positives": sum(1 for u in pred if u in decoys),
            "other_false_positives": sum(1 for u in pred if u not in truth and u not in decoys),
            "campaigns_found": len(recovered), "campaigns": len(sizes),
            "cluster_precision": good / len(new_clusters) if new_clusters else 1.0,
            "background_accounts_left_out": len(known & set(found))}


def evaluate_coordination(data_dir: Path, split: str = "validation", limit: int | None = None,
                          days: int = DAYS, seed: int = SEED) -> dict[str, Any]:
    """The report's rows: one per setting (with / without the null model; with the near-duplicate co-text
    layer added, which also matches the members that changed the text). ``split`` and ``limit`` do not
    apply (no labelled split: the ground truth is injected)."""
    bg = background(data_dir, days)
    posts, truth, decoys = inject(bg, seed)
    table = _table(posts)
    rows = []
    settings = [("null model", True, LAYERS), ("no null model", False, LAYERS),
                ("null model + near-duplicate co-text", True, (*LAYERS, "near"))]
    for name, null, layers in settings:
        known = set(detect(_table(bg), null, layers=layers)["author_key"].to_pylist())
        r = score(detect(table, null, layers=layers), truth, decoys, known)
        rows.append({"setting": name, **r})
    return {"task": "coordination", "rows": rows, "background_posts": len(bg), "posts": table.num_rows,
            "campaign_accounts": len(truth), "decoy_accounts": len(decoys), "window_s": WINDOW,
            "min_weight": MIN_WEIGHT, "layers": ",".join(LAYERS), "seed": seed}
