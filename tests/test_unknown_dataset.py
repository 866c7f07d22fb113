"""A wrong dataset name is an error everywhere (exit 2, one sentence naming the datasets that exist),
never an empty result, and it records no run: the check is ``Store.check_dataset``, applied by the
API to every verb that takes a dataset. Real data: the IRA 2016-10-01 week and a Mastodon sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared
from test_cli import hubbub
from typer.testing import CliRunner

from hubbub.api import Hubbub
from hubbub.serve.cli import app
from hubbub.store.store import UnknownDataset

IRA = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-01.csv"

VERBS = [("search", "trump"), ("search", "trump", "--count"), ("stats",), ("enrich",), ("trends", "trump"),
         ("spikes", ""), ("topics", ""), ("narratives", ""), ("coordination",), ("quarantine",),
         ("quarantine", "retry")]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("unknown_dataset") / "ws"
    for path, name in ((shared(IRA), "ira"), (shared("platform-formats/mastodon-api"), "masto")):
        r = hubbub(ws, "import", str(path), "--dataset", name, "--json")
        assert r.returncode in (0, 3), r.stderr
    return ws


def runs(ws: Path) -> int:
    with Hubbub(ws, read_only=True) as hb:
        return hb.store.query("SELECT count(*) AS n FROM runs").to_pylist()[0]["n"]


@pytest.mark.parametrize("name", ["iraa", "Ira"])
@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_wrong_dataset_is_an_error_naming_those_that_exist(ws, verb, name, tmp_path):
    before = runs(ws)
    r = CliRunner().invoke(app, ["--workspace", str(ws), *verb, "--dataset", name])
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    msg = " ".join(r.stderr.split())
    assert f"no dataset '{name}' in this workspace (did you mean 'ira'?); its datasets are 'ira', 'masto'" in msg
    assert len(r.stderr.strip().splitlines()) <= 2 and r.stdout == ""
    assert runs(ws) == before


@pytest.mark.parametrize("verb", [("export", "x.parquet"), ("search", "trump", "--export", "x.csv")], ids=" ".join)
def test_export_to_a_wrong_dataset_writes_nothing(ws, verb, tmp_path):
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in verb]
    r = hubbub(ws, *args, "-d", "iraa")
    assert r.returncode == 2 and "its datasets are 'ira', 'masto'" in r.stderr
    assert not list(tmp_path.iterdir())


def test_right_names_and_the_api(ws):
    assert hubbub(ws, "search", "trump", "-d", "ira", "--count").stdout.strip() != "0"
    with Hubbub(ws) as hb:
        with pytest.raises(UnknownDataset, match="no dataset 'nope' in this workspace; its datasets are"):
            hb.stats("nope")
        with pytest.raises(ValueError, match="did you mean 'masto'"):
            hb.posts("mastodon")
        assert hb.count(None, "masto") > 0
    # importing creates the dataset: never checked
    r = hubbub(ws, "import", str(shared(IRA)), "--dataset", "ira2", "--json")
    assert r.returncode == 0, r.stderr
