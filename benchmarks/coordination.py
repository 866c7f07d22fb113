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
Near-duplicate co-text (``near`` vs the toolkit's ``co_similar_tweet``, its CLI's defaults: window 1 s,
Jaccard 0.8): the same copies with all times squeezed into ONE day (copy k in the k-th sixth of it);
the toolkit runs in a child process killed after ``--toolkit-timeout`` (then a lower bound is reported);
pairs compared as above (precision / recall and weights). ``--only exact|near`` runs one part.
Writes JSON (``--out``, default benchmarks/results/coordination.json). Goals: >= 5x faster end to end
for the exact networks, >= 10x for near-duplicate co-text with the same pairs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import platform
import re
import signal
import sqlite3
import subprocess
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


def read_ira(data: Path) -> list[tuple[str, str, int, bool]]:
    rows = []
    for f in sorted((data / IRA).glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                ts = int(datetime.fromisoformat(r["publish_date"]).timestamp())
                rt = r["post_type"] == "R" or r["retweet"] == "1"
                rows.append((r["author_id"], r["content"], ts, rt))
    return rows


def write_csv(data: Path, out: Path, replicas: int, one_day: bool = False, limit: int | None = None) -> int:
    """The IRA set ``replicas`` times; copy k shifted by 50 days, or with ``one_day`` all copies in one
    day: copy k's times squeezed linearly into the k-th of ``replicas`` equal parts of 2016-11-01 UTC."""
    rows = read_ira(data)[:limit]
    lo, hi = min(r[2] for r in rows), max(r[2] for r in rows)
    seg = 86400 // replicas
    day0 = int(datetime.fromisoformat("2016-11-01T00:00:00+00:00").timestamp())
    n = 0
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"])
        for k in range(replicas):
            shift = k * 50 * 86400
            for author, text, ts, rt in rows:
                if one_day:
                    ts, shift = day0 + (ts - lo) * (seg - 1) // max(hi - lo, 1), k * seg
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


_TOOLKIT_NEAR = """
import json, sqlite3, sys, time
from coordination_network_toolkit import compute_networks as cn, preprocess as pp
from coordination_network_toolkit.similarity import get_similarity_fn_from_min_size
csv_path, db, window, threshold, out = sys.argv[1:6]
t0 = time.perf_counter()
pp.preprocess_csv_files(db, [csv_path])
t1 = time.perf_counter()
cn.compute_co_similar_tweet(db, float(window), similarity_threshold=float(threshold), min_edge_weight=1,
                            similarity_function=get_similarity_fn_from_min_size(1))
t2 = time.perf_counter()
with sqlite3.connect(db) as con:
    rows = con.execute("SELECT user_1, user_2, weight FROM co_similar_tweet_network WHERE user_1 <> user_2").fetchall()
json.dump({"preprocess_s": t1 - t0, "near_s": t2 - t1, "edges": rows}, open(out, "w"))
"""


def run_toolkit_near(csv_path: Path, tmp: Path, window: float, threshold: float, timeout: float) -> dict:
    """The toolkit's co_similar_tweet (its CLI's similarity function: Jaccard of token sets, empty sets 0)
    in a child process group, killed after ``timeout`` seconds (then only a lower bound is known)."""
    out = tmp / "near.json"
    cmd = [sys.executable, "-c", _TOOLKIT_NEAR, str(csv_path), str(tmp / "near.db"), str(window), str(threshold),
           str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return {"timed_out_after_s": time.perf_counter() - t0}
    res = orjson.loads(out.read_bytes())
    e: dict = {}
    for a, b, w in res.pop("edges"):
        k = (min(a, b), max(a, b))
        e[k] = max(e.get(k, 0), int(w))
    return res | {"edges": e}


def run_hubbub_near(csv_path: Path, window: float, threshold: float) -> dict:
    import duckdb

    from hubbub.analyze.coordination.layers import Layer, layer_pairs, load_qut_csv

    t0 = time.perf_counter()
    con = duckdb.connect()
    res: dict = {"posts": load_qut_csv(con, [str(csv_path)], lambda uid: uid)}
    res["read_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    p = layer_pairs(con, Layer("near", window, 1, threshold))
    res["near_s"] = time.perf_counter() - t
    res["total_s"] = time.perf_counter() - t0
    edges = dict(zip(zip(p["a"].to_pylist(), p["b"].to_pylist(), strict=True), p["weight"].to_pylist(), strict=True))
    return res | {"edges": edges}


def near_benchmark(args: argparse.Namespace, tmp: Path) -> dict:
    path = tmp / "one_day.csv"
    n = write_csv(args.data, path, args.replicas, one_day=True, limit=args.limit)
    print(f"near-duplicate co-text: {n:,} messages in one day", file=sys.stderr)
    hub = run_hubbub_near(path, args.near_window, args.threshold)
    tk = run_toolkit_near(path, tmp, args.near_window, args.threshold, args.toolkit_timeout)
    h = hub.pop("edges")
    out = {"messages": n, "window_s": args.near_window, "threshold": args.threshold, "hubbub": hub, "toolkit": tk}
    if "edges" in tk:
        t = tk.pop("edges")
        both = set(h) & set(t)
        out["pairs"] = {"hubbub": len(h), "toolkit": len(t), "common": len(both),
                        "recall": len(both) / max(len(t), 1), "precision": len(both) / max(len(h), 1),
                        "same_weights": sum(h[k] == t[k] for k in both), "identical": h == t}
        out["speedup_near"] = tk["near_s"] / hub["near_s"]
        out["speedup_end_to_end"] = (tk["preprocess_s"] + tk["near_s"]) / hub["total_s"]
    else:
        out["speedup_near_at_least"] = tk["timed_out_after_s"] / hub["total_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=6)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2, help="toolkit worker processes")
    ap.add_argument("--near-window", type=float, default=1.0,
                    help="window of the near-duplicate comparison (the toolkit CLI's default, 1 s)")
    ap.add_argument("--threshold", type=float, default=0.8, help="Jaccard threshold (the toolkit CLI's default)")
    ap.add_argument("--toolkit-timeout", type=float, default=900.0, help="seconds before co_similar_tweet is stopped")
    ap.add_argument("--limit", type=int, default=None, help="IRA tweets per copy (default: all)")
    ap.add_argument("--only", choices=["exact", "near"], default=None, help="run one of the two comparisons")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "coordination.json")
    args = ap.parse_args()
    result: dict = {"benchmark": "coordination", "replicas": args.replicas,
                    "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "near":
            result["exact"] = exact_benchmark(args, Path(tmp))
        if args.only != "exact":
            result["near"] = near_benchmark(args, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


def exact_benchmark(args: argparse.Namespace, tmp: Path) -> dict:
    path = tmp / "messages.csv"
    n = write_csv(args.data, path, args.replicas, limit=args.limit)
    print(f"exact networks: {n:,} messages", file=sys.stderr)
    hub = run_hubbub(path, args.window)
    tk = run_toolkit(path, tmp / "toolkit.db", args.window, args.threads)
    same = {}
    for layer in LAYERS:
        h, t = hub["edges"].pop(layer), tk["edges"].pop(layer)
        same[layer] = {"hubbub_pairs": len(h), "toolkit_pairs": len(t),
                       "identical": h == t if layer != "link" else None,
                       "hubbub_pairs_among_toolkit": set(h) <= set(t)}
    hub.pop("edges"), tk.pop("edges")
    return {"messages": n, "window_s": args.window, "hubbub": hub, "toolkit": tk, "networks": same,
            "speedup_end_to_end": tk["total_s"] / hub["total_s"]}


if __name__ == "__main__":
    main()
