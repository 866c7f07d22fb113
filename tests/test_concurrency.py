"""One ``Hubbub`` (one store) serves many threads: 16 threads running a mix of searches, counts, trends,
spikes and coordination get exactly the results of running the same calls one after another."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pytest
from conftest import shared

from hubbub.api import Hubbub

WEEKS = ["tweets_week_2016-10-03.csv", "tweets_week_2016-11-07.csv"]


@pytest.fixture(scope="module")
def hb(tmp_path_factory: pytest.TempPathFactory) -> Hubbub:
    ira = shared("ira-troll-tweets-2016-election-window/tweets")
    h = Hubbub(tmp_path_factory.mktemp("conc") / "ws", create=True)
    h.import_files([ira / w for w in WEEKS], dataset="ira")
    h.enrich(steps=["lang"])
    return h


def _digest(x: Any) -> Any:
    """A comparable form of a result: Arrow tables as row lists, results with to_dict() as their dict."""
    if isinstance(x, pa.Table):
        return x.to_pylist()
    if hasattr(x, "members"):  # a coordination result
        return [x.edges.to_pylist(), x.graph.to_pylist(), x.members.to_pylist(), x.clusters.to_pylist(), x.params]
    if hasattr(x, "to_dict"):
        d = x.to_dict()
        d.pop("run_id", None)
        return d
    return x


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("search", ("trump OR hillary",), {"limit": 50}),
    ("search", ("lang:en AND #maga",), {"sort": "engagement", "limit": 20}),
    ("count", ("clinton",), {}),
    ("count", ("lang:ru",), {}),
    ("trends", ("",), {"interval": "day", "by": "lang"}),
    ("trends", ("election*",), {"interval": "hour", "by": "kind"}),
    ("spikes", (), {"interval": "day"}),
    ("spikes", ("lang:en",), {"interval": "hour"}),
    ("coordination", (), {"layers": ["repost", "hashtag"]}),
]


def test_sixteen_threads_get_the_serial_results(hb: Hubbub) -> None:
    serial = [_digest(getattr(hb, name)(*a, **kw)) for name, a, kw in CALLS]
    work = [i % len(CALLS) for i in range(48)]

    def run(i: int) -> Any:
        name, a, kw = CALLS[i]
        return _digest(getattr(hb, name)(*a, **kw))

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(run, work))
    for i, got in zip(work, results, strict=True):
        assert got == serial[i], f"{CALLS[i][0]}{CALLS[i][1]} differs when run in parallel"


def _fingerprint(hb: Hubbub) -> dict[str, tuple[int, str]]:
    """Row count and a content checksum of every table of the store."""
    out = {}
    tables = "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' ORDER BY 1"
    for (name,) in hb.store.con.execute(tables).fetchall():
        n = hb.store.query(f'SELECT count(*) AS n FROM "{name}"')["n"][0].as_py()  # names from the catalog
        h = hb.store.query(f'SELECT bit_xor(hash(t)) AS h FROM "{name}" t')["h"][0].as_py()
        out[name] = (n, str(h))
    return out


def test_reads_leave_every_table_unchanged(hb: Hubbub) -> None:
    before = _fingerprint(hb)
    for name, a, kw in CALLS:
        getattr(hb, name)(*a, **kw)
    hb.stats()
    hb.datasets()
    hb.validate_query("a AND b")
    assert _fingerprint(hb) == before
