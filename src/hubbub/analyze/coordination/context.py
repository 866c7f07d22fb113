"""What else a coordinated cluster took part in: the topics of its posts, the spikes its posts fell in
and the cross-platform / cross-language narratives its posts carried.

Each piece is added only when its source exists in the store: topics when the ``enrich_topic`` and
``topics`` tables are there, spikes always (``hubbub.analyze.spikes``), narratives when posts have
``embed`` vectors (``hubbub.analyze.narratives``). Reads
``_co_posts`` (the selection) and the members table; never writes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from hubbub.analyze.coordination.layers import fetch
from hubbub.store.store import Store

TOP = 5


def cluster_context(store: Store, members: pa.Table, clusters: pa.Table, dataset: str | None,
                    query: str | None) -> pa.Table:
    """``clusters`` with ``top_topics`` and ``spikes`` columns added where their sources exist."""
    store.con.register("_co_members", members)
    try:
        topics = _topics(store)
        if topics is not None:
            clusters = clusters.append_column("top_topics", _column(clusters, topics))
        spikes = _spikes(store, dataset, query)
        if spikes is not None:
            clusters = clusters.append_column("spikes", _column(clusters, spikes))
        narratives = _narratives(store, dataset, query)
        if narratives is not None:
            clusters = clusters.append_column("narratives", _column(clusters, narratives))
    finally:
        store.con.unregister("_co_members")
    return clusters


def _column(clusters: pa.Table, per: dict[int, list[dict[str, Any]]]) -> pa.Array:
    return pa.array([per.get(c, []) for c in clusters["cluster"].to_pylist()])


def _columns(store: Store, table: str) -> set[str]:
    t = store.query("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
    return set(t["column_name"].to_pylist())


def _topics(store: Store) -> dict[int, list[dict[str, Any]]] | None:
    if not (store.has_table("enrich_topic") and store.has_table("topics")):
        return None
    if not ({"platform", "post_id", "topic_id"} <= _columns(store, "enrich_topic")
            and {"topic_id", "label"} <= _columns(store, "topics")):
        return None
    t = fetch(store.con, f"""SELECT m.cluster, e.topic_id, any_value(t.label) AS label, count(*) AS posts
        FROM _co_posts p JOIN _co_members m ON m.author_key = p.u
        JOIN enrich_topic e ON e.platform = p.platform AND e.post_id = p.post_id
        LEFT JOIN topics t ON t.topic_id = e.topic_id
        WHERE e.topic_id IS NOT NULL AND e.topic_id >= 0
        GROUP BY m.cluster, e.topic_id
        QUALIFY row_number() OVER (PARTITION BY m.cluster ORDER BY count(*) DESC, e.topic_id) <= {TOP}
        ORDER BY m.cluster, posts DESC, e.topic_id""")
    out: dict[int, list[dict[str, Any]]] = {}
    for r in t.to_pylist():
        out.setdefault(r.pop("cluster"), []).append(r)
    return out


def _spikes(store: Store, dataset: str | None, query: str | None) -> dict[int, list[dict[str, Any]]] | None:
    try:
        from hubbub.analyze.spikes import detect_spikes
    except ImportError:
        return None
    from hubbub.query import select

    try:
        res = detect_spikes(store, select(store, query, dataset), selection={"dataset": dataset, "query": query,
                                                                             "for": "coordination"})
    except ValueError:  # too little history to find spikes in
        return {}
    if res.spikes.num_rows == 0:
        return {}
    store.con.register("_co_spikes", res.spikes.select(["spike_id", "start", "end"]))
    try:
        t = fetch(store.con, """SELECT m.cluster, s.spike_id, any_value(s.start) AS start, any_value(s."end") AS "end",
            count(*) AS posts
            FROM _co_posts p JOIN _co_members m ON m.author_key = p.u
            JOIN _co_spikes s ON to_timestamp(p.ts / 1e6) >= s.start AND to_timestamp(p.ts / 1e6) < s."end"
            GROUP BY m.cluster, s.spike_id ORDER BY m.cluster, posts DESC, s.spike_id""")
    finally:
        store.con.unregister("_co_spikes")
    out: dict[int, list[dict[str, Any]]] = {}
    for r in t.to_pylist():
        out.setdefault(r.pop("cluster"), []).append(r)
    return out


def _narratives(store: Store, dataset: str | None, query: str | None) -> dict[int, list[dict[str, Any]]] | None:
    if not store.has_table("enrich_embed"):
        return None
    from hubbub.analyze.narratives import find_narratives
    from hubbub.query import select

    res = find_narratives(store, select(store, query, dataset),
                          selection={"dataset": dataset, "query": query, "for": "coordination"})
    if res.members.num_rows == 0:
        return {}
    store.con.register("_co_narr", res.members)
    store.con.register("_co_narr_info", res.narratives.select(["narrative_id", "platforms", "languages", "text"]))
    try:
        t = fetch(store.con, f"""SELECT m.cluster, n.narrative_id, any_value(i.platforms) AS platforms,
            any_value(i.languages) AS languages, any_value(i.text) AS text, count(*) AS posts
            FROM _co_posts p JOIN _co_members m ON m.author_key = p.u
            JOIN _co_narr n ON n.platform = p.platform AND n.post_id = p.post_id
            JOIN _co_narr_info i ON i.narrative_id = n.narrative_id
            GROUP BY m.cluster, n.narrative_id
            QUALIFY row_number() OVER (PARTITION BY m.cluster ORDER BY count(*) DESC, n.narrative_id) <= {TOP}
            ORDER BY m.cluster, posts DESC, n.narrative_id""")
    finally:
        store.con.unregister("_co_narr")
        store.con.unregister("_co_narr_info")
    out: dict[int, list[dict[str, Any]]] = {}
    for r in t.to_pylist():
        out.setdefault(r.pop("cluster"), []).append(r)
    return out
