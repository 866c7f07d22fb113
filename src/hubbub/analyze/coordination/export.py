"""The coordination network as GEXF or GraphML for Gephi (networkx writers).

Nodes are pseudonymous account keys (``acct_…``) with their cluster (0 = in no reported cluster);
edges carry ``weight`` (the sum over kept layers) and one ``weight_<layer>`` attribute per layer
(0 where the pair has no kept edge in that layer). Nothing else about an account is written.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pyarrow as pa

FORMATS = ("gexf", "graphml")


def to_networkx(edges: pa.Table, members: pa.Table, layers: list[str]) -> nx.Graph:
    cluster = dict(zip(members["author_key"].to_pylist(), members["cluster"].to_pylist(), strict=True))
    g = nx.Graph()
    kept = edges.filter(edges["kept"])
    for layer, a, b, w in zip(kept["layer"].to_pylist(), kept["a"].to_pylist(), kept["b"].to_pylist(),
                              kept["weight"].to_pylist(), strict=True):
        for node in (a, b):
            if node not in g:
                g.add_node(node, label=node, cluster=int(cluster.get(node, 0)))
        if not g.has_edge(a, b):
            g.add_edge(a, b, weight=0, **{f"weight_{name}": 0 for name in layers})
        d = g.edges[a, b]
        d[f"weight_{layer}"] += int(w)
        d["weight"] += int(w)
    return g


def write_network(path: str | Path, edges: pa.Table, members: pa.Table, layers: list[str],
                  fmt: str | None = None) -> Path:
    """Write the kept network to ``path`` (format from ``fmt`` or the suffix: .gexf, .graphml)."""
    p = Path(path)
    f = (fmt or p.suffix.lstrip(".")).lower()
    if f not in FORMATS:
        raise ValueError(f"{p}: unknown network format {f!r}; choose one of {', '.join(FORMATS)}")
    g = to_networkx(edges, members, layers)
    p.parent.mkdir(parents=True, exist_ok=True)
    if f == "gexf":
        nx.write_gexf(g, p)
    else:
        nx.write_graphml(g, p)
    return p
