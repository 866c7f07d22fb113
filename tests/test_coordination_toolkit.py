"""Side by side with coordination-network-toolkit 1.5.2 (MIT, a dev dependency): for the same window and
minimum weight, Hubbub's co-repost, co-link and exact co-text layers give the same account pairs and
weights (the toolkit's directed weights read as undirected pairs: max of the two directions, self-loops
dropped), on CSVs in the toolkit's 8-column format built from the shared samples and imported through
Hubbub's real import path (qut-csv preset)."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import shared
from coordination_network_toolkit import compute_networks as cn
from coordination_network_toolkit import preprocess as pp

from hubbub.analyze.coordination import build_edges
from hubbub.analyze.coordination.layers import Layer, load_posts, load_qut_csv
from hubbub.analyze.coordination.pairs import layer_pairs
from hubbub.ingest.importer import import_paths
from hubbub.privacy import Pseudonymiser, handles_in_links
from hubbub.query import select
from hubbub.urls import canonical_url

QUT = ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"]
IRA_WEEK = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-03.csv"


def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(QUT)
        w.writerows(rows)
    return path


def repost_rows(limit: int = 15_000) -> list[list[str]]:
    with open(shared("coortweet-coordination-samples/russian_coord_tweets.csv"), encoding="utf-8") as fh:
        return [[r["content_id"], r["account_id"], "", r["object_id"], "", "", r["timestamp_share"], ""]
                for r in csv.DictReader(fh)][:limit]


def link_rows() -> list[list[str]]:
    """CooRnet link shares, one row per post with its links space-separated (the CooRnet file has a row
    per post and link); links written in canonical form (Hubbub canonicalises at import, the toolkit
    compares strings as given)."""
    posts: dict[str, list[str]] = {}
    with open(shared("crowdtangle-link-shares-pycoornet/ct_shares.csv"), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            ts = datetime.strptime(r["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            row = posts.setdefault(r["id"], [r["id"], r["account.id"], "", "", "", "", str(int(ts)), ""])
            url = canonical_url(r["expanded"])[0]
            if handles_in_links(url):  # a page handle in the path is keyed case-insensitively at import
                url = url.lower()
            if url not in row[7].split():
                row[7] = f"{row[7]} {url}".strip()
    return list(posts.values())


def text_rows(limit: int = 20_000) -> list[list[str]]:
    """IRA tweets of one week as plain messages (no repost id, so the toolkit's co-tweet network uses
    them): its retweets' texts ("RT @handle: ...") repeat across accounts, which exercises matching on the
    normalised text (@mentions removed, case and whitespace folded). Every row carries a link, so only
    the co-text network is compared on this file."""
    rows = []
    with open(shared(IRA_WEEK), encoding="utf-8") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if len(rows) == limit:
                break
            if r["content"].strip():
                ts = datetime.fromisoformat(r["publish_date"]).replace(tzinfo=UTC).timestamp()
                rows.append([f"ira{i}", r["author_id"], r["author_id"], "", "", r["content"], str(int(ts)), "x"])
    return rows


def toolkit_edges(csv_path: Path, db: Path, layer: str, window: float, min_weight: int) -> dict[tuple[str, str], int]:
    pp.preprocess_csv_files(str(db), [str(csv_path)])
    fn, table = {"repost": (cn.compute_co_retweet_parallel, "co_retweet_network"),
                 "link": (cn.compute_co_link_network, "co_link_network"),
                 "text": (cn.compute_co_tweet_network, "co_tweet_network")}[layer]
    if layer == "text":
        fn(str(db), window, min_edge_weight=min_weight, n_threads=1)
    else:
        fn(str(db), window, n_threads=1, min_edge_weight=min_weight)
    out: dict[tuple[str, str], int] = {}
    with sqlite3.connect(db) as con:
        for a, b, w in con.execute(f"SELECT user_1, user_2, weight FROM {table} WHERE user_1 <> user_2"):
            k = (min(a, b), max(a, b))
            out[k] = max(out.get(k, 0), int(w))
    return out


CASES = [("repost", repost_rows, 60, 2), ("repost", repost_rows, 600, 1), ("link", link_rows, 3600, 1),
         ("link", link_rows, 86400, 2), ("text", text_rows, 60, 1), ("text", text_rows, 3600, 2)]


@pytest.mark.parametrize(("layer", "rows", "window", "min_weight"), CASES)
def test_same_pairs_and_weights_as_toolkit(tmp_path, store, layer, rows, window, min_weight):
    path = _write(tmp_path / f"{layer}.csv", rows())
    expected = toolkit_edges(path, tmp_path / "toolkit.db", layer, window, min_weight)
    assert expected, "the case must have edges to compare"
    summary = import_paths(store, [path], "qut")
    assert summary.files[0].format == "qut-csv" and summary.files[0].quarantined == 0
    pseudo = Pseudonymiser(store.ws.secret())
    key = {}
    for r in rows():
        key.setdefault(r[1], pseudo.key("other", r[1], r[2] or None))
    want = {tuple(sorted((key[a], key[b]))): w for (a, b), w in expected.items()}
    load_posts(store, select(store, None, "qut"))
    edges = build_edges(store.con, [Layer(layer, window, min_weight)], null=False)
    # a pair is written with the account first in content order (hubbub.canonical), not in key order
    got = {tuple(sorted((a, b))): w for a, b, w in zip(edges["a"].to_pylist(), edges["b"].to_pylist(),
                                                       edges["weight"].to_pylist(), strict=True)}
    assert got == want


@pytest.mark.parametrize(("layer", "rows", "window", "min_weight"), [CASES[0], CASES[4]])
def test_csv_fast_path_matches_toolkit(tmp_path, layer, rows, window, min_weight):
    """``load_qut_csv`` reads the toolkit's CSV with DuckDB, without a store (the benchmark's path)."""
    path = _write(tmp_path / f"{layer}.csv", rows())
    expected = toolkit_edges(path, tmp_path / "toolkit.db", layer, window, min_weight)
    con = duckdb.connect()
    load_qut_csv(con, [str(path)], lambda uid: uid)
    t = layer_pairs(con, Layer(layer, window, min_weight))
    got = {tuple(sorted((a, b))): w for a, b, w in zip(t["a"].to_pylist(), t["b"].to_pylist(), t["weight"].to_pylist(),
                                                       strict=True)}
    assert got == expected
