"""Versioned store schema. Each migration moves the store from version N-1 to N; never edit a
released one, add the next. The version is kept in table ``meta``."""

from __future__ import annotations

import pyarrow as pa

from hubbub.schema import POST_SCHEMA, SCHEMA_VERSION


def duck_type(t: pa.DataType) -> str:
    """The DuckDB column type for an Arrow type (the types Hubbub's tables use)."""
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_float32(t):
        return "REAL"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_binary(t):
        return "BLOB"
    if pa.types.is_list(t):
        return duck_type(t.value_type) + "[]"
    raise TypeError(t)


def posts_ddl(name: str = "posts") -> str:
    cols = ", ".join(f"{f.name} {duck_type(f.type)}" for f in POST_SCHEMA)
    return f"CREATE TABLE {name} ({cols})"


def _v1() -> list[str]:
    return [
        posts_ddl(),
        """CREATE TABLE datasets (
            name VARCHAR PRIMARY KEY, keep_handles BOOLEAN NOT NULL, created_at TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE files (
            import_id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL,
            path VARCHAR NOT NULL, format VARCHAR, status VARCHAR NOT NULL, read BIGINT, imported BIGINT,
            duplicate BIGINT, quarantined BIGINT, error VARCHAR, imported_at TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE quarantine (
            dataset VARCHAR NOT NULL, import_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL,
            locator VARCHAR NOT NULL, format VARCHAR, reason VARCHAR NOT NULL,
            raw_sealed BLOB, resolved BOOLEAN NOT NULL DEFAULT FALSE)""",
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, code_version VARCHAR NOT NULL,
            params JSON, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ, counts JSON)""",
    ]


def _v2() -> list[str]:
    # Imports commit in batches and record how far they got, so a killed import resumes.
    return [
        """CREATE TABLE import_progress (
            import_id VARCHAR PRIMARY KEY, position BIGINT NOT NULL, read BIGINT, imported BIGINT,
            duplicate BIGINT, quarantined BIGINT, skipped BIGINT)""",
    ]


MIGRATIONS: dict[int, list[str]] = {1: _v1(), 2: _v2()}
assert max(MIGRATIONS) == SCHEMA_VERSION


def migrate(con) -> int:  # type: ignore[no-untyped-def]
    """Bring the store to SCHEMA_VERSION inside one transaction. Returns the version found."""
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    row = rows[0] if rows else None
    found = int(row[0]) if row else 0
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"store schema version {found} is newer than this Hubbub ({SCHEMA_VERSION}); upgrade Hubbub"
        )
    if found == SCHEMA_VERSION:
        return found
    con.execute("BEGIN TRANSACTION")
    try:
        for v in range(found + 1, SCHEMA_VERSION + 1):
            for stmt in MIGRATIONS[v]:
                con.execute(stmt)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return found
