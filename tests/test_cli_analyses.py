"""The analysis verbs end to end through the CLI (search, trends, check-query, spikes, topics, topic,
narratives, coordination) on one workspace of real IRA troll tweets (MIT, ../shared/data):

- ``ira``: the whole 2016-10-01 week file (2,461 posts, Oct 1-2), default enrichment;
- ``wk2``: every 8th tweet of Oct 3-6 (the Oct 6 surge), for spikes;
- ``emb``: the first 400 tweets of the 2016-11-14 file, with ``embed,topic`` (topics, narratives);
- ``markup``: one post whose text looks like Rich markup.

The workspace is built with the real ``hubbub`` process (tests/test_cli.py's helper); the verbs run
through the same Typer app in process (Click's runner: real parsing, exit codes, stdout and stderr),
which keeps the module fast. Each output is checked against the Python API or an independent SQL count.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import networkx as nx
import orjson
import pyarrow.parquet as pq
import pytest
from conftest import shared
from test_cli import hubbub
from typer.testing import CliRunner, Result

from hubbub.api import Hubbub
from hubbub.serve.cli import app

TWEETS = "ira-troll-tweets-2016-election-window/tweets/"
MARKUP = "[bold]loud[/bold] and [/] then [red]red[/red] [link=https://example.org]x[/link] markupcanary"
PNG = b"\x89PNG\r\n\x1a\n"


def _subset(src: Path, dst: Path, keep: Any) -> int:
    with open(src, encoding="utf-8", newline="") as fh, open(dst, "w", encoding="utf-8", newline="") as out:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        rows = [r for i, r in enumerate(reader) if keep(i, r)]
        writer.writerows(rows)
    return len(rows)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli_analyses")
    ws = tmp / "ws"
    _subset(shared(TWEETS + "tweets_week_2016-10-03.csv"), tmp / "wk2.csv",
            lambda i, r: i % 8 == 0 and r["publish_date"] < "2016-10-07")
    _subset(shared(TWEETS + "tweets_week_2016-11-14.csv"), tmp / "emb.csv", lambda i, r: i < 400)
    (tmp / "markup.jsonl").write_text(orjson.dumps({"data": [{
        "id": "1", "author_id": "2", "created_at": "2016-10-01T12:00:00.000Z", "text": MARKUP}]}).decode() + "\n")
    for path, name in ((shared(TWEETS + "tweets_week_2016-10-01.csv"), "ira"), (tmp / "wk2.csv", "wk2"),
                       (tmp / "emb.csv", "emb"), (tmp / "markup.jsonl", "markup")):
        r = hubbub(ws, "import", str(path), "--dataset", name, "--json")
        assert r.returncode == 0, r.stderr
    for args in (("--dataset", "ira"), ("--dataset", "emb"), ("--dataset", "emb", "--steps", "embed,topic")):
        r = hubbub(ws, "enrich", *args, "--json")
        assert r.returncode == 0, r.stderr
    return ws


def cli(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--workspace", str(ws), *args])


def ok(ws: Path, *args: str) -> Result:
    r = cli(ws, *args)
    assert r.exit_code == 0, (args, r.stdout, r.stderr, r.exception)
    return r


def as_json(obj: Any) -> Any:
    """What the CLI's --json gives for a Python API value (same orjson options)."""
    return orjson.loads(orjson.dumps(obj, option=orjson.OPT_NAIVE_UTC, default=str))


def without_run(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "run_id"}


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def api(ws: Path) -> Hubbub:
    return Hubbub(ws, save_runs=True)


def sql(ws: Path, query: str, params: list | None = None) -> list[dict[str, Any]]:
    """An independent answer, in test-authored SQL over the posts table."""
    with api(ws) as hb:
        return hb.store.query(query, params).to_pylist()


def assert_caret(stderr: str, query: str, column: int, message: str) -> None:
    """The query on one line, then a caret under ``column`` (1-based) followed by the message."""
    lines = stderr.splitlines()
    i = lines.index(query)
    assert lines[i + 1].index("^") == column - 1, stderr
    assert message in lines[i + 1], stderr


