"""Topic evolution (hubbub.analyze.topic_evolution) on real IRA tweets of 2016-10-01/02.

The topic assignments are made by the test from the posts' hashtags, so the truth is known: topic 0
= #BasementDwellers (34 posts on Oct 1, 14 on Oct 2 while the volume grew from 952 to 1,509: fading),
topic 1 = #NowPlaying, #LastTimeTrumpPaidTaxes,
#Trump, #спб, #спорт (a handful, then several times more: emerging), topic 2 = #sports (18 then 24: follows the volume);
every other post is an outlier (-1). Sentiment comes from the real ``sentiment`` step."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pyarrow as pa
import pytest
from conftest import shared

from hubbub.api import Hubbub

IRA = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-01.csv"
TAGS = {0: ["basementdwellers"], 1: ["nowplaying", "lasttimetrumppaidtaxes", "trump", "спб", "спорт"],
        2: ["sports"]}


@pytest.fixture(scope="module")
def hb(tmp_path_factory):
    h = Hubbub(tmp_path_factory.mktemp("topics") / "ws", create=True, save_runs=True)
    h.import_files([shared(IRA)], dataset="ira")
    h.enrich(["sentiment"], workers=1)
    rows = h.store.query("SELECT platform, post_id, list_transform(hashtags, lambda x: lower(x)) AS tags "
                         "FROM posts").to_pylist()
    tid = [next((k for k, tags in TAGS.items() if set(tags) & set(r["tags"] or [])), -1) for r in rows]
    t = pa.table({"platform": [r["platform"] for r in rows], "post_id": [r["post_id"] for r in rows],
                  "topic_id": pa.array(tid, pa.int32()), "topic_score": pa.array([0.9] * len(rows), pa.float32()),
                  "step_version": ["1"] * len(rows), "run_id": ["test"] * len(rows)})
    con = h.store.con
    con.register("_t", t)
    con.execute("CREATE TABLE enrich_topic AS SELECT * FROM _t")
    con.unregister("_t")
    con.execute("CREATE TABLE topics (model_id VARCHAR, topic_id INTEGER, label VARCHAR)")
    con.executemany("INSERT INTO topics VALUES ('topic-1', ?, ?)", [[k, "_".join(v)] for k, v in TAGS.items()])
    yield h
    h.close()


def test_sizes_sentiment_and_trends(hb):
    res = hb.topic_evolution(interval="day", dataset="ira")
    topics = {r["topic_id"]: r for r in res.topics.to_pylist()}
    assert set(topics) == {0, 1, 2}  # outliers (-1) are not a topic
    assert topics[0]["trend"] == "fading" and topics[0]["growth"] < -1
    assert topics[1]["trend"] == "emerging" and topics[1]["growth"] > 1
    assert topics[2]["trend"] == "stable"
    assert topics[0]["label"] == "basementdwellers" and topics[1]["posts"] >= 30
    for k, r in topics.items():  # sizes and mean sentiment, against SQL over the same posts
        want = hb.store.query(
            """SELECT count(*) AS n, avg(s.sentiment_score) AS s FROM enrich_topic t
            JOIN enrich_sentiment s USING (platform, post_id) WHERE t.topic_id = ?""", [k]).to_pylist()[0]
        assert r["posts"] == want["n"] == r["recent_posts"] + r["earlier_posts"]
        assert r["sentiment"] == pytest.approx(want["s"], abs=1e-6)
    series = res.series.to_pylist()
    day2 = [s for s in series if s["bucket"].day == 2]
    assert sum(s["posts"] for s in day2 if s["topic_id"] == 1) == topics[1]["recent_posts"]
    total2 = hb.store.query("SELECT count(*) AS n FROM posts WHERE created_at >= '2016-10-02'")["n"][0].as_py()
    s1 = next(s for s in day2 if s["topic_id"] == 1)
    assert s1["share"] == pytest.approx(s1["posts"] / total2)
    assert hb.store.query("SELECT kind FROM runs WHERE run_id = ?", [res.run_id])["kind"][0].as_py() == \
        "analysis:topics"


def test_query_and_missing_topics(hb, tmp_path):
    res = hb.topic_evolution("lang:ru", interval="day", dataset="ira")
    assert {r["topic_id"] for r in res.topics.to_pylist()} <= {1, 2}  # #BasementDwellers posts are English
    with Hubbub(tmp_path / "none", create=True) as empty:
        with pytest.raises(ValueError, match="--steps embed,topic"):
            empty.topic_evolution()


def test_series_has_every_bucket_of_every_topic(hb):
    """#BasementDwellers (topic 0) has no posts in many hours of 2016-10-01/02: the series carries those
    hours with 0 posts, so the chart, JSON and CSV never join its points across empty hours."""
    res = hb.topic_evolution(interval="hour", dataset="ira")
    series = res.series.to_pylist()
    hours = hb.store.query("SELECT date_trunc('hour', min(created_at)) AS a, date_trunc('hour', max(created_at)) AS b "
                           "FROM posts").to_pylist()[0]
    n_hours = (hours["b"] - hours["a"]) // timedelta(hours=1) + 1
    for tid in (0, 1, 2):
        rows = [s for s in series if s["topic_id"] == tid]
        assert len(rows) == n_hours and len({r["bucket"] for r in rows}) == n_hours
        zero = [r for r in rows if r["posts"] == 0]
        assert all(r["share"] == 0 and r["sentiment"] is None for r in zero)
        assert {r["label"] for r in rows} == {"_".join(TAGS[tid])}
    zero0 = [r for r in series if r["topic_id"] == 0 and r["posts"] == 0]
    assert len(zero0) > 5
    t0 = next(t for t in res.topics.to_pylist() if t["topic_id"] == 0)
    seen = [r["bucket"] for r in series if r["topic_id"] == 0 and r["posts"] > 0]
    assert (t0["first_seen"], t0["last_seen"]) == (min(seen), max(seen))  # the zeros do not move them
    assert sum(r["posts"] for r in series if r["topic_id"] == 0) == t0["posts"]


def test_cli_top_min_size_and_compact_table(hb, tmp_path):
    from typer.testing import CliRunner

    from hubbub.serve.cli import app

    def run(*args):
        r = CliRunner().invoke(app, ["-w", str(hb.ws.path), "topics", "-d", "ira", "--interval", "day", *args])
        assert r.exit_code == 0, r.output
        return r.stdout

    got = orjson.loads(run("--json", "--top", "2"))
    assert [t["topic_id"] for t in got["topics"]] == [t["topic_id"] for t in
                                                       hb.topic_evolution(interval="day", dataset="ira")
                                                       .topics.to_pylist()][:2]
    assert got["topics_found"] == 3 and {s["topic_id"] for s in got["series"]} == {t["topic_id"] for t in got["topics"]}
    got = orjson.loads(run("--json", "--min-size", "45"))
    assert got["topics"] and all(t["posts"] >= 45 for t in got["topics"]) and len(got["topics"]) < 3
    table = run()
    head = next(line for line in table.splitlines() if "topic_id" in line)
    assert "label" in head and "trend" in head and "q_emerging" not in head and "earlier_posts" not in head
    run("--top", "1", "--chart", str(tmp_path / "t.svg"))
    assert (tmp_path / "t.svg").stat().st_size > 0
