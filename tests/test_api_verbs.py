"""Every CLI verb has its ``Hubbub`` method: formats, column mappings, evaluation and network export go
through the API (the CLI only prints), so a REST layer or a notebook gets the same."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from conftest import shared
from typer.testing import CliRunner

from hubbub.api import Hubbub
from hubbub.serve.cli import app

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_formats_match_the_cli() -> None:
    t = Hubbub.formats()
    assert {"twitter-v2", "mastodon-api", "bluesky", "telegram-telethon"} <= set(t["format"].to_pylist())
    res = CliRunner().invoke(app, ["formats", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == t.to_pylist()


def test_load_mapping_names_the_file_and_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('format = "csv"\ntext = "body"\n')  # no created_at column named
    with pytest.raises(ValueError, match="bad.toml"):
        Hubbub.load_mapping(bad)
    good = tmp_path / "m.json"
    good.write_text(json.dumps({"format": "jsonl", "platform": "twitter", "post_id": "id", "created_at": "t",
                                "text": "x"}))
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "1", "t": "2016-10-01T00:00:00Z", "x": "hello"}\n')
    with Hubbub(tmp_path / "ws", create=True) as hb:
        summary = hb.import_files([data], dataset="d", source=Hubbub.load_mapping(good))
        assert summary.total("imported") == 1


def test_network_export_through_the_api(tmp_path: Path) -> None:
    week = shared("ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-03.csv")
    with Hubbub(tmp_path / "ws", create=True) as hb:
        hb.import_files([week], dataset="ira")
        res = hb.coordination(layers=["repost"])
        out = Hubbub.write_network(res, tmp_path / "net.gexf")
    g = nx.read_gexf(out)
    assert g.number_of_nodes() == len(set(res.members["author_key"].to_pylist()) | {
        k for e in res.edges.filter(res.edges["kept"]).to_pylist() for k in (e["a"], e["b"])})
    assert all("cluster" in d and "posts" in d for _, d in g.nodes(data=True))


def test_evaluate_through_the_api(tmp_path: Path) -> None:
    data = shared("xlm-t-sentiment").parent
    report = Hubbub.evaluate(data, tasks=["lang"], limit=30, out=tmp_path / "rep")
    assert report["results"] and report["results"][0]["task"] == "langid"
    assert (tmp_path / "rep" / "eval.json").exists() and (tmp_path / "rep" / "eval.md").exists()


def test_query_warnings_through_the_api() -> None:
    [w] = Hubbub.query_warnings("trump or clinton")
    assert (w["kind"], w["severity"], w["position"]) == ("lowercase-operator", "warning", 7)
    assert Hubbub.query_warnings("trump OR clinton") == []