def assert_chart(path: Path) -> None:
    data = path.read_bytes()
    if path.suffix == ".png":
        assert data.startswith(PNG) and len(data) > 1000
    else:
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


# -- search ---------------------------------------------------------------------------------------
def test_search_json_csv_count_and_export(ws, tmp_path):
    want = sql(ws, r"SELECT post_id FROM posts WHERE regexp_matches(lower(text), '\btrump\b')"
                   " AND dataset = 'ira' ORDER BY post_id")
    assert len(want) > 100
    r = ok(ws, "search", "trump", "--dataset", "ira", "--count", "--json")
    assert orjson.loads(r.stdout) == {"query": "trump", "posts": len(want)}
    assert ok(ws, "search", "trump", "-d", "ira", "--count").stdout.strip() == str(len(want))

    r = ok(ws, "search", "trump", "-d", "ira", "--sort", "engagement", "--limit", "7", "--page", "2", "--json")
    got = orjson.loads(r.stdout)
    with api(ws) as hb:
        page = hb.search("trump", "ira", sort="engagement", page=2, limit=7)
    assert got == as_json(page.to_pylist()) and len(got) == 7
    assert all("trump" in p["text"].lower() for p in got)

    r = ok(ws, "search", "trump", "-d", "ira", "--limit", "5", "--csv")
    header, rows = csv_rows(r.stdout)
    assert header == page.column_names and len(rows) == 5
    assert all(row["author_key"].startswith("acct_") for row in rows)

    out = tmp_path / "trump.parquet"
    ok(ws, "search", "trump", "-d", "ira", "--export", str(out))
    exported = pq.read_table(out)
    assert sorted(exported["post_id"].to_pylist()) == [w["post_id"] for w in want]
    assert "raw" not in exported.column_names

    bad = cli(ws, "search", "trump", "--export", str(tmp_path / "x.xlsx"))
    assert bad.exit_code == 2 and "unknown export format" in bad.stderr


def test_search_table_prints_post_text_literally(ws):
    r = hubbub(ws, "search", "markupcanary", "--dataset", "markup")  # the real process: Rich renders to a pipe
    assert r.returncode == 0, r.stderr
    body = "".join(line.strip("│┃ ") for line in r.stdout.splitlines())  # the text column may fold
    assert "[bold]loud[/bold] and [/] then [red]red[/red]" in body
    assert "\x1b[" not in r.stdout


@pytest.mark.parametrize("verb", ["search", "trends", "spikes", "topics", "narratives", "coordination"])
def test_malformed_query_exit_2_with_caret(ws, verb):
    query = "(trump OR clinton"
    r = cli(ws, verb, query)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert_caret(r.stderr, query, 18, "missing ')' to close the '(' at column 1")
    assert r.stdout == ""


# -- trends and check-query -----------------------------------------------------------------------
def test_trends_json_csv_and_charts(ws, tmp_path):
    r = ok(ws, "trends", "trump OR clinton", "-d", "ira", "--by", "lang", "--json")
    got = orjson.loads(r.stdout)
    with api(ws) as hb:
        series = hb.trends("trump OR clinton", interval="day", by="lang", dataset="ira")
    assert got == as_json(series.to_pylist())
    per_day: dict[str, int] = {}
    for row in got:
        per_day[row["bucket"][:10]] = per_day.get(row["bucket"][:10], 0) + row["count"]
    want = sql(ws, r"""SELECT strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, count(*) AS n FROM posts
                   WHERE dataset = 'ira' AND regexp_matches(lower(text), '\b(trump|clinton)\b') GROUP BY 1""")
    assert per_day == {w["day"]: w["n"] for w in want} and len(per_day) == 2
    assert all(row["total"] == per_day[row["bucket"][:10]] for row in got)

    r = ok(ws, "trends", "", "-d", "ira", "--interval", "hour", "--csv", "--chart", str(tmp_path / "t.png"))
    header, rows = csv_rows(r.stdout)
    with api(ws) as hb:
        hourly = hb.trends("", interval="hour", dataset="ira")
    assert header == hourly.column_names and len(rows) == hourly.num_rows
    assert sum(int(x["count"]) for x in rows) == 2461
    assert_chart(tmp_path / "t.png")
    ok(ws, "trends", "lang:en", "-d", "ira", "--by", "sentiment", "--chart", str(tmp_path / "t.svg"))
    assert_chart(tmp_path / "t.svg")
    ok(ws, "trends", '"$250" OR "$^"', "-d", "ira", "--chart", str(tmp_path / "dollar.png"))  # no mathtext
    assert_chart(tmp_path / "dollar.png")

    bad = cli(ws, "trends", "trump", "--chart", str(tmp_path / "t.jpg"))
    assert bad.exit_code == 2 and "t.jpg" in bad.stderr and ".png or .svg" in bad.stderr
    assert not (tmp_path / "t.jpg").exists()
    bad = cli(ws, "trends", "trump", "--by", "colour")
    assert bad.exit_code == 2 and "colour" in bad.stderr


