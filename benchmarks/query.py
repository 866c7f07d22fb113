"""Query latency on a 10M-post store made from real posts: search, a time series with a breakdown
(pre-aggregate and full scan side by side), and spikes.

    python benchmarks/query.py --posts 10000000 [--workspace DIR] [--repeats 20]

The store: the IRA 2016 troll tweets (184k real posts) imported and enriched (lang, sentiment) as
usual, then copied with DuckDB ``INSERT ... SELECT`` until there are ``--posts`` posts: copy ``k``
has post ids ``<id>:k``, times shifted by ``k`` x 46 days (the window's length, so the copies follow
one another), author keys re-keyed per copy within 16 groups (``acct_`` + md5), the same text and
enrichment rows, and no raw record (NULL). Engagement counts (the IRA set has none) are
synthetic: ``hash(post_id) % 100`` likes and ``% 20`` reposts. A store built before is reused when
``--workspace`` holds one with the same number of posts.

Each measurement runs ``--repeats`` times after one warm-up call. The hourly pre-aggregate is brought up
to date first (as import and enrichment do; reads never build it); its time is ``aggregate_build_s``.
Writes JSON (``--out``, default benchmarks/results/query.json) with p50/p95 per measurement and the
ratio of the full scan to the pre-aggregate. Goal: p95 <= 300 ms for the time series.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_DATA = REPO.parent / "shared" / "data"
SHIFT_DAYS = 46
AUTHOR_GROUPS = 16
GOAL_SERIES_P95_MS = 300


def _count(store: Any, table: str) -> int:
    return store.query(f"SELECT count(*) AS n FROM {table}").to_pylist()[0]["n"]


def build(ws: Path, posts: int, data: Path) -> dict[str, Any]:
    """Import + enrich the IRA set, then copy it up to ``posts`` posts. Returns timings."""
    from hubbub.api import Hubbub
    from hubbub.schema import POST_COLUMNS

    info: dict[str, Any] = {}
    with Hubbub(ws, create=True) as hb:
        s = hb.store
        if _count(s, "posts") == posts:
            info["reused"] = True
            return info
        if _count(s, "posts"):
            raise SystemExit(f"{ws} holds another store; give an empty or new --workspace")
        t0 = time.perf_counter()
        hb.import_files([data / "ira-troll-tweets-2016-election-window" / "tweets"], dataset="ira")
        info["import_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        hb.enrich(["lang", "sentiment"])
        info["enrich_s"] = round(time.perf_counter() - t0, 1)
        base = _count(s, "posts")
        info["base_posts"] = base
        t0 = time.perf_counter()
        con = s.con
        con.execute("UPDATE posts SET likes = hash(post_id) % 100, reposts = hash(post_id || 'r') % 20")
        con.execute("CREATE TEMP TABLE base_posts AS SELECT * EXCLUDE (raw) FROM posts")
        con.execute("CREATE TEMP TABLE base_lang AS SELECT * FROM enrich_lang")
        con.execute("CREATE TEMP TABLE base_sent AS SELECT * FROM enrich_sentiment")
        copies = math.ceil(posts / base)
        over = {"post_id": "b.post_id || ':' || k", "created_at": f"b.created_at + k * INTERVAL {SHIFT_DAYS} DAY",
                "author_key": f"'acct_' || substr(md5(b.author_key || ':' || (k % {AUTHOR_GROUPS})), 1, 24)",
                "likes": "hash(b.post_id || k) % 100", "reposts": "hash(b.post_id || k || 'r') % 20",
                "raw": "NULL"}
        cols = ", ".join(POST_COLUMNS)
        sel = ", ".join(over.get(c, f"b.{c}") for c in POST_COLUMNS)
        step = 8
        for k0 in range(1, copies, step):
            k1 = min(copies, k0 + step)
            with s.transaction():  # fixed SQL: numbers only, no text from posts or users
                con.execute(f"""INSERT INTO posts ({cols}) SELECT {sel} FROM base_posts b, range(?, ?) r(k)""",
                            [k0, k1])
                for table, src in (("enrich_lang", "base_lang"), ("enrich_sentiment", "base_sent")):
                    con.execute(f"""INSERT INTO {table} SELECT e.* REPLACE (e.post_id || ':' || k AS post_id)
                        FROM {src} e, range(?, ?) r(k)""", [k0, k1])
        extra = _count(s, "posts") - posts
        if extra > 0:  # drop the newest copies' surplus
            with s.transaction():
                con.execute("""CREATE TEMP TABLE surplus AS SELECT platform, post_id FROM posts
                    ORDER BY created_at DESC, post_id LIMIT ?""", [extra])
                for table in ("posts", "enrich_lang", "enrich_sentiment"):
                    con.execute(f"DELETE FROM {table} t USING surplus s WHERE t.platform = s.platform "
                                "AND t.post_id = s.post_id")
        con.execute("CHECKPOINT")
        info["copy_s"] = round(time.perf_counter() - t0, 1)
        info["posts"] = _count(s, "posts")
    return info


def measure(name: str, fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    print(f"measuring {name} ({repeats} runs)", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    first = fn()
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    res = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1), "runs": repeats,
           "first_call_s": round(warm, 3), "result_rows": _rows(first)}
    print(f"  {name}: {res}", file=sys.stderr, flush=True)
    return res


def _rows(x: Any) -> Any:
    if isinstance(x, int):
        return x
    return getattr(x, "num_rows", None) or len(getattr(x, "spikes", []) or [])


def run(ws: Path, repeats: int, spike_repeats: int) -> dict[str, Any]:
    from hubbub.analyze.aggregates import refresh
    from hubbub.analyze.trends import timeseries
    from hubbub.api import Hubbub
    from hubbub.query import select
    from hubbub.query.search import count, search

    out: dict[str, Any] = {}
    with Hubbub(ws) as hb:
        s = hb.store
        out["posts"] = _count(s, "posts")
        t0 = time.perf_counter()
        refresh(s)
        out["aggregate_build_s"] = round(time.perf_counter() - t0, 2)
        out["aggregate_rows"] = _count(s, "agg_hourly")
        m: dict[str, Any] = {}
        few = max(2, repeats // 6)
        series = {
            "series_lang_en_by_sentiment_day": ("lang:en", "day", "sentiment"),
            "series_all_by_lang_week": ("", "week", "lang"),
            "series_reposts_date_range_by_lang_hour": ("kind:repost date:2016-10-01..2016-11-15", "hour", "lang"),
        }
        for name, (q, iv, by) in series.items():
            m[name] = measure(name, lambda q=q, iv=iv, by=by: timeseries(s, q, iv, by), repeats)
            scan = measure(name + "_scan", lambda q=q, iv=iv, by=by: timeseries(s, q, iv, by, use_aggregate=False),
                           few)
            m[name + "_scan"] = scan
            m[name]["scan_over_aggregate"] = round(scan["p50_ms"] / max(m[name]["p50_ms"], 0.01), 1)
        scans: dict[str, Callable[[], Any]] = {
            "series_text_trump_by_lang_day": lambda: timeseries(s, "trump", "day", "lang"),
            "search_text_page": lambda: search(s, "trump", limit=20),
            "search_phrase_page": lambda: search(s, '"hillary clinton"', limit=20),
            "search_field_by_engagement": lambda: search(s, "kind:post likes:>=90", sort="engagement", limit=20),
            "count_text_and_field": lambda: count(s, "vot* AND lang:en"),
        }
        for name, fn in scans.items():
            m[name] = measure(name, fn, few)
        try:
            from hubbub.analyze.spikes import SpikeParams, detect_spikes
        except ImportError:  # spikes not written yet: nothing to measure
            m["spikes"] = {"skipped": "hubbub.analyze.spikes not available"}
        else:
            for name, q in (("spikes_day_lang_en", "lang:en"), ("spikes_day_text_trump", "trump")):
                # as ``Hubbub.spikes`` calls it: the selection lets a query of covered fields use the pre-aggregate
                m[name] = measure(name, lambda q=q: detect_spikes(s, select(s, q), SpikeParams(interval="day"),
                                                                  selection={"query": q, "dataset": None}),
                                  spike_repeats)
        out["measurements"] = m
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--spike-repeats", type=int, default=3)
    ap.add_argument("--workspace", type=Path, default=None, help="Keep (and reuse) the store here.")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "query.json")
    args = ap.parse_args()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="hubbub-query-")) / "ws"
    t0 = time.perf_counter()
    built = build(ws, args.posts, args.data)
    built["build_s"] = round(time.perf_counter() - t0, 1)
    res = run(ws, args.repeats, args.spike_repeats)
    goal = res["measurements"]["series_lang_en_by_sentiment_day"]["p95_ms"]
    result = {"benchmark": "query", "workspace": str(ws), "build": built, **res,
              "goal": {"series_p95_ms": GOAL_SERIES_P95_MS, "met": goal <= GOAL_SERIES_P95_MS},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform(), "omp_threads": os.environ.get("OMP_NUM_THREADS")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
