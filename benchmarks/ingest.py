"""Import speed against orjson parse-only of the same file, in one run.

Builds an X API v2 (twarc2) JSONL of ``--posts`` tweets by re-identifying the real sample tweets
(every id shifted per copy: distinct posts by distinct accounts, real texts and entities), then
times, on that same file:
  1. parse-only: ``orjson.loads`` of every line (the floor any importer pays);
  2. ``hubbub import`` into a fresh workspace (detect, map, pseudonymise, scrub, store).
Writes a JSON result (``--out``, default benchmarks/results/ingest.json). Goal: ratio <= 3.

    python benchmarks/ingest.py --posts 1000000
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hubbub.synth import real_pages, twarc_lines  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
SAMPLES = ("brexit.jsonl", "kpop.jsonl", "entities_test.jsonl", "withheld.jsonl", "2sets.jsonl",
           "media_policy_violation_off.jsonl")


def make_input(data: Path, posts: int, out: Path) -> int:
    v2 = data / "platform-formats" / "twitter-api-v2-twarc2"
    pages = real_pages([v2 / s for s in SAMPLES])
    n_lines = 0
    with open(out, "wb") as fh:
        for line in twarc_lines(pages, posts):
            fh.write(line + b"\n")
            n_lines += 1
    return n_lines


def parse_only(path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            n += len(orjson.loads(line).get("data") or ())
    return time.perf_counter() - t0, n


def hubbub_import(path: Path, ws: Path) -> tuple[float, dict, int]:
    cmd = [sys.executable, "-m", "hubbub.serve.cli", "--quiet", "--workspace", str(ws), "import", str(path),
           "--dataset", "bench", "--json"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    took = time.perf_counter() - t0
    if r.returncode not in (0, 3):
        raise SystemExit(f"import failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, orjson.loads(r.stdout), peak_kb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ingest.json")
    ap.add_argument("--tmp", type=Path, default=None, help="Scratch folder (needs ~3.5 GB per 1M posts).")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hubbub-bench-", dir=args.tmp))
    try:
        src = tmp / "tweets.jsonl"
        t0 = time.perf_counter()
        lines = make_input(args.data, args.posts, src)
        gen_s = time.perf_counter() - t0
        size = src.stat().st_size
        parse_s, n_posts = parse_only(src)
        import_s, summary, peak_kb = hubbub_import(src, tmp / "ws")
        store_bytes = (tmp / "ws" / "store.duckdb").stat().st_size
        result = {
            "benchmark": "ingest",
            "input": {"posts": n_posts, "lines": lines, "bytes": size, "format": "twitter-v2 (twarc2 JSONL)",
                      "generated_in_s": round(gen_s, 2)},
            "parse_only_s": round(parse_s, 3),
            "import_s": round(import_s, 3),
            "ratio_import_to_parse": round(import_s / parse_s, 2),
            "goal_ratio": 3.0,
            "posts_per_s": round(n_posts / import_s),
            "import_peak_rss_mb": round(peak_kb / 1024, 1),
            "store_bytes": store_bytes,
            "imported": summary["totals"]["imported"],
            "duplicate": summary["totals"]["duplicate"],
            "quarantined": summary["totals"]["quarantined"],
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
