"""Coordination: clusters on the real IRA set, determinism, exports that carry only account keys, the
CLI, and the evaluation's injected campaigns recovered with the null model cutting viral decoys."""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx
import pytest
from conftest import shared
from typer.testing import CliRunner

from hubbub.analyze.coordination import coordination
from hubbub.analyze.coordination.export import write_network
from hubbub.api import Hubbub
from hubbub.eval.coordination import evaluate_coordination

IRA = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-11-14.csv"  # 2016-11-14..15


@pytest.fixture(scope="module")
def ira(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ira") / "ws"
    hb = Hubbub(ws, create=True, save_runs=True)
    hb.import_files([shared(IRA)], dataset="ira")
    yield hb
    hb.close()


def test_ira_clusters_found_and_deterministic(ira):
    a = coordination(ira.store, dataset="ira", layers=("repost", "hashtag", "text"), context=False)
    b = coordination(ira.store, dataset="ira", layers=("repost", "hashtag", "text"), context=False)
    assert a.clusters.num_rows >= 2
    assert a.clusters["accounts"][0].as_py() >= 5
    assert a.members.equals(b.members) and a.edges.equals(b.edges)
    kept = a.edges.filter(a.edges["kept"])
    assert 0 < kept.num_rows < a.edges.num_rows  # the null model drops some candidate edges, keeps others
    assert all(k.startswith("acct_") for k in a.members["author_key"].to_pylist())
    first = a.clusters.to_pylist()[0]
    assert first["layers"] and first["posts"] > 0 and first["first_post"] <= first["last_post"]
    runs = ira.store.query("SELECT count(*) AS n FROM runs WHERE kind = 'analysis:coordination'")["n"][0].as_py()
    assert runs >= 2


def test_null_model_off_keeps_every_candidate(ira):
    r = coordination(ira.store, dataset="ira", layers=("repost",), null=False, context=False)
    assert r.edges["kept"].to_pylist() == [True] * r.edges.num_rows
    assert (r.edges["weight"].to_numpy() >= 2).all()


def test_exports_hold_only_account_keys(ira, tmp_path):
    r = coordination(ira.store, dataset="ira", layers=("repost", "hashtag"), context=False)
    with open(shared(IRA), encoding="utf-8") as fh:
        handles = {row["author_id"] for row in csv.DictReader(fh)}
    for name in ("net.gexf", "net.graphml"):
        p = write_network(tmp_path / name, r.edges, r.members, r.params["layers"])
        g = nx.read_gexf(p) if name.endswith("gexf") else nx.read_graphml(p)
        assert g.number_of_nodes() > 0
        assert all(str(n).startswith("acct_") for n in g.nodes)
        text = p.read_text(encoding="utf-8")
        assert not [h for h in handles if len(h) > 4 and f">{h}<" in text or f'"{h}"' in text]
        e = next(iter(g.edges(data=True)))[2]
        assert {"weight", "weight_repost", "weight_hashtag"} <= set(e)
        assert e["weight"] == e["weight_repost"] + e["weight_hashtag"]


def test_gexf_and_graphml_nodes_carry_gephi_attributes(ira, tmp_path):
    """Nodes carry posts, degree, first and last seen and cluster (checked against SQL over the same
    IRA posts); no handle, since the dataset did not opt in."""
    r = coordination(ira.store, dataset="ira", layers=("repost", "hashtag"), context=False)
    cluster = dict(zip(r.members["author_key"].to_pylist(), r.members["cluster"].to_pylist(), strict=True))
    truth = {x["author_key"]: x for x in ira.store.query(
        "SELECT author_key, count(*) AS n, min(created_at) AS a, max(created_at) AS b FROM posts "
        "WHERE dataset = 'ira' GROUP BY author_key").to_pylist()}
    for name in ("net.gexf", "net.graphml"):
        p = write_network(tmp_path / name, r.edges, r.members, r.params["layers"], accounts=r.accounts)
        g = nx.read_gexf(p) if name.endswith("gexf") else nx.read_graphml(p)
        assert g.number_of_nodes() > 10
        for node, d in g.nodes(data=True):
            t = truth[node]
            assert int(d["posts"]) == t["n"] and int(d["degree"]) == g.degree(node) >= 1
            assert d["first_seen"] == t["a"].isoformat().replace("+00:00", "Z")
            assert d["last_seen"] == t["b"].isoformat().replace("+00:00", "Z")
            assert int(d["cluster"]) == cluster.get(node, 0)
            assert "handle" not in d
        assert any(int(d["cluster"]) > 0 for _, d in g.nodes(data=True))


def test_handles_in_the_network_only_where_the_dataset_opted_in(tmp_path):
    import csv as _csv

    src = shared(IRA)
    with open(src, encoding="utf-8", newline="") as fh:
        handles = {row["author_id"] for row in _csv.DictReader(fh)}
    with Hubbub(tmp_path / "ws", create=True) as hb:
        hb.import_files([src], dataset="open", keep_handles=True)
        r = coordination(hb.store, dataset="open", layers=("repost", "hashtag"), context=False)
        g = nx.read_gexf(write_network(tmp_path / "n.gexf", r.edges, r.members, r.params["layers"],
                                       accounts=r.accounts))
    got = [d.get("handle") for _, d in g.nodes(data=True)]
    assert got and all(h in handles for h in got)  # the handles the dataset kept, as Gephi attributes


def test_cli_json_and_gexf(ira, tmp_path):
    from hubbub.serve.cli import app

    out = tmp_path / "n.gexf"
    res = CliRunner().invoke(app, ["-w", str(ira.ws.path), "coordination", "--dataset", "ira", "--layers",
                                   "repost,hashtag", "--json", "--gexf", str(out)])
    assert res.exit_code == 0, res.output
    assert '"clusters"' in res.stdout and out.exists()
    bad = CliRunner().invoke(app, ["-w", str(ira.ws.path), "coordination", "--layers", "nope"])
    assert bad.exit_code == 2 and "unknown layer" in bad.output


def test_eval_recovers_campaigns_and_null_cuts_viral_decoys(tmp_path):
    r = evaluate_coordination(Path(shared("")))
    rows = {row["setting"]: row for row in r["rows"]}
    with_null, without = rows["null model"], rows["no null model"]
    assert with_null["precision"] >= 0.9 and with_null["recall"] >= 0.8
    assert with_null["decoy_false_positives"] * 10 < without["decoy_false_positives"]
    assert without["precision"] < 0.5
    near = rows["null model + near-duplicate co-text"]  # members that changed the text are matched too
    assert near["precision"] >= 0.9 and near["recall"] > with_null["recall"]