def test_check_query(ws):
    assert ok(ws, "check-query", "lang:en (trump OR clinton) -kind:repost").stdout.strip() == "ok"
    assert orjson.loads(ok(ws, "check-query", "hashtag:maga*", "--json").stdout) == {"ok": True, "problems": []}
    r = cli(ws, "check-query", "likes:>many")
    assert r.exit_code == 2
    assert_caret(r.stderr, "likes:>many", 8, "expected a whole number, got 'many'")
    r = cli(ws, "check-query", "trump AND", "--json")
    assert r.exit_code == 2
    with api(ws) as hb:
        want = hb.validate_query("trump AND")
    assert orjson.loads(r.stdout) == {"ok": False, "problems": [
        {"message": p["message"], "position": p["position"]} for p in want]}
    assert want and want[0]["position"] == 10


# -- spikes ---------------------------------------------------------------------------------------
def test_spikes_json_csv_table_and_charts(ws, tmp_path):
    r = ok(ws, "spikes", "-d", "wk2", "--json", "--chart", str(tmp_path / "s.png"), "--save")
    got = orjson.loads(r.stdout)
    assert orjson.loads(ok(ws, "spikes", "-d", "wk2", "--json").stdout)["run_id"] is None  # read only: no run
    with api(ws) as hb:
        res = hb.spikes(None, interval="hour", dataset="wk2")
    assert without_run(got) == without_run(as_json(res.to_dict()))
    assert got["run_id"] and got["run_id"] != res.run_id  # each run is recorded on its own
    assert got["spikes"] and any(s["start"].startswith("2016-10-06") for s in got["spikes"])
    assert all(s["drivers"] and s["representative_posts"] for s in got["spikes"])
    assert_chart(tmp_path / "s.png")

    r = ok(ws, "spikes", "-d", "wk2", "--csv", "--chart", str(tmp_path / "s.svg"))
    header, rows = csv_rows(r.stdout)
    assert header == res.spikes.column_names and len(rows) == res.spikes.num_rows
    assert [int(x["posts"]) for x in rows] == res.spikes["posts"].to_pylist()
    assert_chart(tmp_path / "s.svg")

    table = ok(ws, "spikes", "-d", "wk2").stdout
    assert "drivers" in table and "representative posts" in table and "2016-10-06" in table

    bad = cli(ws, "spikes", "-d", "wk2", "--chart", str(tmp_path / "s.pdf"))
    assert bad.exit_code == 2 and ".png or .svg" in bad.stderr and not (tmp_path / "s.pdf").exists()
    bad = cli(ws, "spikes", "--interval", "fortnight")
    assert bad.exit_code == 2 and "fortnight" in bad.stderr


