"""Coordination networks: Hubbub against coordination-network-toolkit 1.5.2, side by side in one run, from
the same CSV in the toolkit's 8-column format to the co-repost, exact co-text and co-link networks.

    python benchmarks/coordination.py --replicas 6 --window 60

Input: the IRA 2016 set (184k tweets) replicated ``--replicas`` times with shifted accounts (``r<k>_``
prefix) and times (+50 days per copy, so copies never meet), about 1.1M messages with 6 copies.
Retweets get a ``repost_id`` (the hash of their text, per copy: the IRA CSVs have no tweet ids), links
are the ``http(s)://`` tokens of the text. Hubbub reads the CSV with DuckDB (``load_qut_csv``,
pseudonymous keys made on the way in) and computes the layers without the null model (the toolkit
has none); the toolkit preprocesses into SQLite and computes each network with ``--threads`` processes.

Compared: undirected pairs and weights (max of the toolkit's two directions, self-loops dropped) for
co-repost and exact co-text; for co-link the toolkit counts an empty URL field as the link '' (a quirk,
not reproduced), so only the pairs Hubbub finds are checked to be among the toolkit's.
Writes JSON (``--out``, default benchmarks/results/coordination.json). Goal: >= 5x faster end to end.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import platform
import re
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_DATA = REPO.parent / "shared" / "data"
IRA = "ira-troll-tweets-2016-election-window/tweets"
LINK = re.compile(r"https?://\S+")
LAYERS = {"repost": ("compute_co_retweet_parallel", "co_retweet_network"),
          "text": ("compute_co_tweet_network", "co_tweet_network"),
          "link": ("compute_co_link_network", "co_link_network")}


def write_csv(data: Path, out: Path, replicas: int) -> int:
    rows = []
    for f in sorted((data / IRA).glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                ts = int(datetime.fromisoformat(r["publish_date"]).timestamp())
                rt = r["post_type"] == "R" or r["retweet"] == "1"
                rows.append((r["author_id"], r["content"], ts, rt))
    n = 0
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"])
        for k in range(replicas):
            shift = k * 50 * 86400
            for author, text, ts, rt in rows:
                n += 1
                rep = hashlib.md5(f"{k}\x1f{text}".encode()).hexdigest()[:16] if rt else ""
                w.writerow([f"m{n}", f"r{k}_{author}", f"r{k}_{author}", rep, "", text, ts + shift,
                            " ".join(LINK.findall(text))])
    return n


def run_toolkit(csv_path: Path, db: Path, window: float, threads: int) -> dict:
    from coordination_network_toolkit import compute_networks as cn
    from coordination_network_toolkit import preprocess as pp

    res: dict = {}
    t0 = time.perf_counter()
    pp.preprocess_csv_files(str(db), [str(csv_path)])
    res["preprocess_s"] = time.perf_counter() - t0
    edges = {}
    for layer, (fn, table) in LAYERS.items():
        t = time.perf_counter()
        if layer == "text":
            getattr(cn, fn)(str(db), window, min_edge_weight=1, n_threads=threads)
        else:
            getattr(cn, fn)(str(db), window, n_threads=threads, min_edge_weight=1)
        res[f"{layer}_s"] = time.perf_counter() - t
        e: dict = {}
        with sqlite3.connect(db) as con:
            for a, b, w in con.execute(f"SELECT user_1, user_2, weight FROM {table} WHERE user_1 <> user_2"):
                k = (min(a, b), max(a, b))
                e[k] = max(e.get(k, 0), int(w))
        edges[layer] = e
    res["total_s"] = time.perf_counter() - t0
    return res | {"edges": edges}


def run_hubbub(csv_path: Path, window: float) -> dict:
    import duckdb

    from hubbub.analyze.coordination.layers import Layer, layer_pairs, load_qut_csv

    res: dict = {}
    t0 = time.perf_counter()
    con = duckdb.connect()
    # raw ids kept here only so that the pairs can be compared with the toolkit's; analyses use keys
    res["posts"] = load_qut_csv(con, [str(csv_path)], lambda uid: uid)
    res["read_s"] = time.perf_counter() - t0
    edges = {}
    for layer in LAYERS:
        t = time.perf_counter()
        p = layer_pairs(con, Layer(layer, window, 1))
        res[f"{layer}_s"] = time.perf_counter() - t
        edges[layer] = dict(zip(zip(p["a"].to_pylist(), p["b"].to_pylist(), strict=True), p["weight"].to_pylist(),
                                strict=True))
    res["total_s"] = time.perf_counter() - t0
    return res | {"edges": edges}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=6)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2, help="toolkit worker processes")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "coordination.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "messages.csv"
        n = write_csv(args.data, path, args.replicas)
        print(f"{n:,} messages", file=sys.stderr)
        hub = run_hubbub(path, args.window)
        tk = run_toolkit(path, Path(tmp) / "toolkit.db", args.window, args.threads)
    same = {}
    for layer in LAYERS:
        h, t = hub["edges"].pop(layer), tk["edges"].pop(layer)
        same[layer] = {"hubbub_pairs": len(h), "toolkit_pairs": len(t),
                       "identical": h == t if layer != "link" else None,
                       "hubbub_pairs_among_toolkit": set(h) <= set(t)}
    result = {"benchmark": "coordination", "messages": n, "window_s": args.window, "replicas": args.replicas,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "hubbub": {k: v for k, v in hub.items() if k != "edges"},
              "toolkit": {k: v for k, v in tk.items() if k != "edges"}, "networks": same,
              "speedup_end_to_end": tk["total_s"] / hub["total_s"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
