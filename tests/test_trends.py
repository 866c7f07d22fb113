"""Time series with breakdowns on real data (two weeks of IRA troll tweets, enriched), checked against
counts made in Python from the same rows; the pre-aggregate against the full scan; and the CLI verbs
(`search`, `trends`, `check-query`) end to end."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from conftest import shared

from hubbub.analyze.trends import dense, timeseries
from hubbub.api import Hubbub
from hubbub.query import QueryError

IRA = "ira-troll-tweets-2016-election-window/tweets/"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trends") / "ws"
    with Hubbub(path, create=True) as hb:
        hb.import_files([shared(IRA + "tweets_week_2016-10-01.csv")], dataset="ira")
        hb.enrich(["lang", "sentiment", "neardup"], workers=1)
    return path


@pytest.fixture(scope="module")
def hb(ws: Path):
    h = Hubbub(ws, save_runs=True)
    yield h
    h.close()


@pytest.fixture(scope="module")
def rows(hb: Hubbub) -> list[dict]:
    return hb.store.query(
        """SELECT p.post_id, p.created_at, p.kind, p.platform, p.hashtags, p.domains, p.text, p.lang_declared,
                  l.lang, s.sentiment
           FROM posts p LEFT JOIN enrich_lang l USING (platform, post_id)
           LEFT JOIN enrich_sentiment s USING (platform, post_id)""").to_pylist()


def _bucket(t: datetime, interval: str) -> datetime:
    t = t.astimezone(UTC)
    if interval == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    d = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return d - timedelta(days=d.weekday()) if interval == "week" else d


def python_series(rows: list[dict], keys, interval: str) -> dict[tuple[datetime, str], int]:
    """{(bucket, key): posts} with ``keys(row)`` the values a row counts for."""
    c: Counter = Counter()
    for r in rows:
        for k in keys(r):
            c[(_bucket(r["created_at"], interval), k)] += 1
    return dict(c)


def as_dict(series) -> dict[tuple[datetime, str], int]:
    """The series' counts, without the zeros of the buckets where a key had no posts."""
    return {(r["bucket"], r["key"]): r["count"] for r in series.to_pylist() if r["count"]}


@pytest.mark.parametrize("interval", ["hour", "day", "week"])
@pytest.mark.parametrize("use_aggregate", [True, False])
def test_counts_by_language_agree_with_python(hb: Hubbub, rows: list[dict], interval: str, use_aggregate: bool):
    s = timeseries(hb.store, "", interval, "lang", top=1000, use_aggregate=use_aggregate)
    want = python_series(rows, lambda r: [r["lang"] or r["lang_declared"] or "(none)"], interval)
    assert as_dict(s) == want
    totals = Counter()
    for (b, _), n in want.items():
        totals[b] += n
    for r in s.to_pylist():
        assert r["total"] == totals[r["bucket"]]
        assert r["share"] == pytest.approx(r["count"] / r["total"])
    assert str(s["bucket"].type) == "timestamp[us, tz=UTC]"


def test_aggregate_and_scan_give_the_same_series(hb: Hubbub):
    for q, by in [("lang:en", "sentiment"), ("kind:repost -lang:ru", "lang"), ("date:2016-10-02", "kind"),
                  ("sentiment:negative OR platform:twitter", "platform"), (None, None)]:
        a = timeseries(hb.store, q, "hour", by, use_aggregate=True)
        b = timeseries(hb.store, q, "hour", by, use_aggregate=False)
        assert a.num_rows > 0 and a.equals(b), (q, by)
    assert hb.store.query("SELECT sum(posts) AS n FROM agg_hourly").to_pylist()[0]["n"] == len(
        hb.store.query("SELECT post_id FROM posts"))


def test_text_query_with_hashtag_breakdown_and_top(hb: Hubbub, rows: list[dict]):
    from test_query import has_word

    sel = [r for r in rows if has_word(r["text"], "trump")]
    assert len(sel) > 50
    s = timeseries(hb.store, "trump", "day", "hashtag", top=3)
    tags = Counter(h for r in sel for h in {x.lower() for x in r["hashtags"] or []})
    top = {k for k, _ in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:3]}

    def keys(r):
        hs = {x.lower() for x in r["hashtags"] or []}
        return [h if h in top else "(other occurrences)" for h in hs] if hs else ["(none)"]

    assert as_dict(s) == python_series(sel, keys, "day")
    day_totals = Counter(_bucket(r["created_at"], "day") for r in sel)
    assert {r["bucket"]: r["total"] for r in s.to_pylist()} == day_totals


