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
    """The IRA 2016-10-01 week (2,461 tweets), not yet enriched."""
    ws = tmp_path_factory.mktemp("study") / "ws"
    r = hubbub(ws, "import", str(shared(WEEK)), "--dataset", "ira", "--json")
    assert r.returncode == 0, r.stderr
    return ws


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

    import hubbub.serve.cli as cli

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
