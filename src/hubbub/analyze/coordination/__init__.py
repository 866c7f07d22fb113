"""Coordinated behaviour: a multiplex network of accounts acting together (docs/coordination.md).

    from hubbub.analyze.coordination import coordination
    res = coordination(store, dataset="ira", layers=("repost", "hashtag"), window=60, min_weight=2)
    res.edges      # per layer and pair: weight, hits, expected hits under the null, p, q, kept
    res.clusters   # one row per cluster of coordinated accounts, with what it did

Steps: ``layers`` (co-action pairs per layer, DuckDB), ``null`` (significance per edge), ``clusters``
(Leiden on the combined kept edges, summaries), ``export`` (GEXF / GraphML). Accounts appear only as
their pseudonymous keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from hubbub.analyze.coordination.clusters import combined, leiden_members, summaries
from hubbub.analyze.coordination.context import cluster_context
from hubbub.analyze.coordination.layers import ACTIONS, EXACT_LAYERS, LAYERS, Layer, load_posts
from hubbub.analyze.coordination.near import DEFAULT_THRESHOLD
from hubbub.analyze.coordination.null import DEFAULT_ALPHA, DEFAULT_BIN, expected_hits, p_values
from hubbub.analyze.coordination.pairs import layer_pairs
from hubbub.analyze.runlog import record_run
from hubbub.analyze.significance import bh_qvalues
from hubbub.store.store import Store

DEFAULT_LAYERS = EXACT_LAYERS  # ``near`` on request
DEFAULT_WINDOW = 60.0
DEFAULT_MIN_WEIGHT = 2
DEFAULT_MIN_CLUSTER = 3

EDGE_SCHEMA = pa.schema([("layer", pa.string()), ("a", pa.string()), ("b", pa.string()), ("weight", pa.int64()),
                         ("n_a", pa.int64()), ("n_b", pa.int64()), ("hits", pa.int64()), ("expected", pa.float64()),
                         ("p", pa.float64()), ("q", pa.float64()), ("kept", pa.bool_())])


@dataclass
class CoordinationResult:
    edges: pa.Table  # EDGE_SCHEMA: every candidate edge (weight >= min_weight), kept or not
    graph: pa.Table  # (a, b, weight, layers): the combined kept network
    members: pa.Table  # (author_key, cluster)
    clusters: pa.Table  # one row per cluster (clusters.summaries + context)
    params: dict[str, Any] = field(default_factory=dict)
    posts: int = 0
    run_id: str | None = None

    def counts(self) -> dict[str, Any]:
        kept = self.edges.filter(self.edges["kept"])
        per = {name: int(np.sum(np.asarray(kept["layer"].to_pylist()) == name)) for name in self.params["layers"]}
        return {"posts": self.posts, "candidate_edges": self.edges.num_rows, "kept_edges": kept.num_rows,
                "kept_edges_per_layer": per, "accounts_in_clusters": self.members.num_rows,
                "clusters": self.clusters.num_rows}


def make_layers(layers: Sequence[str] = DEFAULT_LAYERS, window: float = DEFAULT_WINDOW,
                min_weight: int = DEFAULT_MIN_WEIGHT, windows: dict[str, float] | None = None,
                near_threshold: float = DEFAULT_THRESHOLD) -> list[Layer]:
    """Layer specs: one window and min weight for all, ``windows`` overriding the window per layer;
    ``near_threshold``: the Jaccard similarity of the ``near`` layer."""
    if not layers:
        raise ValueError("no layers chosen; layers: " + ", ".join(LAYERS))
    windows = windows or {}
    for name in windows:
        if name not in layers:
            raise ValueError(f"window given for layer {name!r}, which is not among the chosen layers")
    return [Layer(name, windows.get(name, window), min_weight, near_threshold) for name in dict.fromkeys(layers)]


def build_edges(con: duckdb.DuckDBPyConnection, layers: Sequence[Layer], null: bool = True,
                alpha: float = DEFAULT_ALPHA, bin_seconds: float = DEFAULT_BIN) -> pa.Table:
    """Candidate edges of every layer over ``_co_posts``, each scored against the null model (``null``)
    and marked ``kept`` when its BH q-value is below ``alpha`` (without the null model: all kept)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    parts = []
    for layer in layers:
        pairs = layer_pairs(con, layer)
        n = pairs.num_rows
        if null:
            lam = expected_hits(con, layer, pairs, ACTIONS[layer.name], bin_seconds)
            p = p_values(pairs["hits"].to_numpy(), lam)
            q = bh_qvalues(p)
            kept = q < alpha
        else:
            lam = p = q = np.full(n, np.nan)
            kept = np.ones(n, bool)
        parts.append(pa.table({
            "layer": pa.array([layer.name] * n, pa.string()), "a": pairs["a"], "b": pairs["b"],
            "weight": pairs["weight"], "n_a": pairs["n_a"], "n_b": pairs["n_b"], "hits": pairs["hits"],
            "expected": pa.array(lam, pa.float64(), from_pandas=True), "p": pa.array(p, pa.float64(), from_pandas=True),
            "q": pa.array(q, pa.float64(), from_pandas=True), "kept": pa.array(kept, pa.bool_())},
            schema=EDGE_SCHEMA))
    return pa.concat_tables(parts) if parts else EDGE_SCHEMA.empty_table()