def test_domain_cluster_and_sentiment_breakdowns(hb: Hubbub, rows: list[dict]):
    s = timeseries(hb.store, "", "day", "domain", top=1000)
    assert as_dict(s) == python_series(rows, lambda r: sorted(set(r["domains"] or [])) or ["(none)"], "day")
    s = timeseries(hb.store, "lang:en", "day", "sentiment", top=1000)
    assert as_dict(s) == python_series([r for r in rows if r["lang"] == "en"], lambda r: [r["sentiment"]], "day")
    from hubbub.enrich.clusters import neardup_clusters

    cl = {r["post_id"]: r["cluster_id"] for r in neardup_clusters(hb.store).to_pylist()}
    assert cl
    s = timeseries(hb.store, "", "day", "cluster", top=5)
    sizes = Counter(cl.values())
    top = {k for k, _ in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]}
    want = python_series(rows, lambda r: [cl[r["post_id"]] if cl.get(r["post_id"]) in top else
                                          "(other posts)" if r["post_id"] in cl else "(none)"], "day")
    assert as_dict(s) == want


def test_errors_and_provenance(hb: Hubbub):
    with pytest.raises(QueryError):
        timeseries(hb.store, "topic:2", "day", None)
    with pytest.raises(QueryError):
        timeseries(hb.store, "", "day", "topic")
    with pytest.raises(ValueError, match="unknown interval"):
        timeseries(hb.store, "", "month")
    with pytest.raises(ValueError, match="unknown breakdown"):
        timeseries(hb.store, "", "day", "colour")
    before = hb.store.query("SELECT count(*) AS n FROM runs WHERE kind = 'analysis:trends'").to_pylist()[0]["n"]
    hb.trends("trump", by="lang")
    runs = hb.store.query("SELECT params FROM runs WHERE kind = 'analysis:trends' ORDER BY started_at").to_pylist()
    assert len(runs) == before + 1
    p = orjson.loads(runs[-1]["params"])
    assert p["query"] == "trump" and p["by"] == "lang" and p["interval"] == "day"


def test_aggregate_is_rebuilt_after_an_import(tmp_path: Path):
    rows = list(csv.reader(open(shared(IRA + "tweets_week_2016-10-01.csv"), encoding="utf-8", newline="")))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for path, part in ((a, rows[1:300]), (b, rows[300:600])):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([rows[0], *part])
    with Hubbub(tmp_path / "ws", create=True) as h:
        h.import_files([a], dataset="x")
        n1 = sum(timeseries(h.store, "platform:twitter", "day", "kind")["count"].to_pylist())
        h.import_files([b], dataset="x")
        n2 = sum(timeseries(h.store, "platform:twitter", "day", "kind")["count"].to_pylist())
        total = h.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
    assert n1 < n2 == total


def test_every_bucket_of_every_key_is_in_the_series(hb: Hubbub, rows: list[dict]):
    """#BasementDwellers (real IRA hashtag) is missing from most hours of 2016-10-01/02: those hours are
    in the series with 0 (JSON, CSV and charts all read this table), not skipped."""
    s = timeseries(hb.store, "hashtag:basementdwellers", "hour", "lang", top=3)
    got = s.to_pylist()
    hours = sorted({r["bucket"] for r in got})
    assert len(hours) == (hours[-1] - hours[0]) // timedelta(hours=1) + 1  # no hour left out
    keys = {r["key"] for r in got}
    assert len(got) == len(hours) * len(keys)  # every key in every hour
    empty = [r for r in got if r["total"] == 0]
    assert empty and all(r["count"] == 0 and r["share"] == 0 for r in empty)
    want = python_series([r for r in rows if "basementdwellers" in {h.lower() for h in r["hashtags"] or []}],
                         lambda r: [r["lang"] or "(none)"], "hour")
    assert sum(r["count"] for r in got) == sum(want.values())
    assert [(r["bucket"], r["count"]) for r in got] == sorted(((r["bucket"], r["count"]) for r in got),
                                                               key=lambda x: x[0])


def test_dense_fills_empty_buckets():
    import pyarrow as pa

    t = pa.table({"bucket": pa.array([datetime(2016, 10, 1, tzinfo=UTC), datetime(2016, 10, 4, tzinfo=UTC)],
                                     pa.timestamp("us", tz="UTC")), "key": ["a", "b"], "count": [3, 5]})
    buckets, cols = dense(t, "day")
    assert len(buckets) == 4 and cols == {"a": [3, 0, 0, 0], "b": [0, 0, 0, 5]}


# -- CLI -------------------------------------------------------------------------------------------
def hubbub(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubbub.serve.cli", "--workspace", str(ws), *args],
                          capture_output=True, text=True)


