"""The coordination network as GEXF or GraphML for Gephi (networkx writers).

Nodes are pseudonymous account keys (``acct_…``) with, as Gephi attributes, their ``cluster`` (0 = in no
reported cluster), ``posts`` (in the analysed selection), ``degree`` (accounts it is linked to in the
kept network), ``first_seen`` and ``last_seen`` (its first and last post of the selection, ISO 8601
UTC) and ``handle`` only where the dataset was imported with ``--keep-handles`` (else no handle is
stored to write). Edges carry ``weight`` (the sum over kept layers) and one ``weight_<layer>``
attribute per layer (0 where the pair has no kept edge in that layer). Nothing else about an account
is written.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pyarrow as pa

FORMATS = ("gexf", "graphml")


def to_networkx(edges: pa.Table, members: pa.Table, layers: list[str], accounts: pa.Table | None = None) -> nx.Graph:
    """The kept network; ``accounts`` (author_key, posts, first_seen, last_seen, handle): node attributes."""
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
    about = {r["author_key"]: r for r in accounts.to_pylist()} if accounts is not None else {}
    for node, deg in g.degree():
        attrs = g.nodes[node]
        attrs["degree"] = int(deg)
        a = about.get(node)
        if a is None:
            continue
        attrs["posts"] = int(a["posts"])
        for k in ("first_seen", "last_seen"):
            attrs[k] = a[k].isoformat().replace("+00:00", "Z")
        if a.get("handle"):
            attrs["handle"] = str(a["handle"])
    return g


def write_network(path: str | Path, edges: pa.Table, members: pa.Table, layers: list[str],
                  fmt: str | None = None, accounts: pa.Table | None = None) -> Path:
    """Write the kept network to ``path`` (format from ``fmt`` or the suffix: .gexf, .graphml);
    ``accounts``: ``CoordinationResult.accounts`` (the node attributes)."""
    p = Path(path)
    f = (fmt or p.suffix.lstrip(".")).lower()
    if f not in FORMATS:
        raise ValueError(f"{p}: unknown network format {f!r}; choose one of {', '.join(FORMATS)}")
    g = to_networkx(edges, members, layers, accounts)
    p.parent.mkdir(parents=True, exist_ok=True)
    if f == "gexf":
        nx.write_gexf(g, p)
    else:
        nx.write_graphml(g, p)
    return p
