"""Near-duplicate clusters (copypasta, templated posts) from the keys of the ``neardup`` step (derived
enrichment: exports, queries and analyses read them, so they sit in the enrich layer).

``neardup_clusters`` links two posts when
- their normalised texts are identical (same ``nd_text_hash``), or
- they share an LSH band key and their MinHash signatures agree on at least ``threshold`` of
  the positions (the estimated Jaccard similarity of their character 5-gram sets; default 0.6,
  standard error about 0.04 at 0.6 with 128 permutations),
and returns the connected components of that graph with at least ``min_size`` posts.

How it scales: posts are numbered in (created_at, platform, post_id) order. Candidates are made
in DuckDB: each group of identical normalised texts is linked to its first post, then only those
first posts take part in the band step (``unnest`` of the keys, ``GROUP BY`` key keeping buckets
of two or more with their first member, joined back), where every bucket member is linked to the
bucket's first member: linear in the number of keys, never all pairs of a bucket, so a text
reposted thousands of times costs one edge per copy. Only the band candidates' signatures are
read; the candidate edges are checked on them with numpy, and the components found by scipy's
``connected_components``. 173k IRA tweets: about 2 s.

Cluster id: ``<platform>:<post_id>`` of the cluster's *earliest* post (created_at, then
platform, post_id), i.e. the first known appearance of the text. Adding posts later keeps a
cluster's id unless it merges with another cluster (the merged cluster takes the older id) or a
new member is older than all the others (a backfill). Because every link goes to the earliest
post of its text or bucket, posts newer than the ones clustered never change which links the
existing posts have, so (with the same parameters) existing clusters never split or lose
members; they only grow or merge.

Only the rows written by the current step version are used; signatures made with different seeds
cannot be compared, so mixing them is an error (re-run the step with one seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hubbub.enrich.steps.neardup import NeardupStep
from hubbub.store.store import Store

DEFAULT_THRESHOLD = 0.6

# the posts to cluster, in the order that numbers them (and makes the earliest the root)
_NODES = """SELECT p.platform, p.post_id, e.nd_text_hash AS h, e.nd_band_keys AS keys
  FROM posts p JOIN enrich_neardup e ON e.platform = p.platform AND e.post_id = p.post_id
  WHERE (? IS NULL OR p.dataset = ?) AND e.step_version = ? AND e.nd_len >= ?
  ORDER BY p.created_at NULLS LAST, p.platform, p.post_id"""

# over the registered node table _nd_nodes(idx, h, keys): exact-duplicate edges (each copy to the
# first post of its text) and band edges (each bucket member to the bucket's first member), only
# among the first posts of each text; buckets of one post are dropped before the join.
_EDGES = """WITH exact AS (
  SELECT idx, min(idx) OVER (PARTITION BY h) AS root, keys FROM _nd_nodes WHERE h IS NOT NULL),
bands AS (SELECT idx, unnest(keys) AS k FROM exact WHERE idx = root AND keys IS NOT NULL),
buckets AS (SELECT k, min(idx) AS root FROM bands GROUP BY k HAVING count(*) > 1)
SELECT root, idx, TRUE AS same FROM exact WHERE idx <> root
UNION ALL
SELECT DISTINCT u.root, b.idx, FALSE AS same FROM bands b JOIN buckets u ON u.k = b.k WHERE b.idx <> u.root"""


def _check_seeds(store: Store) -> None:
    runs = store.query(
        """SELECT DISTINCT r.params FROM runs r
        WHERE r.run_id IN (SELECT DISTINCT run_id FROM enrich_neardup WHERE step_version = ?)""",
        [NeardupStep.version],
    )["params"].to_pylist()
    made = {orjson.dumps({k: p.get(k) for k in ("seed", "params")}, option=orjson.OPT_SORT_KEYS)
            for p in map(orjson.loads, runs)}
    if len(made) > 1:
        raise ValueError("enrich_neardup mixes runs with different seeds or parameters; their signatures "
                         "cannot be compared: delete table enrich_neardup and run the step again with one seed")


def components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected components of nodes 0..n-1 with edges src-dst (scipy's ``connected_components``): for
    every node, the smallest node of its component."""
    graph = coo_matrix((np.ones(len(src), np.int8), (np.asarray(src, np.int64), np.asarray(dst, np.int64))),
                       shape=(n, n))
    count, label = connected_components(graph, directed=False)
    smallest = np.full(count, n, np.int64)
    np.minimum.at(smallest, label, np.arange(n, dtype=np.int64))
    return smallest[label]


def _signatures(store: Store, keys: pa.Table) -> np.ndarray:
    """(len(keys), num_perm) uint32 signatures of the posts ``keys`` (platform, post_id), in order."""
    con = store.con
    con.register("_nd_need", keys.append_column("_ord", pa.array(np.arange(keys.num_rows, dtype=np.int64))))
    try:
        blobs = store.query(
            """SELECT e.nd_minhash FROM _nd_need q
            JOIN enrich_neardup e ON e.platform = q.platform AND e.post_id = q.post_id ORDER BY q._ord""")
    finally:
        con.unregister("_nd_need")
    if blobs.num_rows != keys.num_rows:
        raise RuntimeError("enrich_neardup changed while clustering")
    return np.frombuffer(b"".join(blobs["nd_minhash"].to_pylist()), "<u4").reshape(keys.num_rows, -1)