def test_cli_search_trends_and_check(hb: Hubbub, rows: list[dict], tmp_path: Path):
    from test_query import has_word

    hb.store.con.execute("CHECKPOINT")  # the module's store stays open: the CLI works on a copy
    ws = tmp_path / "ws"
    shutil.copytree(hb.ws.path, ws)
    n = sum(1 for r in rows if has_word(r["text"], "clinton"))
    r = hubbub(ws, "search", "clinton", "--count")
    assert r.returncode == 0 and r.stdout.strip() == str(n)
    r = hubbub(ws, "search", "clinton", "--limit", "5", "--json")
    page = orjson.loads(r.stdout)
    assert len(page) == 5 and all(has_word(p["text"], "clinton") for p in page)
    out = tmp_path / "clinton.parquet"
    r = hubbub(ws, "search", "clinton", "--export", str(out))
    assert r.returncode == 0 and pq.read_table(out).num_rows == n

    r = hubbub(ws, "search", "(clinton OR")
    assert r.returncode == 2 and "^ query ends" in r.stderr and "(clinton OR" in r.stderr
    r = hubbub(ws, "check-query", "likes:>many", "--json")
    assert r.returncode == 2 and orjson.loads(r.stdout)["problems"][0]["position"] == 8

    png = tmp_path / "t.png"
    r = hubbub(ws, "trends", "lang:en", "--by", "sentiment", "--interval", "hour", "--chart", str(png), "--csv")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = r.stdout.splitlines()
    assert lines[0] == '"bucket","key","count","total","share"' and len(lines) > 10
    svg = tmp_path / "t.svg"
    r = hubbub(ws, "trends", "trump", "--chart", str(svg))
    assert r.returncode == 0 and b"<svg" in svg.read_bytes()[:500] and "posts per day" in r.stdout


def test_topic_field_and_breakdown(tmp_path: Path, hb: Hubbub, rows: list[dict]):
    """Topic assignments made in the test (posts about Trump: topic 1 "US politics", the rest -1),
    written like the topic step writes them, plus a row of an older step version that must not count."""
    from test_query import has_word

    from hubbub.enrich.registry import get_step

    con = hb.store.con
    version = get_step("topic").version
    con.execute("""CREATE TABLE enrich_topic (platform VARCHAR, post_id VARCHAR, topic_id INTEGER,
        topic_score DOUBLE, step_version VARCHAR, run_id VARCHAR)""")
    con.execute("CREATE TABLE topics (topic_id INTEGER, label VARCHAR)")
    try:
        trump = {r["post_id"] for r in rows if has_word(r["text"], "trump")}
        con.executemany("INSERT INTO enrich_topic VALUES ('twitter', ?, ?, 1.0, ?, 'test')",
                        [[r["post_id"], 1 if r["post_id"] in trump else -1, version] for r in rows])
        con.execute("UPDATE enrich_topic SET step_version = 'old', topic_id = 2 WHERE post_id = ?",
                    [sorted(trump)[0]])
        con.execute("INSERT INTO topics VALUES (1, 'US politics, élection / wahl'), (2, 'Other things'), "
                    "(-1, 'outliers')")
        from hubbub.query import select

        def got(q: str) -> set[str]:
            return set(hb.store.to_arrow(select(hb.store, q).select("post_id"))["post_id"].to_pylist())

        want = trump - {sorted(trump)[0]}
        assert want and got("topic:1") == want == got('topic:"us POLITICS, election / wahl"') == got("topic:us*")
        assert got("topic:2") == set() and got("topic:-1") == {r["post_id"] for r in rows} - trump
        # each keyword of a label matches on its own, accents folded, in any language part; not word pieces
        assert got('topic:"us politics"') == got("topic:election") == got("topic:WAHL") == want
        assert got("topic:elec*") == got("topic:wa*") == want
        assert got("topic:politic") == got("topic:lection") == got("topic:ahl") == set()
        a = timeseries(hb.store, "lang:en", "day", "topic", use_aggregate=True)
        b = timeseries(hb.store, "lang:en", "day", "topic", use_aggregate=False)
        one = "1: US politics, élection / wahl"
        assert set(a["key"].to_pylist()) == {one, "-1: outliers", "(none)"} and a.equals(b)
        assert sum(r["count"] for r in b.to_pylist() if r["key"] == one) == len(
            [r for r in rows if r["post_id"] in want and r["lang"] == "en"])
    finally:
        con.execute("DROP TABLE enrich_topic")
        con.execute("DROP TABLE topics")
