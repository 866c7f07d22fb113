"""The one layer through which everything reads and writes the store.

Writes are transactional DuckDB statements with bound parameters. Reads are Ibis expressions
(``Store.table``) so that analyses run unchanged on DuckDB or, later, on Spark over the Parquet
layout that ``Store.snapshot`` writes (``posts/dataset=<name>/day=<YYYY-MM-DD>/*.parquet``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from hubbub.schema import POST_COLUMNS
from hubbub.store.migrations import migrate
from hubbub.store.workspace import Workspace, WorkspaceError

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def _open_error(ws: Workspace, exc: Exception) -> str:
    """One sentence for a store that cannot be opened; for a lock: which process holds it."""
    msg = str(exc)
    m = _LOCK_HOLDER.search(msg)
    if m or "lock" in msg.lower():
        who = f"process {m.group(2)} ({Path(m.group(1)).name})" if m else "another process"
        return (f"{ws.path}: the workspace is in use by {who}; one process at a time can use a workspace "
                "(an import holds it until it ends): wait for it to finish, or stop it, and run this again")
    return f"{ws.store_path}: cannot open the store ({msg.splitlines()[0] if msg else type(exc).__name__})"


_ENGAGEMENT = ("likes", "reposts", "replies", "quotes", "views", "engagement_at")


class Store:
    def __init__(self, ws: Workspace, read_only: bool = False) -> None:
        self.ws = ws
        self.read_only = read_only and ws.store_path.exists()
        try:
            self.con = duckdb.connect(str(ws.store_path), read_only=self.read_only)
        except duckdb.IOException as exc:
            raise WorkspaceError(_open_error(ws, exc)) from None
        self.con.execute("SET TimeZone = 'UTC'")
        if not self.read_only:
            migrate(self.con)
        self._ibis: Any = None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------
    @property
    def ibis(self) -> Any:
        if self._ibis is None:
            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def table(self, name: str = "posts") -> Any:
        return self.ibis.table(name)

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` exists (enrichment and analysis tables appear when first written)."""
        return bool(self.query("SELECT 1 AS x FROM information_schema.tables WHERE table_name = ?", [name]).num_rows)

    def to_arrow(self, expr: Any) -> pa.Table:
        return self.ibis.to_pyarrow(expr)

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Fixed SQL with bound parameters only; never format user text into ``sql``."""
        return arrow_of(self.con.sql(sql, params=params or None))

    # -- writes --------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def ensure_dataset(self, name: str, keep_handles: bool) -> None:
        rows = self.con.execute("SELECT keep_handles FROM datasets WHERE name = ?", [name]).fetchall()
        row = rows[0] if rows else None
        if row is None:
            self.con.execute(
                "INSERT INTO datasets VALUES (?, ?, now())", [name, keep_handles]
            )
        elif bool(row[0]) != keep_handles:
            state = "keeps raw handles" if row[0] else "is pseudonymised"
            raise ValueError(
                f"dataset {name!r} {state}; import into another dataset to change this "
                "(one dataset never mixes pseudonymised and raw handles)"
            )

    def dataset_keeps_handles(self, name: str) -> bool | None:
        rows = self.con.execute("SELECT keep_handles FROM datasets WHERE name = ?", [name]).fetchall()
        row = rows[0] if rows else None
        return None if row is None else bool(row[0])

    def insert_posts(self, batch: pa.Table) -> int:
        """Insert posts not yet stored; for stored ones, take engagement counts collected later.

        Within the batch and against the store, a post is identified by (platform, post_id); of
        copies in one batch the one with the latest engagement_at wins, then the first read.
        Returns the number of new rows."""
        con = self.con
        con.register("_batch", batch.append_column("_ord", pa.array(range(batch.num_rows), pa.int64())))
        try:
            cols = ", ".join(POST_COLUMNS)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _new AS
                SELECT {cols} FROM (
                  SELECT *, row_number() OVER (PARTITION BY platform, post_id
                     ORDER BY engagement_at DESC NULLS LAST, _ord) AS _rn
                  FROM _batch) WHERE _rn = 1"""
            )
            set_cols = ", ".join(f"{c} = n.{c}" for c in _ENGAGEMENT)
            con.execute(
                f"""UPDATE posts SET {set_cols} FROM _new n
                WHERE posts.platform = n.platform AND posts.post_id = n.post_id
                  AND n.engagement_at IS NOT NULL
                  AND (posts.engagement_at IS NULL OR n.engagement_at > posts.engagement_at)"""
            )
            before = con.execute("SELECT count(*) FROM posts").fetchall()[0][0]
            con.execute(
                f"""INSERT INTO posts SELECT {cols} FROM _new n
                WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.platform = n.platform AND p.post_id = n.post_id)"""
            )
            after = con.execute("SELECT count(*) FROM posts").fetchall()[0][0]
            con.execute("DROP TABLE _new")
        finally:
            con.unregister("_batch")
        return int(after - before)

    def stored_elsewhere(self, batch: pa.Table, dataset: str) -> int:
        """How many distinct posts of ``batch`` are stored under another dataset than ``dataset``."""
        self.con.register("_keys", batch.select(["platform", "post_id"]))
        try:
            return int(self.con.execute(
                """SELECT count(*) FROM (SELECT DISTINCT platform, post_id FROM _keys) k
                WHERE EXISTS (SELECT 1 FROM posts p WHERE p.platform = k.platform AND p.post_id = k.post_id
                              AND p.dataset <> ?)""", [dataset]).fetchall()[0][0])
        finally:
            self.con.unregister("_keys")

    # -- Parquet layout for other engines ------------------------------------------------------
    def snapshot(self, out: Path) -> Path:
        """Write posts as Parquet partitioned by dataset and UTC day (hive layout)."""
        out.mkdir(parents=True, exist_ok=True)
        self.con.execute(
            f"""COPY (SELECT *, strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%d') AS day FROM posts)
            TO '{_sql_path(out / "posts")}' (FORMAT PARQUET, PARTITION_BY (dataset, day),
            OVERWRITE_OR_IGNORE true, COMPRESSION zstd)"""
        )
        return out / "posts"


def arrow_of(result: Any) -> pa.Table:
    """Fetch a DuckDB result as an Arrow table (the method name changed across DuckDB versions)."""
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return fetch()


def _sql_path(p: Path) -> str:
    s = str(p.resolve())
    if "'" in s:
        raise ValueError(f"{s}: paths with quotes are not supported for Parquet output")
    return s
