"""The topic model in the store: ``topic_models`` (one row per model: threshold, parameters, seed,
runs) and ``topics`` (the current model's topics: id, label, keywords, size, centroid,
representative posts). Ids are never renumbered: new topics are appended after the largest id.
All SQL here is fixed text with bound parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from hubbub.canonical import post_order, sample_key
from hubbub.enrich.topics.fit import Topic
from hubbub.store.store import Store

DDL = (
    """CREATE TABLE IF NOT EXISTS topic_models (
        model_id VARCHAR PRIMARY KEY, step_version VARCHAR NOT NULL, seed BIGINT NOT NULL, params JSON,
        embed_model VARCHAR, dim INTEGER NOT NULL, threshold DOUBLE NOT NULL, cohesion DOUBLE NOT NULL,
        min_topic_size INTEGER NOT NULL, fit_posts BIGINT NOT NULL, created_run VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS topics (
        model_id VARCHAR NOT NULL, topic_id INTEGER NOT NULL, label VARCHAR, keywords VARCHAR[],
        keywords_by_lang JSON, languages VARCHAR[], size BIGINT NOT NULL, centroid FLOAT[] NOT NULL,
        rep_platforms VARCHAR[], rep_post_ids VARCHAR[], created_run VARCHAR NOT NULL,
        PRIMARY KEY (model_id, topic_id))""",
)


@dataclass
class StoredModel:
    model_id: str
    seed: int
    params: dict[str, Any]
    dim: int
    threshold: float
    cohesion: float
    min_topic_size: int
    topic_ids: np.ndarray  # (k,) int32
    centroids: np.ndarray  # (k, dim) float32


def ensure_tables(store: Store) -> None:
    for ddl in DDL:
        store.con.execute(ddl)


def table_exists(store: Store, name: str) -> bool:
    return bool(store.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall()[0][0])


def has_model(store: Store) -> bool:
    return table_exists(store, "topic_models") and bool(
        store.con.execute("SELECT count(*) FROM topic_models").fetchall()[0][0])


def load_model(store: Store, model_id: str) -> StoredModel | None:
    rows = store.query("""SELECT seed, params, dim, threshold, cohesion, min_topic_size FROM topic_models
                       WHERE model_id = ?""", [model_id]).to_pylist()
    if not rows:
        return None
    m = rows[0]
    t = store.query("SELECT topic_id, centroid FROM topics WHERE model_id = ? ORDER BY topic_id", [model_id])
    centroids = vectors(t["centroid"], m["dim"]) if t.num_rows else np.zeros((0, m["dim"]), np.float32)
    return StoredModel(model_id, m["seed"], orjson.loads(m["params"]), m["dim"], m["threshold"], m["cohesion"],
                       m["min_topic_size"], np.asarray(t["topic_id"].to_numpy(), np.int32), centroids)


def vectors(col: pa.ChunkedArray | pa.Array, dim: int | None = None) -> np.ndarray:
    """A list<float> column without nulls as an (n, dim) float32 matrix."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    values = np.asarray(arr.flatten().to_numpy(zero_copy_only=False), np.float32)
    if n == 0:
        return np.zeros((0, dim or 0), np.float32)
    d = dim if dim is not None else len(values) // n
    if len(values) != n * d:
        raise ValueError(f"embeddings of unequal length (expected {d} values each): embed all posts with one encoder")
    return values.reshape(n, d)


def write_model(store: Store, model_id: str, version: str, seed: int, params: dict[str, Any], embed_model: str | None,
                dim: int, threshold: float, cohesion: float, min_topic_size: int, fit_posts: int, run_id: str) -> None:
    """Replace any model (and every topic) by a new, empty model row; topics are added with ``add_topics``."""
    con = store.con
    con.execute("DELETE FROM topics")
    con.execute("DELETE FROM topic_models WHERE model_id = ?", [model_id])
    con.execute("INSERT INTO topic_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [model_id, version, seed, orjson.dumps(params).decode(), embed_model, dim, threshold, cohesion,
                 min_topic_size, fit_posts, run_id])


def add_topics(store: Store, model_id: str, topics: list[Topic], keys: pa.Table, run_id: str) -> None:
    """Insert ``topics``; their representatives are row numbers of ``keys`` (platform, post_id)."""
    if not topics:
        return
    plat = keys["platform"].to_pylist()
    pid = keys["post_id"].to_pylist()
    table = pa.table({
        "model_id": [model_id] * len(topics),
        "topic_id": pa.array([t.topic_id for t in topics], pa.int32()),
        "label": [t.words.label for t in topics],
        "keywords": pa.array([t.words.keywords for t in topics], pa.list_(pa.string())),
        "keywords_by_lang": [orjson.dumps(t.words.keywords_by_lang).decode() for t in topics],
        "languages": pa.array([t.words.languages for t in topics], pa.list_(pa.string())),
        "size": pa.array([t.size for t in topics], pa.int64()),
        "centroid": pa.array([t.centroid.tolist() for t in topics], pa.list_(pa.float32())),
        "rep_platforms": pa.array([[plat[r] for r in t.representatives] for t in topics], pa.list_(pa.string())),
        "rep_post_ids": pa.array([[pid[r] for r in t.representatives] for t in topics], pa.list_(pa.string())),
        "created_run": [run_id] * len(topics),
    })
    store.con.register("_topics", table)
    try:
        store.con.execute("""INSERT INTO topics SELECT model_id, topic_id, label, keywords, keywords_by_lang::JSON,
                          languages, size, centroid, rep_platforms, rep_post_ids, created_run FROM _topics""")
    finally:
        store.con.unregister("_topics")


def update_sizes(store: Store, model_id: str, step_table: str, version: str) -> None:
    """Each topic's size = its posts in ``step_table`` (a name from code, not user input)."""
    store.con.execute(
        f"""UPDATE topics SET size = coalesce((SELECT count(*) FROM {step_table} e
            WHERE e.topic_id = topics.topic_id AND e.step_version = ?), 0) WHERE model_id = ?""",
        [version, model_id])


def sample_rows(store: Store, keys_sql: str, params: list[Any], seed: int, limit: int) -> pa.Table:
    """Up to ``limit`` posts of the fixed query ``keys_sql`` (platform, post_id), chosen by a seeded
    hash of their content, with embedding, text and language; in content order (``hubbub.canonical``:
    neither the sample nor its order depends on the workspace secret the keys were made with)."""
    has_lang = table_exists(store, "enrich_lang")
    lang = "coalesce(nullif(l.lang, 'und'), p.lang_declared)" if has_lang else "p.lang_declared"
    join_lang = "LEFT JOIN enrich_lang l ON l.platform = s.platform AND l.post_id = s.post_id" if has_lang else ""
    return store.query(
        f"""WITH k AS ({keys_sql}),
        s AS (SELECT k.platform, k.post_id FROM k JOIN posts p ON p.platform = k.platform AND p.post_id = k.post_id
              ORDER BY {sample_key("p")}, {post_order("p")} LIMIT ?)
        SELECT s.platform, s.post_id, e.embedding, e.embed_model, p.text, {lang} AS lang
        FROM s JOIN enrich_embed e ON e.platform = s.platform AND e.post_id = s.post_id
        JOIN posts p ON p.platform = s.platform AND p.post_id = s.post_id {join_lang}
        ORDER BY {post_order("p")}""",
        [*params, seed, limit])
