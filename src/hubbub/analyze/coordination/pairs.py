"""Pairs of one layer, whichever kind: the exact layers (``layers``) or the near-duplicate one (``near``)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from hubbub.analyze.coordination.layers import Layer, exact_pairs
from hubbub.analyze.coordination.near import near_pairs


def layer_pairs(con: duckdb.DuckDBPyConnection, layer: Layer) -> pa.Table:
    """(a, b, n_a, n_b, hits, weight) of the layer over ``_co_posts`` (load it first); leaves the
    layer's actions in ``_co_act`` (``near``: ``_co_near_items``) for the null model."""
    return near_pairs(con, layer) if layer.name == "near" else exact_pairs(con, layer)
