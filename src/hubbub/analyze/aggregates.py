"""The hourly pre-aggregate that answers time series over field filters fast on a large store.

``agg_hourly`` holds the number of posts per UTC hour × dataset × platform × kind × language ×
sentiment × topic (language: the current ``lang`` step's answer, else the declared language, as in
queries; sentiment and topic: the current step's, NULL when not computed). ``refresh`` (re)builds it
after what changes the data (import, quarantine retry, enrichment: ``Hubbub`` calls it); ``agg_meta``
keeps the fingerprint of the store it was built from (posts, files, enrichment rows and runs). A query
that uses only fields the aggregate has (and dates on whole hours) reads it instead of the posts: a few
hundred thousand rows instead of millions. Reads never build it: a stale or missing aggregate means
the posts are read (the same answer, slower).
"""

from __future__ import annotations

from typing import Any

import orjson

from hubbub.store.store import Store

TABLE = "agg_hourly"
DIMENSIONS = ("dataset", "platform", "kind", "lang", "sentiment", "topic_id")
_ENRICH = (("enrich_lang", "lang", "lang"), ("enrich_sentiment", "sentiment", "sentiment"),
           ("enrich_topic", "topic", "topic_id"))


def _steps() -> dict[str, str | None]:
    from hubbub.enrich.registry import all_steps

    steps = all_steps()
    return {name: (steps[name].version if name in steps else None) for _, name, _ in _ENRICH}


def _tables(store: Store) -> dict[str, int]:
    """Every table of the store with its row count (DuckDB's catalog: one cheap query)."""
    rows = store.query("SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = 'main'")
    return dict(zip(rows["table_name"].to_pylist(), rows["estimated_size"].to_pylist(), strict=True))


def fingerprint(store: Store, tables: dict[str, int]) -> str:
    """What the aggregate depends on; changes with every import or enrichment run."""
    parts: dict[str, Any] = {"steps": _steps()}
    for t in ("posts", "files", *(e for e, _, _ in _ENRICH)):
        parts[t] = tables.get(t)
    runs = store.query("""SELECT count(*) AS n, max(coalesce(finished_at, started_at)) AS t FROM runs
        WHERE kind NOT LIKE 'analysis:%'""").to_pylist()[0]  # analyses change no post or enrichment
    parts["runs"] = [runs["n"], str(runs["t"])]
    return orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode()


def _build_sql(tables: dict[str, int], versions: dict[str, str | None]) -> tuple[str, list[Any]]:
    joins, cols, params = [], {"lang": "p.lang_declared", "sentiment": "NULL::VARCHAR", "topic_id": "NULL::INTEGER"}, []
    for table, step, col in _ENRICH:
        if table not in tables:
            continue
        alias = f"e_{step}"
        cond = ""
        if versions.get(step) is not None:
            cond = f" AND {alias}.step_version = ?"
            params.append(versions[step])
        joins.append(f"LEFT JOIN {table} {alias} ON {alias}.platform = p.platform "
                     f"AND {alias}.post_id = p.post_id{cond}")
        cols[col] = f"coalesce({alias}.lang, p.lang_declared)" if step == "lang" else f"{alias}.{col}"
    sql = f"""CREATE OR REPLACE TABLE {TABLE} AS
        SELECT date_trunc('hour', p.created_at) AS hour, p.dataset, p.platform, p.kind,
               {cols['lang']} AS lang, {cols['sentiment']} AS sentiment, {cols['topic_id']} AS topic_id,
               count(*) AS posts
        FROM posts p {' '.join(joins)}
        GROUP BY ALL ORDER BY hour"""
    return sql, params


def _fresh(store: Store, tables: dict[str, int], fp: str) -> bool:
    if "agg_meta" not in tables or TABLE not in tables:
        return False
    rows = store.query("SELECT fingerprint FROM agg_meta WHERE name = ?", [TABLE]).to_pylist()
    return bool(rows) and rows[0]["fingerprint"] == fp


def hourly(store: Store) -> Any | None:
    """The aggregate as an Ibis table when it is fresh, else None (read the posts). Never writes."""
    tables = _tables(store)
    return store.table(TABLE) if _fresh(store, tables, fingerprint(store, tables)) else None


def refresh(store: Store) -> bool:
    """(Re)build the aggregate when it is stale; True when it was built. A read-only store: no-op."""
    if store.read_only:
        return False
    tables = _tables(store)
    fp = fingerprint(store, tables)
    if _fresh(store, tables, fp):
        return False
    sql, params = _build_sql(tables, _steps())
    with store.transaction() as con:
        con.execute(sql, params)
        con.execute("CREATE TABLE IF NOT EXISTS agg_meta (name VARCHAR PRIMARY KEY, fingerprint VARCHAR, "
                    "built_at TIMESTAMPTZ)")
        con.execute("INSERT OR REPLACE INTO agg_meta VALUES (?, ?, now())", [TABLE, fp])
    return True