def neardup_clusters(store: Store, dataset: str | None = None, min_size: int = 2,
                     threshold: float = DEFAULT_THRESHOLD, min_chars: int = 1) -> pa.Table:
    """(platform, post_id, cluster_id, cluster_size) of every post in a near-duplicate cluster of at
    least ``min_size`` posts, ordered by cluster then time. Needs the ``neardup`` enrichment step.

    ``threshold``: the estimated Jaccard similarity of character 5-gram sets that a band-key
    candidate pair needs (0 < threshold <= 1); identical normalised texts are always linked.
    ``min_chars``: posts whose normalised text is shorter are left out (default 1: all but those
    with nothing left, such as link-only posts; ``MIN_CHARS`` = 20 keeps only texts with a
    signature, dropping exact duplicates of short texts such as "lmao" or "just posted a photo")."""
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    empty = pa.table({"platform": pa.array([], pa.string()), "post_id": pa.array([], pa.string()),
                      "cluster_id": pa.array([], pa.string()), "cluster_size": pa.array([], pa.int64())})
    if not store.has_table("enrich_neardup"):
        raise ValueError("no near-duplicate keys yet: run the 'neardup' enrichment step first")
    _check_seeds(store)
    nodes = store.query(_NODES, [dataset, dataset, NeardupStep.version, max(1, min_chars)])
    n = nodes.num_rows
    if n == 0:
        return empty
    con = store.con
    con.register("_nd_nodes", pa.table({"idx": np.arange(n, dtype=np.int64), "h": nodes["h"], "keys": nodes["keys"]}))
    try:
        edges = store.query(_EDGES)
    finally:
        con.unregister("_nd_nodes")
    src, dst = edges["root"].to_numpy(), edges["idx"].to_numpy()
    cand = np.flatnonzero(~edges["same"].to_numpy(zero_copy_only=False))
    if cand.size:  # band candidates: keep those whose signatures agree on >= threshold of positions
        need = np.unique(np.concatenate([src[cand], dst[cand]]))
        sig = _signatures(store, nodes.select(["platform", "post_id"]).take(need))
        pos = np.full(n, -1, np.int64)
        pos[need] = np.arange(need.size)
        a, b = pos[src[cand]], pos[dst[cand]]
        ok = np.empty(cand.size, bool)
        step = 1 + 4_000_000 // sig.shape[1]
        for i in range(0, cand.size, step):
            ok[i:i + step] = (sig[a[i:i + step]] == sig[b[i:i + step]]).mean(axis=1) >= threshold
        keep = np.ones(src.size, bool)
        keep[cand[~ok]] = False
        src, dst = src[keep], dst[keep]
    label = components(n, src, dst)
    size = np.bincount(label, minlength=n)[label]
    sel = np.flatnonzero(size >= max(min_size, 1))
    order = sel[np.lexsort((sel, label[sel]))]
    root_key = pc.binary_join_element_wise(nodes["platform"], nodes["post_id"], ":")
    return pa.table({
        "platform": nodes["platform"].take(order),
        "post_id": nodes["post_id"].take(order),
        "cluster_id": root_key.take(label[order]),
        "cluster_size": pa.array(size[order], pa.int64()),
    })


def neardup_summary(store: Store, clusters: pa.Table | None = None, dataset: str | None = None,
                    **kw: Any) -> pa.Table:
    """One row per cluster, largest first: cluster_id, size, accounts (distinct authors),
    platforms, languages (from ``enrich_lang`` when that step ran, else the declared language),
    first_seen, last_seen and a representative text (the earliest post's). ``clusters`` is a result
    of ``neardup_clusters`` (computed with ``dataset`` and ``kw`` when not given)."""
    if clusters is None:
        clusters = neardup_clusters(store, dataset=dataset, **kw)
    lang = ("coalesce(l.lang, p.lang_declared)", "LEFT JOIN enrich_lang l ON l.platform = p.platform "
            "AND l.post_id = p.post_id") if store.has_table("enrich_lang") else ("p.lang_declared", "")
    con = store.con
    con.register("_nd_clusters", clusters.select(["platform", "post_id", "cluster_id"]))
    try:
        return store.query(
            f"""SELECT c.cluster_id, count(*) AS size, count(DISTINCT p.author_key) AS accounts,
                list(DISTINCT p.platform ORDER BY p.platform) AS platforms,
                list(DISTINCT {lang[0]} ORDER BY {lang[0]}) FILTER (WHERE {lang[0]} IS NOT NULL) AS languages,
                min(p.created_at) AS first_seen, max(p.created_at) AS last_seen,
                any_value(p.text) FILTER (WHERE p.platform || ':' || p.post_id = c.cluster_id) AS text
            FROM _nd_clusters c JOIN posts p ON p.platform = c.platform AND p.post_id = c.post_id
            {lang[1]}
            GROUP BY c.cluster_id ORDER BY size DESC, first_seen, c.cluster_id"""
        )
    finally:
        con.unregister("_nd_clusters")
