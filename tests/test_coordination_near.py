"""The near-duplicate co-text layer (``near``): real IRA texts posted again with small edits by injected
accounts, found within the window and not outside it; and side by side with coordination-network-toolkit's
``co_similar_tweet`` on a real sample squeezed into two hours: the same account pairs and weights."""

from __future__ import annotations

import csv
import sqlite3
from datetime import datetime

import duckdb
import pytest
from conftest import shared
from coordination_network_toolkit import compute_networks as cn
from coordination_network_toolkit import preprocess as pp
from coordination_network_toolkit.similarity import get_similarity_fn_from_min_size, tokenize
from test_coordination_toolkit import _write

from hubbub.analyze.coordination.layers import Layer, load_qut_csv
from hubbub.analyze.coordination.near import TOKENS
from hubbub.analyze.coordination.pairs import layer_pairs

IRA_WEEK = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-03.csv"


def ira_rows(limit: int, span: int) -> list[list[str]]:
    """The week's first ``limit`` tweets as 8-column rows, times squeezed into ``span`` seconds."""
    rows = []
    with open(shared(IRA_WEEK), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rt = r["post_type"] == "R" or r["retweet"] == "1"
            ts = int(datetime.fromisoformat(r["publish_date"]).timestamp())
            rows.append([r["author_id"], r["content"], ts, rt])
            if len(rows) == limit:
                break
    lo, hi = min(r[2] for r in rows), max(r[2] for r in rows)
    return [[f"m{i}", a, a, f"rt{i}" if rt else "", "", text, str(1_478_000_000 + (ts - lo) * span // (hi - lo)), ""]
            for i, (a, text, ts, rt) in enumerate(rows)]


def _originals(n: int) -> list[str]:
    """Real original (not retweeted) IRA texts of at least 12 words."""
    out = []
    with open(shared(IRA_WEEK), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["post_type"] != "R" and r["retweet"] != "1" and len(r["content"].split()) >= 12:
                out.append(r["content"])
                if len(out) == n:
                    return out
    raise AssertionError("not enough texts")


def test_tokens_match_the_toolkit():
    texts = [r[5] for r in ira_rows(3000, 3600)] + ["Ça coûte 1,234.5 €! l'été… 東京タワー #Tag @user x", ""]
    con = duckdb.connect()
    got = [set(x[0]) for x in con.execute(f"SELECT {TOKENS} FROM (SELECT unnest($t) AS text)", {"t": texts})
           .fetchall()]
    want = [set(tokenize(t).split()) for t in texts]
    assert sum(g == w for g, w in zip(got, want, strict=True)) >= 0.995 * len(texts)
    assert got[-2] == want[-2]


def test_near_duplicates_within_the_window_only(tmp_path):
    base = ira_rows(2000, 6 * 3600)
    texts = _originals(4)
    t0 = int(base[0][6]) + 3600
    rows = list(base)
    for k, text in enumerate(texts):
        words = text.split()
        for j, acct in enumerate(["inj_a", "inj_b", "inj_c"]):  # each drops a different word: Jaccard >= 0.8
            edited = " ".join(words[:j + 1] + words[j + 2:])
            rows.append([f"x{k}{acct}", acct, acct, "", "", edited, str(t0 + 600 * k + 15 * j), ""])
        rows.append([f"y{k}", "late_d", "late_d", "", "", words[0] + " " + " ".join(words[2:]), str(t0 + 600 * k + 200),
                     ""])
    con = duckdb.connect()
    load_qut_csv(con, [str(_write(tmp_path / "m.csv", rows))], lambda u: u)
    p = layer_pairs(con, Layer("near", 60, 2, 0.8))
    # pairs come with the account first in content order (hubbub.canonical): compared as unordered pairs
    got = {tuple(sorted((a, b))): w for a, b, w in zip(p["a"].to_pylist(), p["b"].to_pylist(), p["weight"].to_pylist(),
                                                       strict=True)}
    assert got[("inj_a", "inj_b")] == 4 and got[("inj_a", "inj_c")] == 4 and got[("inj_b", "inj_c")] == 4
    assert not [k for k in got if "late_d" in k]  # 200 s later: outside the window
    a, b = set(tokenize(rows[-4][5]).split()), set(tokenize(rows[-2][5]).split())
    assert len(a & b) / len(a | b) < 1  # the edits are real: not exact duplicates
    wide = layer_pairs(con, Layer("near", 300, 2, 0.8))
    assert ("inj_a", "late_d") in {tuple(sorted(x)) for x in zip(wide["a"].to_pylist(), wide["b"].to_pylist(),
                                                                  strict=True)}


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_same_pairs_as_toolkit_co_similar_tweet(tmp_path, threshold):
    rows = ira_rows(6000, 2 * 3600)
    path = _write(tmp_path / "m.csv", rows)
    db = str(tmp_path / "tk.db")
    pp.preprocess_csv_files(db, [str(path)])
    cn.compute_co_similar_tweet(db, 60, n_threads=1, similarity_threshold=threshold, min_edge_weight=1,
                                similarity_function=get_similarity_fn_from_min_size(1))
    want: dict = {}
    with sqlite3.connect(db) as c:
        for a, b, w in c.execute("SELECT user_1, user_2, weight FROM co_similar_tweet_network WHERE user_1 <> user_2"):
            k = (min(a, b), max(a, b))
            want[k] = max(want.get(k, 0), w)
    con = duckdb.connect()
    load_qut_csv(con, [str(path)], lambda u: u)
    p = layer_pairs(con, Layer("near", 60, 1, threshold))
    got = dict(zip((tuple(sorted(x)) for x in zip(p["a"].to_pylist(), p["b"].to_pylist(), strict=True)),
                   p["weight"].to_pylist(), strict=True))
    assert len(want) >= (20 if threshold == 0.5 else 4)
    assert got == want
