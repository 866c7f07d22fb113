"""Clusters of coordinated accounts: Leiden communities of the combined significant network, and what
each cluster did.

The combined graph has one node per account key and, per pair, the sum of its kept layer weights.
Communities: scikit-network's Leiden (BSD; igraph/leidenalg are GPL and not used), modularity with the
given resolution, seeded so the same input and seed give the same clusters: ``random_state`` seeds its
numpy draws, and the C library's ``rand()`` that its refinement step draws from is seeded with
``srand(seed)`` before every run (without that, two runs on the same graph in one process differed).
Nodes are numbered in the order ``order`` gives them (coordination passes a content-derived account
order, ``layers.account_order``), else in sorted key order, so the result depends neither on edge
order nor on the workspace secret the keys were made with.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sknetwork.clustering import Leiden

from hubbub.analyze.coordination.layers import NORM_TEXT, fetch

TOP = 5
_LEIDEN = threading.Lock()


def _seed_c_rand(seed: int) -> None:
    try:
        ctypes.CDLL(None).srand(ctypes.c_uint(seed))
    except (OSError, AttributeError, TypeError):  # no C library reachable this way (not Linux/macOS)
        pass


def combined(edges: pa.Table) -> pa.Table:
    """(a, b, weight, layers) per pair over the kept edges of all layers."""
    kept = edges.filter(edges["kept"])
    if kept.num_rows == 0:
        return pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.string()),
                         "weight": pa.array([], pa.int64()), "layers": pa.array([], pa.list_(pa.string()))})
    g = kept.group_by(["a", "b"]).aggregate([("weight", "sum"), ("layer", "list")])
    g = g.rename_columns(["a", "b", "weight", "layers"])
    return g.sort_by([("a", "ascending"), ("b", "ascending")])


def leiden_members(graph: pa.Table, resolution: float = 1.0, seed: int = 0, min_size: int = 3,
                   order: dict[str, int] | None = None) -> pa.Table:
    """(author_key, cluster) for accounts in communities of at least ``min_size`` accounts. Nodes are
    numbered by ``order`` (account key -> rank; default: sorted keys). Clusters are numbered 1.. by size
    (largest first), then by their first node."""
    empty = pa.table({"author_key": pa.array([], pa.string()), "cluster": pa.array([], pa.int64())})
    if graph.num_rows == 0:
        return empty
    nodes = pc.unique(pa.concat_arrays([graph["a"].combine_chunks(), graph["b"].combine_chunks()])).sort()
    if order is not None:
        nodes = pa.array(sorted(nodes.to_pylist(), key=lambda k: (order[k], k)), pa.string())
    idx = {k: i for i, k in enumerate(nodes.to_pylist())}
    ai = np.array([idx[k] for k in graph["a"].to_pylist()])
    bi = np.array([idx[k] for k in graph["b"].to_pylist()])
    w = graph["weight"].to_numpy().astype(np.float64)
    n = len(idx)
    adj = sp.coo_matrix((np.concatenate([w, w]), (np.concatenate([ai, bi]), np.concatenate([bi, ai]))),
                        shape=(n, n)).tocsr()
    with _LEIDEN:  # its refinement draws from the C library's one rand() state: seeded, one run at a time
        _seed_c_rand(seed)
        labels = np.asarray(Leiden(resolution=resolution, random_state=seed).fit_predict(adj))
    sizes = np.bincount(labels)
    first = np.full(sizes.size, n, np.int64)
    np.minimum.at(first, labels, np.arange(n))
    big = [lab for lab in range(sizes.size) if sizes[lab] >= min_size]
    big.sort(key=lambda lab: (-sizes[lab], first[lab]))
    number = {lab: i + 1 for i, lab in enumerate(big)}
    keep = [i for i in range(n) if labels[i] in number]
    return pa.table({"author_key": nodes.take(pa.array(keep, pa.int64())) if keep else pa.array([], pa.string()),
                     "cluster": pa.array([number[labels[i]] for i in keep], pa.int64())})


# Over _co_posts (from load_posts: with the posts' ``domains``, the store's one rule for a link's domain)
# and _co_members(author_key, cluster): per cluster, what its accounts posted.
_SUMMARY = f"""WITH mp AS (SELECT m.cluster, p.* FROM _co_posts p JOIN _co_members m ON m.author_key = p.u),
base AS (SELECT cluster, count(*) AS posts, min(ts) AS first_us, max(ts) AS last_us FROM mp GROUP BY cluster),
links AS (SELECT cluster, url, count(*) AS n FROM (SELECT cluster, unnest(list_distinct(urls)) AS url FROM mp)
          GROUP BY cluster, url QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY n DESC, url) <= {TOP}),