def coordination(store: Store, dataset: str | None = None, query: str | None = None,
                 layers: Sequence[str] = DEFAULT_LAYERS, window: float = DEFAULT_WINDOW,
                 min_weight: int = DEFAULT_MIN_WEIGHT, windows: dict[str, float] | None = None,
                 null: bool = True, alpha: float = DEFAULT_ALPHA, bin_seconds: float = DEFAULT_BIN,
                 resolution: float = 1.0, seed: int = 0, min_cluster_size: int = DEFAULT_MIN_CLUSTER,
                 context: bool = True, near_threshold: float = DEFAULT_THRESHOLD) -> CoordinationResult:
    """Coordinated accounts among the posts matching ``query`` in ``dataset`` (both optional).

    ``window`` (seconds, inclusive) and ``min_weight`` apply to every layer, ``windows`` overrides the
    window per layer; ``null``: keep only edges unlikely under the null model (q < ``alpha``);
    ``resolution`` and ``seed``: Leiden; ``min_cluster_size``: smaller communities are not reported;
    ``context``: add the topics, spikes and narratives each cluster took part in (when available);
    ``near_threshold``: Jaccard similarity of word-token sets two texts need in the ``near`` layer."""
    from hubbub.query import select

    specs = make_layers(layers, window, min_weight, windows, near_threshold)
    params: dict[str, Any] = {
        "dataset": dataset, "query": query, "layers": [s.name for s in specs],
        "windows": {s.name: s.window for s in specs}, "min_weight": min_weight, "null": null, "alpha": alpha,
        "bin_seconds": bin_seconds, "near_threshold": near_threshold if "near" in layers else None,
        "resolution": resolution, "seed": seed, "min_cluster_size": min_cluster_size,
        "null_model": "item labels shuffled within time bins (analytic Poisson, BH)" if null else None}
    n_posts = load_posts(store, select(store, query, dataset))
    con = store.con
    try:
        edges = build_edges(con, specs, null=null, alpha=alpha, bin_seconds=bin_seconds)
        graph = combined(edges)
        members = leiden_members(graph, resolution=resolution, seed=seed, min_size=min_cluster_size)
        clusters = summaries(con, members, edges)
        if context and clusters.num_rows:
            clusters = cluster_context(store, members, clusters, dataset, query)
    finally:
        con.execute("DROP TABLE IF EXISTS _co_posts")
        con.execute("DROP TABLE IF EXISTS _co_act")
        con.execute("DROP TABLE IF EXISTS _co_near_items")
    res = CoordinationResult(edges, graph, members, clusters, params, n_posts)
    res.run_id = record_run(store, "coordination", params, res.counts())
    return res
