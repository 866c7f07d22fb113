"""The smaller CLI fixes from a real study of the IRA set (issue 9, item 8), on the real data
(../shared/data): non-post files in a folder, the two languages, `enrich --help`, the enrichment
progress bar, `(other)` rows, and `hubbub runs`."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from conftest import shared
from test_cli import hubbub

IRA_DIR = "ira-troll-tweets-2016-election-window"
WEEK = f"{IRA_DIR}/tweets/tweets_week_2016-10-01.csv"
AUTHORS = ("authors.csv", "authors_tweet_general_statistics.csv", "authors_tweet_language_counts.csv",
           "authors_tweet_region_counts.csv")


@pytest.fixture(scope="module")
def ira_folder(tmp_path_factory) -> Path:
    """The IRA set's layout (its four authors*.csv beside tweets/) with one week of tweets."""
    top = tmp_path_factory.mktemp("ira") / IRA_DIR
    (top / "tweets").mkdir(parents=True)
    for name in AUTHORS:
        shutil.copy(shared(f"{IRA_DIR}/{name}"), top / name)
    shutil.copy(shared(WEEK), top / "tweets" / Path(WEEK).name)
    return top


def test_non_post_files_in_a_folder_are_skipped_not_failed(ira_folder, tmp_path):
    ws = tmp_path / "ws"
    r = hubbub(ws, "import", str(ira_folder), "--dataset", "ira", "--json")
    assert r.returncode == 0, r.stderr  # the exit status tells a real failure only
    s = orjson.loads(r.stdout)
    by_name = {Path(f["path"]).name: f for f in s["files"]}
    for name in AUTHORS:
        assert by_name[name]["status"] == "not-posts"
        assert by_name[name]["error"].startswith("not posts, skipped")
    assert by_name["tweets_week_2016-10-01.csv"]["status"] == "ok"
    assert s["totals"]["failed_files"] == 0 and s["totals"]["not_posts_files"] == 4
    assert s["totals"]["imported"] == 2461

    table = hubbub(tmp_path / "ws2", "import", str(ira_folder), "--dataset", "ira")
    assert table.returncode == 0 and "not-posts" in table.stdout and "failed" not in table.stdout
    assert "not posts, skipped" in table.stderr

    # named on the command line, a file that is not posts is still an error
    r = hubbub(ws, "import", str(ira_folder / "authors.csv"), "--dataset", "ira", "--json")
    assert r.returncode == 4 and orjson.loads(r.stdout)["files"][0]["status"] == "failed"
    # and a folder's binary file is a failure too (it may be posts that cannot be read)
    (ira_folder / "tweets" / "broken.bin").write_bytes(bytes(range(256)) * 64)
    try:
        r = hubbub(tmp_path / "ws3", "import", str(ira_folder), "--dataset", "ira", "--json")
        assert r.returncode == 4
    finally:
        (ira_folder / "tweets" / "broken.bin").unlink()


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """The IRA 2016-10-01 week (2,461 tweets) with the default enrichment."""
    ws = tmp_path_factory.mktemp("study") / "ws"
    r = hubbub(ws, "import", str(shared(WEEK)), "--dataset", "ira", "--json")
    assert r.returncode == 0, r.stderr
    r = hubbub(ws, "enrich", "--json")
    assert r.returncode == 0, r.stderr
    return ws


def sql(ws: Path, query: str) -> list[dict]:
    """An independent answer in test-authored SQL."""
    from hubbub.api import Hubbub

    with Hubbub(ws, read_only=True) as hb:
        return hb.store.query(query).to_pylist()


def test_enrich_help_names_the_default_steps_it_runs(ws):
    from hubbub.enrich.registry import all_steps, default_steps

    help_text = " ".join(hubbub(ws, "enrich", "--help").stdout.replace("│", " ").split())
    assert "default: all" not in help_text
    defaults = [s.name for s in default_steps()]
    assert f"default: {', '.join(defaults)};" in help_text
    for name in set(all_steps()) - set(defaults):
        assert name in help_text.split("only when named:")[1]
    r = hubbub(ws, "enrich", "--dataset", "ira", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(x["step"] for x in orjson.loads(r.stdout)) == sorted(defaults)


def test_enrich_progress_shows_total_and_eta(ws, monkeypatch):
    import io
    import re

    from rich.console import Console
    from rich.progress import Progress
    from typer.testing import CliRunner

    import hubbub.serve.cli.common as cli

    buf = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=buf, force_terminal=True, width=150, color_system=None))
    r = CliRunner().invoke(cli.app, ["--workspace", str(ws), "enrich", "--dataset", "ira", "--steps", "sentiment_vader",
                                     "--batch-size", "500"])
    assert r.exit_code == 0, (r.stdout, r.exception)
    shown = buf.getvalue()
    assert "2,461/2,461 posts" in shown and re.search(r"done in \d:\d\d:\d\d", shown), shown[-500:]

    with Progress(cli._StepColumn(), console=Console(file=io.StringIO())) as p:  # part way: the time left
        task = p.add_task("lang", total=173_329)
        p.update(task, completed=0)
        p.update(task, completed=20_000)
        text = cli._StepColumn().render(p.tasks[0]).plain
    assert text.startswith("20,000/173,329 posts") and re.search(r"ETA (\d:\d\d:\d\d|-:--:--)", text)


