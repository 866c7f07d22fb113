"""The one layer through which everything reads and writes the store.

Writes are transactional DuckDB statements with bound parameters. Reads are Ibis expressions
(``Store.table``) so that analyses run unchanged on DuckDB or, later, on Spark over the Parquet
layout that ``Store.snapshot`` writes (``posts/dataset=<name>/day=<YYYY-MM-DD>/*.parquet``).
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from hubbub.errors import UnknownName
from hubbub.schema import POST_COLUMNS
from hubbub.store.migrations import migrate
from hubbub.store.workspace import Workspace


class UnknownDataset(UnknownName, ValueError):
    """A dataset name that is not in the workspace (a user error; also a ValueError for older callers)."""


_ENGAGEMENT = ("likes", "reposts", "replies", "quotes", "views", "engagement_at")


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the store file. DuckDB opens a file once per process: when this process has it
    open for writing already (a notebook holding a ``Hubbub`` while it runs a read), a read-only
    connection joins that one (and the ``Store`` still never writes through it)."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.ConnectionException as exc:
        if read_only and "different configuration" in str(exc):
            return duckdb.connect(str(path))
        raise


class Store:
    """One DuckDB database, safe to share between threads: each thread gets its own connection to it
    (``con``, a DuckDB cursor) and its own Ibis backend over that connection, so temp tables,
    registered Arrow tables and transactions of one thread never meet another's."""

    def __init__(self, ws: Workspace, read_only: bool = False, save_runs: bool = False) -> None:
        self.ws = ws
        self.read_only = read_only and ws.store_path.exists()
        # Analyses write their provenance to ``runs`` only when asked (``--save``); a read never writes.
        self.save_runs = save_runs and not self.read_only
        self._db = _connect(ws.store_path, self.read_only)
        self._db.execute("SET TimeZone = 'UTC'")
        if not self.read_only:
            migrate(self._db)
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection (the opening thread uses the database's first connection)."""
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            if threading.get_ident() == self._owner:
                con = self._db
            else:
                con = self._db.cursor()
                con.execute("SET TimeZone = 'UTC'")
                with self._lock:
                    self._cursors.append(con)
            self._local.con = con
        return con

    def close(self) -> None:
        with self._lock:
            for c in self._cursors:
                c.close()
            self._cursors.clear()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------
    @property
    def ibis(self) -> Any:
        """This thread's Ibis backend (over ``con``)."""
        backend = getattr(self._local, "ibis", None)
        if backend is None:
            backend = self._local.ibis = ibis.duckdb.from_connection(self.con)
        return backend

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

    def dataset_names(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT name FROM datasets ORDER BY name").fetchall()]

    def check_dataset(self, name: str) -> None:
        """UnknownDataset (a ValueError) naming the datasets that exist when ``name`` is not one of them
        (names are exact: ``Ira`` is not ``ira``)."""
        names = self.dataset_names()
        if name in names:
            return
        close = [n for n in names if n.casefold() == name.casefold()] or difflib.get_close_matches(name, names, 1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        have = f"its datasets are {', '.join(map(repr, names))}" if names else "it has no datasets yet"
        raise UnknownDataset(f"no dataset {name!r} in this workspace{hint}; {have}")

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

    # -- Parquet layout for other engines ------------------------------------------------------
    def snapshot(self, out: Path, posts: Any = None) -> Path:
        """Write posts (or the rows of the Ibis expression ``posts``, one per post with ``dataset`` and
        ``created_at``) as Parquet partitioned by dataset and UTC day (hive layout)."""
        out.mkdir(parents=True, exist_ok=True)
        source = "posts" if posts is None else f"({self.ibis.compile(posts)})"  # SQL that Ibis made from code
        self.con.execute(
            f"""COPY (SELECT *, strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%d') AS day FROM {source})
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