# -- topics, topic, narratives --------------------------------------------------------------------
def test_topics_json_csv_and_charts(ws, tmp_path):
    r = ok(ws, "topics", "-d", "emb", "--interval", "day", "--top", "0", "--json", "--chart", str(tmp_path / "p.png"))
    got = orjson.loads(r.stdout)
    with api(ws) as hb:
        res = hb.topic_evolution(None, interval="day", dataset="emb")
    want = {"params": res.params, "topics_found": res.topics.num_rows, "topics": res.topics.to_pylist(),
            "series": res.series.to_pylist()}
    assert without_run(got) == as_json(want)
    assert len(got["topics"]) >= 2
    assert sum(t["posts"] for t in got["topics"]) <= 400
    assert_chart(tmp_path / "p.png")

    r = ok(ws, "topics", "-d", "emb", "--interval", "day", "--top", "0", "--csv", "--chart", str(tmp_path / "p.svg"))
    header, rows = csv_rows(r.stdout)
    assert header == res.topics.column_names
    assert [int(x["topic_id"]) for x in rows] == res.topics["topic_id"].to_pylist()
    assert_chart(tmp_path / "p.svg")

    bad = cli(ws, "topics", "--chart", str(tmp_path / "p.gif"))
    assert bad.exit_code == 2 and ".png or .svg" in bad.stderr


def test_topic_json_and_table(ws):
    with api(ws) as hb:
        first = hb.topics()["topic_id"][0].as_py()
        want = {k: v.to_pylist() for k, v in hb.topic(first, 5).items()}
    r = ok(ws, "topic", str(first), "--limit", "5", "--json")
    got = orjson.loads(r.stdout)
    assert got == as_json(want)
    assert got["posts"] and len(got["posts"]) <= 5 and got["representatives"]
    table = ok(ws, "topic", str(first), "--limit", "5").stdout
    assert f"topic {first}: representatives" in table and f"topic {first}: posts" in table
    bad = cli(ws, "topic", "9999")
    assert bad.exit_code == 2 and "no topic 9999" in bad.stderr
    neg = cli(ws, "topic", "-5")  # a negative id is read as the id, not as an option
    assert neg.exit_code == 2 and "no topic -5" in neg.stderr


def test_narratives_json_and_csv(ws):
    r = ok(ws, "narratives", "-d", "emb", "--all", "--json")
    got = orjson.loads(r.stdout)
    with api(ws) as hb:
        res = hb.narratives(None, dataset="emb", cross_only=False)
    assert without_run(got) == without_run(as_json(res.to_dict()))
    assert got["narratives"] and got["params"]["cross_only"] is False
    r = ok(ws, "narratives", "-d", "emb", "--all", "--csv")
    header, rows = csv_rows(r.stdout)
    assert header == res.spread.column_names and len(rows) == res.spread.num_rows
    assert ok(ws, "narratives", "-d", "emb").exit_code == 0  # cross-language only (may be empty)


# -- coordination ---------------------------------------------------------------------------------
def test_coordination_json_and_network_files(ws, tmp_path):
    gexf, graphml = tmp_path / "net.gexf", tmp_path / "net.graphml"
    r = ok(ws, "coordination", "-d", "ira", "--json", "--gexf", str(gexf), "--graphml", str(graphml))
    got = orjson.loads(r.stdout)
    with api(ws) as hb:
        res = hb.coordination(None, dataset="ira")
    assert without_run(got) == as_json({"params": res.params, "counts": res.counts(),
                                        "clusters": res.clusters.to_pylist()})
    assert got["counts"]["kept_edges"] > 0
    keys = {k["author_key"] for k in sql(ws, "SELECT DISTINCT author_key FROM posts WHERE dataset = 'ira'")}
    with open(shared(TWEETS + "tweets_week_2016-10-01.csv"), encoding="utf-8") as fh:
        handles = {row["author_id"] for row in csv.DictReader(fh)}
    for path, read in ((gexf, nx.read_gexf), (graphml, nx.read_graphml)):
        g = read(path)
        assert g.number_of_nodes() > 0 and g.number_of_edges() > 0
        assert all(str(n).startswith("acct_") for n in g.nodes) and set(g.nodes) <= keys
        text = path.read_text(encoding="utf-8")
        assert not any(f">{h}<" in text or f'"{h}"' in text for h in handles)

    table = ok(ws, "coordination", "-d", "ira").stdout
    assert f"{got['counts']['clusters']} clusters" in table
    bad = cli(ws, "coordination", "--layers", "link,nope")
    assert bad.exit_code == 2 and "nope" in bad.stderr
