"""CLI verb ``hubbub coordination``: clusters of accounts acting together (docs/coordination.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import pyarrow as pa
import typer

from hubbub.serve.cli.common import (
    DatasetOpt,
    JsonOpt,
    SaveOpt,
    WorkspaceOpt,
    _emit,
    _fail,
    _open,
    _user_errors,
    _wrote,
    app,
)


def _windows(values: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values or ():
        name, sep, secs = v.partition("=")
        try:
            out[name.strip()] = float(secs)
        except ValueError:
            _fail(f"--layer-window {v!r}: expected LAYER=SECONDS, e.g. link=300")
        if not sep:
            _fail(f"--layer-window {v!r}: expected LAYER=SECONDS, e.g. link=300")
    return out


def _names(items: list[dict[str, Any]] | None, key: str, k: int = 5) -> str:
    return ", ".join(f"{i[key]} ({i.get('n', i.get('posts'))})" for i in (items or [])[:k])


def _table(clusters: pa.Table) -> pa.Table:
    rows = []
    for c in clusters.to_pylist():
        rows.append({
            "cluster": c["cluster"], "accounts": c["accounts"], "posts": c["posts"],
            "first": c["first_post"], "last": c["last_post"],
            "layers": ", ".join(f"{x['layer']} {x['edges']}e/{x['co_actions']}" for x in c["layers"]),
            "top hashtags": _names(c.get("top_hashtags"), "hashtag"),
            "top domains": _names(c.get("top_domains"), "domain", 3),
            "repeated texts": len(c.get("repeated_texts") or []),
            "topics": _names(c.get("top_topics"), "label", 3) if "top_topics" in c else "",
            "spikes": len(c.get("spikes") or []) if "spikes" in c else "",
        })
    return pa.Table.from_pylist(rows) if rows else pa.table({"cluster": pa.array([], pa.int64())})


@app.command("coordination")
def coordination_cmd(
    query: Annotated[str | None, typer.Argument(metavar="[QUERY]", help="Only posts matching this query.")] = None,
    dataset: DatasetOpt = None,
    layers: Annotated[str, typer.Option(
        "--layers", help="Comma-separated: link, repost, text, reply, hashtag, near (near-duplicate text).")
    ] = "link,repost,text,reply,hashtag",
    window: Annotated[float, typer.Option("--window", help="Seconds within which actions count as together.")
                      ] = 60.0,
    layer_window: Annotated[list[str] | None, typer.Option(
        "--layer-window", help="A layer's own window, LAYER=SECONDS (repeatable).")] = None,
    min_weight: Annotated[int, typer.Option("--min-weight", help="Co-actions an edge needs in a layer.")] = 2,
    no_null: Annotated[bool, typer.Option("--no-null", help="Keep every edge (no null-model test).")] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="False discovery rate of kept edges.")] = 0.05,
    resolution: Annotated[float, typer.Option("--resolution", help="Leiden resolution.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Leiden seed.")] = 0,
    min_cluster: Annotated[int, typer.Option("--min-cluster", help="Smallest cluster reported (accounts).")] = 3,
    gexf: Annotated[Path | None, typer.Option("--gexf", help="Write the network as GEXF (Gephi).")] = None,
    graphml: Annotated[Path | None, typer.Option("--graphml", help="Write the network as GraphML.")] = None,
    as_json: JsonOpt = False,
    save: SaveOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Clusters of accounts acting together (same links, reposts, texts, reply targets, hashtag sets within
    a window), edges tested against a null model; accounts appear only as pseudonymous keys."""
    from hubbub.analyze.coordination.export import write_network

    names = [x.strip() for x in layers.split(",") if x.strip()]
    with _open(workspace, read_only=True, save_runs=save) as hb, _user_errors():
        res = hb.coordination(query or None, dataset=dataset, layers=names, window=window, min_weight=min_weight,
                              null=not no_null, windows=_windows(layer_window), alpha=alpha, resolution=resolution,
                              seed=seed, min_cluster_size=min_cluster)
    written = []
    for path, fmt in ((gexf, "gexf"), (graphml, "graphml")):
        if path is not None:
            written.append(write_network(path, res.edges, res.members, res.params["layers"], fmt, res.accounts))
    if as_json:
        doc = {"run_id": res.run_id, "params": res.params, "counts": res.counts(),
               "clusters": res.clusters.to_pylist()}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC, default=str).decode()
                         + "\n")
    else:
        _emit(_table(res.clusters), False, f"coordination: {res.counts()['clusters']} clusters, "
                                            f"{res.counts()['kept_edges']} kept edges (run {res.run_id})")
    for p in written:
        _wrote(p)
