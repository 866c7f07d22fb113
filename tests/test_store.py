"""Store schema versions: migrations run in order, a newer store is refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from hubbub.schema import SCHEMA_VERSION
from hubbub.store.migrations import MIGRATIONS
from hubbub.store.store import Store
from hubbub.store.workspace import init_workspace


def test_v1_store_is_migrated(tmp_path: Path):
    ws, _ = init_workspace(tmp_path / "ws")
    con = duckdb.connect(str(ws.store_path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for stmt in MIGRATIONS[1]:
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    with Store(ws) as st:
        assert st.query("SELECT value FROM meta WHERE key = 'schema_version'").to_pylist() == [
            {"value": str(SCHEMA_VERSION)}]
        assert st.query("SELECT count(*) AS n FROM import_progress").to_pylist() == [{"n": 0}]


def test_newer_store_is_refused(tmp_path: Path):
    ws, _ = init_workspace(tmp_path / "ws")
    Store(ws).close()
    con = duckdb.connect(str(ws.store_path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    with pytest.raises(RuntimeError, match="newer than this Hubbub"):
        Store(ws)