doms AS (SELECT cluster, dom, count(*) AS n FROM (
           SELECT cluster, unnest(list_distinct(domains)) AS dom FROM mp) WHERE dom <> ''
         GROUP BY cluster, dom QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY n DESC, dom) <= {TOP}),
tags AS (SELECT cluster, tag, count(*) AS n FROM (
           SELECT cluster, unnest(list_distinct(list_transform(hashtags, lambda h: lower(h)))) AS tag FROM mp)
         GROUP BY cluster, tag QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY n DESC, tag) <= {TOP}),
texts AS (SELECT cluster, norm, count(*) AS n, count(DISTINCT u) AS accounts, arg_min(text, pid) AS text,
                 arg_min(platform || ':' || post_id, pid) AS post
          FROM (SELECT cluster, pid, u, text, platform, post_id, {NORM_TEXT} AS norm FROM mp) WHERE norm <> ''
          GROUP BY cluster, norm HAVING count(DISTINCT u) > 1
          QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY n DESC, norm) <= {TOP})
SELECT b.cluster, b.posts, to_timestamp(b.first_us / 1e6) AS first_post, to_timestamp(b.last_us / 1e6) AS last_post,
  (SELECT list(struct_pack(url := url, n := n) ORDER BY n DESC, url) FROM links l WHERE l.cluster = b.cluster)
    AS top_links,
  (SELECT list(struct_pack(domain := dom, n := n) ORDER BY n DESC, dom) FROM doms d WHERE d.cluster = b.cluster)
    AS top_domains,
  (SELECT list(struct_pack(hashtag := tag, n := n) ORDER BY n DESC, tag) FROM tags t WHERE t.cluster = b.cluster)
    AS top_hashtags,
  (SELECT list(struct_pack(text := text, posts := n, accounts := accounts, post := post) ORDER BY n DESC, norm)
   FROM texts x WHERE x.cluster = b.cluster) AS repeated_texts
FROM base b ORDER BY b.cluster"""


def summaries(con: duckdb.DuckDBPyConnection, members: pa.Table, edges: pa.Table) -> pa.Table:
    """One row per cluster: size, accounts' posts in the selection and their time span, kept edges and
    co-actions (matched action pairs) per layer, top links / domains / hashtags, repeated (exact after
    normalisation) texts with their earliest post as the representative."""
    con.register("_co_members", members)
    try:
        t = fetch(con, _SUMMARY)
    finally:
        con.unregister("_co_members")
    size = members.group_by("cluster").aggregate([("author_key", "count")])
    sizes = dict(zip(size["cluster"].to_pylist(), size["author_key_count"].to_pylist(), strict=True))
    per_layer = _per_layer(members, edges)
    rows = []
    for r in t.to_pylist():
        c = r["cluster"]
        rows.append({"cluster": c, "accounts": sizes[c], **per_layer.get(c, {"layers": {}}), **r})
    return pa.Table.from_pylist(rows) if rows else pa.table({"cluster": pa.array([], pa.int64())})


def _per_layer(members: pa.Table, edges: pa.Table) -> dict[int, dict[str, Any]]:
    cl = dict(zip(members["author_key"].to_pylist(), members["cluster"].to_pylist(), strict=True))
    out: dict[int, dict[str, Any]] = {}
    kept = edges.filter(edges["kept"])
    for layer, a, b, hits in zip(kept["layer"].to_pylist(), kept["a"].to_pylist(), kept["b"].to_pylist(),
                                 kept["hits"].to_pylist(), strict=True):
        c = cl.get(a)
        if c is None or cl.get(b) != c:
            continue
        d = out.setdefault(c, {"layers": {}})["layers"].setdefault(layer, {"edges": 0, "co_actions": 0})
        d["edges"] += 1
        d["co_actions"] += hits
    for v in out.values():
        v["layers"] = [{"layer": k, **v["layers"][k]} for k in sorted(v["layers"])]
    return out
