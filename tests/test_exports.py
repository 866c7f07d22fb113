"""Enrichment reaches the user's tools: ``hubbub export`` (Parquet, CSV, JSONL), ``search --export``,
``search --json``, ``hubbub snapshot`` and ``Hubbub.posts()`` carry the enrichment columns of
``hubbub.enrich.columns`` (all that ran by default, or those named with ``--enrichment``), with the
step version of each; posts a step has not enriched get nulls.

One workspace of real data (../shared/data): the IRA 2016-10-01 week (2,461 tweets) enriched with
the default steps, ``entities`` and ``embed,topic``; a Mastodon sample left un-enriched.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest
from conftest import REPO, shared
from test_cli import hubbub

from hubbub.api import Hubbub
from hubbub.enrich.columns import GROUPS
from hubbub.schema import POST_COLUMNS

IRA = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-01.csv"
MASTODON = "platform-formats/mastodon-api"
RAN = ("lang", "sentiment", "topic", "keyphrases", "entities", "neardup")  # the steps run on `ira`
POSTS = [c for c in POST_COLUMNS if c != "raw"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("exports") / "ws"
    for path, name in ((shared(IRA), "ira"), (shared(MASTODON), "masto")):
        r = hubbub(ws, "import", str(path), "--dataset", name, "--json")
        assert r.returncode in (0, 3), r.stderr
    for steps in ((), ("--steps", "entities"), ("--steps", "embed,topic")):
        r = hubbub(ws, "enrich", "--dataset", "ira", *steps, "--json")
        assert r.returncode == 0, r.stderr
    return ws


def names(*steps: str) -> list[str]:
    return [n for g in GROUPS if g.step in steps for n in g.names()]


def sql(ws: Path, query: str) -> list[dict[str, Any]]:
    """An independent answer, test-authored SQL over the store's own tables."""
    with Hubbub(ws, read_only=True) as hb:
        return hb.store.query(query).to_pylist()


def truth(ws: Path) -> dict[str, dict[str, Any]]:
    """post_id -> the enrichment of the IRA posts, read straight from the enrich_* tables."""
    rows = sql(ws, """SELECT p.post_id, l.lang, l.lang_score, s.sentiment, s.sentiment_score, t.topic_id,
        tp.label AS topic_label, k.keyphrases, e.entities, l.step_version AS lang_version
        FROM posts p JOIN enrich_lang l USING (platform, post_id) JOIN enrich_sentiment s USING (platform, post_id)
        JOIN enrich_topic t USING (platform, post_id) LEFT JOIN topics tp ON tp.topic_id = t.topic_id
        JOIN enrich_keyphrases k USING (platform, post_id) JOIN enrich_entities e USING (platform, post_id)
        WHERE p.dataset = 'ira'""")
    return {r.pop("post_id"): r for r in rows}


def test_export_parquet_reads_back_with_pandas(ws, tmp_path):
    out = tmp_path / "x.parquet"
    r = hubbub(ws, "export", str(out), "--dataset", "ira")
    assert r.returncode == 0, r.stderr
    want = truth(ws)
    assert len(want) == 2461

    df = pd.read_parquet(out)
    assert list(df.columns) == POSTS + names(*RAN)  # every step that ran; the embedding only when named
    assert len(df) == 2461 and df["lang"].notna().all() and df["sentiment"].notna().all()
    assert set(df["lang_version"]) == {"2"} and set(df["sentiment_version"]) == {"1"}
    assert df["lang_score"].dtype == "float32" and df["topic_id"].dtype == "int32"
    by_id = df.set_index("post_id")
    for pid, w in list(want.items())[::97]:
        row = by_id.loc[pid]
        label = None if pd.isna(row["topic_label"]) else row["topic_label"]  # a pandas row turns None into NaN
        assert (row["lang"], row["sentiment"], row["topic_id"], label) == (
            w["lang"], w["sentiment"], w["topic_id"], w["topic_label"])
        assert row["sentiment_score"] == pytest.approx(w["sentiment_score"])
        assert list(row["keyphrases"]) == list(w["keyphrases"] or [])
        assert list(row["entities"] if row["entities"] is not None else []) == list(w["entities"] or [])
    assert (df["lang"] == "en").sum() == sum(w["lang"] == "en" for w in want.values())
    assert (df["neardup_size"] > 1).sum() > 100  # IRA accounts repeat each other


