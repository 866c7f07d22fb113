"""Enrichment speed: posts/s per default step and for all of them together, with peak memory,
on real posts (the IRA 2016 set: English, Russian and other languages).

    python benchmarks/enrich.py --posts 100000

Each step runs in a fresh process (so its peak memory is its own) over the same imported store.
Writes a JSON result (``--out``, default benchmarks/results/enrich.json). Goal: >= 5,000 posts/s
for all default steps together on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_DATA = REPO.parent / "shared" / "data"

_CHILD = """
import resource, sys, time, orjson
from hubbub.api import Hubbub
steps = sys.argv[2].split(",")
with Hubbub(sys.argv[1]) as hb:
    t0 = time.perf_counter()
    res = hb.enrich(steps, batch_size=5_000)
    took = time.perf_counter() - t0
print(orjson.dumps({"seconds": took, "posts": sum(r.done for r in res) // max(len(res), 1),
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                    "peak_rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}).decode())
"""


def run_steps(ws: Path, steps: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    r = subprocess.run([sys.executable, "-c", _CHILD, str(ws), ",".join(steps)], capture_output=True, env=env)
    if r.returncode:
        raise SystemExit(f"enrich {steps} failed: {r.stderr.decode()[-2000:]}")
    out = orjson.loads(r.stdout.splitlines()[-1])
    out["posts_per_s"] = round(out["posts"] / out["seconds"]) if out["seconds"] else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "enrich.json")
    args = ap.parse_args()

    from hubbub.api import Hubbub
    from hubbub.enrich.registry import default_steps

    tmp = Path(tempfile.mkdtemp(prefix="hubbub-enrich-"))
    try:
        base = tmp / "base"
        with Hubbub(base, create=True) as hb:
            hb.import_files([args.data / "ira-troll-tweets-2016-election-window" / "tweets"], dataset="ira")
            n = hb.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
            if n > args.posts:  # keep the first N posts (by key), so every step sees the same input
                hb.store.con.execute(
                    "DELETE FROM posts WHERE (platform, post_id) NOT IN "
                    "(SELECT (platform, post_id) FROM posts ORDER BY platform, post_id LIMIT ?)", [args.posts])
            n = hb.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
        steps = [s.name for s in default_steps()]
        per_step = {}
        for s in steps:
            ws = tmp / f"ws_{s}"
            shutil.copytree(base, ws)
            per_step[s] = run_steps(ws, [s])
        ws = tmp / "ws_all"
        shutil.copytree(base, ws)
        t0 = time.perf_counter()
        together = run_steps(ws, steps)
        together["wall_s"] = round(time.perf_counter() - t0, 2)
        together["posts_per_s"] = round(n / together["seconds"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"benchmark": "enrich", "posts": n, "data": "IRA 2016 troll tweets", "steps": per_step,
              "all_default_steps": together, "goal_posts_per_s": 5000,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