def test_stats_and_trends_name_detected_and_declared_language(ws):
    detected = {r["k"]: r["n"] for r in sql(ws, """SELECT coalesce(l.lang, p.lang_declared, '(none)') AS k,
        count(*) AS n FROM posts p LEFT JOIN enrich_lang l USING (platform, post_id) GROUP BY 1""")}
    declared = {r["k"]: r["n"] for r in sql(ws, "SELECT coalesce(lang_declared, '(none)') AS k, count(*) AS n "
                                                "FROM posts GROUP BY 1")}
    assert detected != declared  # the IRA set: 'uk' declared for Russian text, 'und' detected for link-only posts
    r = hubbub(ws, "stats", "--json")
    assert r.returncode == 0, r.stderr
    st = orjson.loads(r.stdout)
    assert {x["lang"]: x["posts"] for x in st["lang"]} == detected
    assert {x["lang_declared"]: x["posts"] for x in st["lang_declared"]} == declared
    table = hubbub(ws, "stats", "--by", "lang", "--by", "lang_declared").stdout
    assert "lang (detected)" in table and "lang_declared (by the platform)" in table

    # trends --by lang counts the same detected language as stats --by lang and `lang:`
    tr = orjson.loads(hubbub(ws, "trends", "", "--by", "lang", "--top", "50", "--json").stdout)
    by_lang: dict[str, int] = {}
    for x in tr:
        by_lang[x["key"]] = by_lang.get(x["key"], 0) + x["count"]
    assert by_lang == detected
    ru = orjson.loads(hubbub(ws, "search", "lang:ru", "--count", "--json").stdout)["posts"]
    assert ru == detected["ru"]
    tr = orjson.loads(hubbub(ws, "trends", "", "--by", "lang_declared", "--top", "50", "--json").stdout)
    by_decl: dict[str, int] = {}
    for x in tr:
        by_decl[x["key"]] = by_decl.get(x["key"], 0) + x["count"]
    assert by_decl == declared


def test_other_rows_say_what_they_count(ws):
    tr = orjson.loads(hubbub(ws, "trends", "", "--by", "lang", "--top", "2", "--json").stdout)
    keys = {x["key"] for x in tr}
    assert "(other posts)" in keys and "(other)" not in keys
    for bucket in {x["bucket"] for x in tr}:  # posts: the rows of a bucket add up to its posts
        rows = [x for x in tr if x["bucket"] == bucket]
        assert sum(x["count"] for x in rows) == rows[0]["total"]

    tr = orjson.loads(hubbub(ws, "trends", "", "--by", "hashtag", "--top", "3", "--json").stdout)
    keys = {x["key"] for x in tr}
    assert "(other occurrences)" in keys and "(other posts)" not in keys
    top = {k for k in keys if not k.startswith("(")}
    occurrences = sql(ws, """SELECT count(*) AS n FROM (SELECT DISTINCT post_id, lower(h) AS h
        FROM (SELECT post_id, unnest(hashtags) AS h FROM posts))""")[0]["n"]
    other = sum(x["count"] for x in tr if x["key"] == "(other occurrences)")
    assert other == occurrences - sum(x["count"] for x in tr if x["key"] in top)


def test_runs_lists_enrichment_and_analysis_runs(ws):
    assert hubbub(ws, "trends", "trump", "--dataset", "ira", "--json", "--save").returncode == 0
    before = sql(ws, "SELECT count(*) AS n FROM runs")[0]["n"]
    assert hubbub(ws, "trends", "trump", "--dataset", "ira", "--json").returncode == 0  # read only: no run
    assert sql(ws, "SELECT count(*) AS n FROM runs")[0]["n"] == before
    r = hubbub(ws, "runs", "--json")
    assert r.returncode == 0, r.stderr
    runs = orjson.loads(r.stdout)
    stored = sql(ws, "SELECT run_id, kind FROM runs")
    assert {x["run_id"] for x in runs} == {x["run_id"] for x in stored} and len(runs) == len(stored)
    assert [x["started_at"] for x in runs] == sorted((x["started_at"] for x in runs), reverse=True)
    kinds = {x["kind"] for x in runs}
    assert {"enrich:lang", "enrich:sentiment", "enrich:keyphrases", "enrich:neardup", "analysis:trends"} <= kinds
    trends = next(x for x in runs if x["kind"] == "analysis:trends")
    assert (trends["dataset"], trends["query"], trends["params"]["interval"]) == ("ira", "trump", "day")
    assert trends["counts"]["rows"] > 0
    lang = next(x for x in runs if x["kind"] == "enrich:lang" and x["counts"]["done"])
    assert lang["params"]["version"] and lang["counts"]["done"] == 2461 and lang["seconds"] >= 0

    only = orjson.loads(hubbub(ws, "runs", "--kind", "enrich", "--json").stdout)
    assert only and {x["kind"].split(":")[0] for x in only} == {"enrich"}
    assert {x["kind"] for x in orjson.loads(hubbub(ws, "runs", "-k", "trends", "--json").stdout)} == {"analysis:trends"}
    assert {x["dataset"] for x in orjson.loads(hubbub(ws, "runs", "-d", "ira", "--json").stdout)} == {"ira"}
    assert len(orjson.loads(hubbub(ws, "runs", "--limit", "2", "--json").stdout)) == 2
    table = hubbub(ws, "runs")
    assert table.returncode == 0 and "analysis:trends" in table.stdout and "enrich:lang" in table.stdout
    bad = hubbub(ws, "runs", "-d", "iraa")
    assert bad.returncode == 2 and "did you mean 'ira'" in bad.stderr