def test_export_parquet_reads_back_with_polars(ws, tmp_path):
    pl = pytest.importorskip("polars", reason="polars is not installed in this environment")
    out = tmp_path / "x.parquet"
    assert hubbub(ws, "export", str(out), "--dataset", "ira").returncode == 0
    df = pd.read_parquet(out)
    p = pl.read_parquet(out)
    assert p.columns == list(df.columns)
    assert p["lang"].to_list() == df["lang"].tolist()
    assert p.schema["topic_id"] == pl.Int32 and p.schema["keyphrases"] == pl.List(pl.String)


def test_neardup_group_is_the_cluster_of_the_analysis(ws, tmp_path):
    from hubbub.enrich.clusters import neardup_clusters

    out = tmp_path / "x.parquet"
    assert hubbub(ws, "export", str(out), "-d", "ira", "--enrichment", "neardup").returncode == 0
    got = pq.read_table(out).to_pylist()
    with Hubbub(ws, read_only=True) as hb:
        clusters = {r["post_id"]: r for r in neardup_clusters(hb.store, dataset="ira").to_pylist()}
    assert len(clusters) > 300
    for row in got:
        c = clusters.get(row["post_id"])
        if c is not None:
            assert (row["neardup_group"], row["neardup_size"]) == (c["cluster_id"], c["cluster_size"])
        elif row["neardup_group"] is not None:  # alone: its own key, size 1
            assert (row["neardup_group"], row["neardup_size"]) == (f"twitter:{row['post_id']}", 1)


def test_unenriched_posts_get_typed_nulls(ws, tmp_path):
    out = tmp_path / "all.parquet"
    assert hubbub(ws, "export", str(out)).returncode == 0
    t = pq.read_table(out)
    masto = t.filter(pa.compute.equal(t["dataset"], "masto"))
    assert masto.num_rows > 0
    for name in names(*RAN):
        assert masto[name].null_count == masto.num_rows, name
    assert t.schema.field("lang_score").type == pa.float32()
    assert t.schema.field("entities").type == pa.list_(pa.string())


def test_enrichment_option_chooses_columns(ws, tmp_path):
    out = tmp_path / "some.parquet"
    r = hubbub(ws, "export", str(out), "-d", "ira", "--enrichment", "sentiment,lang")
    assert r.returncode == 0, r.stderr
    assert pq.read_table(out).column_names == POSTS + names("lang", "sentiment")
    # a step that never ran, named: typed null columns (a script can rely on the schema)
    assert hubbub(ws, "export", str(out), "-d", "ira", "-e", "sentiment_vader,embed").returncode == 0
    t = pq.read_table(out)
    assert t.column_names == POSTS + names("sentiment_vader", "embed")
    assert t["sentiment_vader"].null_count == t.num_rows
    assert t.schema.field("sentiment_vader_score").type == pa.float32()
    assert {len(v) for v in t["embedding"].to_pylist() if v is not None} == {512}
    assert t["embedding"].null_count < t.num_rows / 10
    assert hubbub(ws, "export", str(out), "-d", "ira", "-e", "none").returncode == 0
    assert pq.read_table(out).column_names == POSTS
    bad = hubbub(ws, "export", str(out), "-e", "langs")
    assert bad.returncode == 2 and "unknown enrichment langs" in bad.stderr and "sentiment" in bad.stderr


