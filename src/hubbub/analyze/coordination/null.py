"""Significance of co-action edges against a null model in which accounts keep their times but not
their items.

Null model ("item labels shuffled within each hour"): every action keeps its account and its time;
the items of the layer's actions are permuted at random among all actions of the same time bin
(``bin_seconds``, default one hour). This keeps each account's activity profile (when and how much
it acts) and each item's popularity over time (how many actions it gets in each hour), and breaks
only the link between which account acted on which item. Under it, two actions ``x`` (of account
``a``) and ``y`` (of ``b``) that are within the window of each other carry the same item with
probability ``c = sum_i p_i**2``, the collision probability of the item shares ``p_i`` in ``x``'s hour.

For a pair with observed ``hits`` (matched action pairs within the window), the expected count is
``lam = sum over all action pairs (x, y) of a and b within the window of (c(hour of x) + c(hour of
y)) / 2`` (symmetric in ``a`` and ``b``, so it does not matter which of the two is written first), and the p-value
is the Poisson tail ``P(X >= hits | lam)``. A viral item makes up a large share of its hour, so ordinary
accounts that happen to share it within the window are expected to (``lam`` close to ``hits``);
a campaign's items are a small share of their hours, so repeated co-actions are improbable.
Edges are kept when their Benjamini-Hochberg q-value over the layer's candidate edges (those with
``weight >= min_weight``) is below ``alpha``. The model is analytic: no sampling, no seed.

Limits: a campaign so large that its own items dominate their hours is judged like a viral item
(conservative); accounts active at the very same moments many times (bots on one schedule) get a large
``lam`` only if their items are also common in those hours.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy.stats import poisson

from hubbub.analyze.coordination.layers import Layer, fetch

DEFAULT_ALPHA = 0.05
DEFAULT_BIN = 3600.0

# Over _co_act (the layer's actions on shared items) plus every action of the layer (_co_all) and the
# candidate edges _co_edges(a, b): expected hits per edge. $1 window (µs), $2 bin (µs), $3 bucket width.
_EXPECTED = """WITH n AS (SELECT ts // $2 AS h, count(*) AS posts FROM _co_posts GROUP BY 1),
coll AS (
  SELECT c.h, sum(c.c * c.c) / (greatest(any_value(n.posts), sum(c.c)) ^ 2) AS coll
  FROM (SELECT ts // $2 AS h, item, count(*) AS c FROM _co_all GROUP BY 1, 2) c LEFT JOIN n ON n.h = c.h
  GROUP BY c.h),
ends AS (SELECT a AS u FROM _co_edges UNION SELECT b FROM _co_edges),
acts AS (SELECT x.u, x.ts, x.ts // $3 AS b, coalesce(coll.coll, 0) AS c
         FROM _co_posts x SEMI JOIN ends ON x.u = ends.u LEFT JOIN coll ON coll.h = x.ts // $2),
y AS (SELECT acts.u, acts.ts, acts.c, acts.b + o.d AS bb FROM acts, (VALUES (-1), (0), (1)) o(d)),
pairs AS (SELECT e.idx, (x.c + y.c) / 2 AS c, count(*) AS n
  FROM _co_edges e JOIN acts x ON x.u = e.a JOIN y ON y.u = e.b AND y.bb = x.b
  WHERE abs(x.ts - y.ts) <= $1 GROUP BY e.idx, (x.c + y.c) / 2)
SELECT idx, c, n FROM pairs ORDER BY idx, c"""
# (edge, mean collision probability of the two actions, action pairs): symmetric in a and b, so the order
# of the account keys cannot matter; summed in numpy in this order, so the expected hits are the same to
# the bit however DuckDB schedules its threads (a float sum inside SQL is not).


def expected_hits(con: duckdb.DuckDBPyConnection, layer: Layer, pairs: pa.Table, all_actions_sql: str,
                  bin_seconds: float = DEFAULT_BIN) -> np.ndarray:
    """Expected hits under the null for each row of ``pairs`` (a, b), in order. ``all_actions_sql`` is
    the layer's action query (all actions, not only shared items: the hour's item shares need them)."""
    if pairs.num_rows == 0:
        return np.zeros(0)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _co_all AS SELECT pid, u, ts, item FROM ({all_actions_sql}) "
                "WHERE item IS NOT NULL")
    edges = pairs.select(["a", "b"]).append_column("idx", pa.array(np.arange(pairs.num_rows, dtype=np.int64)))
    con.register("_co_edges", edges)
    try:
        parts = fetch(con, _EXPECTED, [layer.window_us, max(round(bin_seconds * 1e6), 1), max(layer.window_us, 1)])
    finally:
        con.unregister("_co_edges")
        con.execute("DROP TABLE _co_all")
    weights = parts["c"].to_numpy().astype(np.float64) * parts["n"].to_numpy().astype(np.float64)
    return np.bincount(parts["idx"].to_numpy(), weights=weights, minlength=pairs.num_rows)


def p_values(hits: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson upper tail P(X >= hits | lam); 0 when lam is 0 and hits > 0."""
    return np.asarray(poisson.sf(hits - 1, np.maximum(lam, 1e-300)), dtype=np.float64)