def test_csv_and_jsonl_exports_carry_them(ws, tmp_path):
    want = truth(ws)
    assert hubbub(ws, "export", str(tmp_path / "x.csv"), "-d", "ira").returncode == 0
    with open(tmp_path / "x.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2461 and list(rows[0]) == POSTS + names(*RAN)
    for row in rows[::101]:
        w = want[row["post_id"]]
        assert row["lang"] == w["lang"] and orjson.loads(row["keyphrases"]) == (w["keyphrases"] or [])
    assert hubbub(ws, "export", str(tmp_path / "x.jsonl"), "-d", "ira", "-e", "topic").returncode == 0
    docs = [orjson.loads(line) for line in (tmp_path / "x.jsonl").read_bytes().splitlines()]
    assert all(d["topic_id"] == want[d["post_id"]]["topic_id"] for d in docs)


def test_search_json_and_export_carry_them(ws, tmp_path):
    want = truth(ws)
    r = hubbub(ws, "search", "trump", "-d", "ira", "--limit", "30", "--json")
    assert r.returncode == 0, r.stderr
    page = orjson.loads(r.stdout)
    assert len(page) == 30 and "trump" in page[0]["text"].lower()
    for p in page:
        w = want[p["post_id"]]
        assert (p["lang"], p["sentiment"], p["topic_label"], p["lang_version"]) == (
            w["lang"], w["sentiment"], w["topic_label"], "2")
    times = [p["created_at"] for p in page]
    assert times == sorted(times, reverse=True)  # the page keeps its order
    r = hubbub(ws, "search", "trump", "-d", "ira", "--limit", "3", "--json", "-e", "lang")
    assert set(orjson.loads(r.stdout)[0]) >= set(names("lang")) and "sentiment" not in orjson.loads(r.stdout)[0]

    out = tmp_path / "trump.parquet"
    assert hubbub(ws, "search", "trump", "-d", "ira", "--export", str(out)).returncode == 0
    t = pq.read_table(out)
    assert t.column_names == POSTS + names(*RAN) and t.num_rows > 100
    assert all(r["sentiment"] == want[r["post_id"]]["sentiment"] for r in t.to_pylist())


def test_snapshot_carries_them(ws, tmp_path):
    r = hubbub(ws, "snapshot", str(tmp_path / "snap"))
    assert r.returncode == 0, r.stderr
    t = pds.dataset(tmp_path / "snap" / "posts", partitioning="hive").to_table()
    assert set(names(*RAN)) <= set(t.column_names)
    ira = t.filter(pa.compute.equal(t["dataset"], "ira"))
    assert ira.num_rows == 2461 and ira["lang"].null_count == 0
    want = truth(ws)
    assert all(r["topic_id"] == want[r["post_id"]]["topic_id"] for r in ira.select(["post_id", "topic_id"]).to_pylist())
    assert hubbub(ws, "snapshot", str(tmp_path / "s2"), "--enrichment", "none").returncode == 0
    plain = pds.dataset(tmp_path / "s2" / "posts", partitioning="hive").schema.names
    assert "lang" not in plain and "text" in plain


def test_api_posts_carries_them(ws):
    with Hubbub(ws, read_only=True) as hb:
        df = hb.posts("ira").to_pandas()
        assert set(names(*RAN)) <= set(df.columns) and len(df) == 2461
        assert df["sentiment"].notna().all()
        assert list(hb.posts("ira", enrichment="none").columns) == list(POST_COLUMNS)
        assert list(hb.posts("ira", enrichment=["lang"]).columns) == [*POST_COLUMNS, *names("lang")]


def test_docs_name_every_column():
    schema = (REPO / "docs" / "schema.md").read_text()
    readme = (REPO / "README.md").read_text()
    for g in GROUPS:
        for n in g.names():
            assert f"`{n}`" in schema, n
    assert "--enrichment" in readme and "docs/schema.md" in readme


def test_every_enrichment_step_reaches_exports():
    from hubbub.enrich.registry import all_steps

    assert set(all_steps()) == {g.step for g in GROUPS}  # a new step adds its group in hubbub.enrich.columns
    for g in GROUPS:
        assert set(g.types()) == set(g.names())  # every column has a type (from the step's schema)


def test_posts_of_two_datasets_keep_their_own_clusters(ws):
    with Hubbub(ws, read_only=True) as hb:
        ira = hb.posts("ira", enrichment="neardup")
        masto = hb.posts("masto", enrichment="neardup")  # made after: must not change `ira`'s clusters
        got = ira.to_pyarrow()
        assert masto.count().to_pyarrow().as_py() > 0
    assert got.num_rows == 2461 and pa.compute.sum(pa.compute.greater(got["neardup_size"], 1)).as_py() > 100
