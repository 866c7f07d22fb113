"""Topic model at scale: fit on a bounded sample + streaming assignment of N posts, with peak memory,
and side by side with BERTopic on the same real posts and embeddings.

    python benchmarks/topics.py --posts 10000000

Embedding 10M posts with USE on 2 cores would take hours, so the N post embeddings are synthesised
from real ones: ``--real`` IRA 2016 tweets are embedded with USE (the ``embed`` step's encoder);
each synthetic post is a real vector plus one of 65,536 seeded Gaussian noise vectors,
re-normalised, made chunk by chunk and never all held at once. The fit and the assignment are the
code the ``topic`` step runs (``fit_topics`` on ``sample_size`` posts, ``assign`` per 50,000-post
batch). Also measured: the step's ``run`` on the real posts (Arrow batch in, Arrow batch out)
and, in a child process, BERTopic (UMAP + HDBSCAN, precomputed embeddings) against Hubbub's fit
on the same real posts. Peak memory is VmHWM of each process.
Writes JSON (``--out``, default benchmarks/results/topics.json). Goal: 10M posts in 24 GiB.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_DATA = REPO.parent / "shared" / "data"
CHUNK = 50_000
NOISE_POOL = 1 << 16  # distinct noise vectors (x real vectors: ~130M distinct posts)
NOISE = 0.03  # per-dimension standard deviation before re-normalising (cosine to the source vector ~0.75)

_BERTOPIC = """
import sys, time, numpy as np, orjson
from bertopic import BERTopic
from hdbscan import HDBSCAN
from umap import UMAP
x = np.load(sys.argv[1]); texts = orjson.loads(open(sys.argv[2], "rb").read())
t0 = time.perf_counter()
m = BERTopic(embedding_model=None, umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
             random_state=0), hdbscan_model=HDBSCAN(min_cluster_size=10, prediction_data=True))
ids, _ = m.fit_transform(texts, embeddings=x)
print(orjson.dumps({"seconds": time.perf_counter() - t0, "topics": int(max(ids)) + 1,
                    "assigned": float(np.mean(np.asarray(ids) != -1)),
                    "peak_rss_mb": [int(l.split()[1]) / 1024 for l in open("/proc/self/status")
                                    if l.startswith("VmHWM:")][0]}).decode())
"""


def rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include a parent's peak after fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_texts(data: Path, n: int) -> list[str]:
    out: list[str] = []
    for f in sorted((data / "ira-troll-tweets-2016-election-window" / "tweets").glob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["content"].strip() and row.get("retweet") == "0":
                    out.append(row["content"])
                    if len(out) >= n:
                        return out
    return out


def synthetic(base: np.ndarray, noise: np.ndarray, start: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Posts ``start .. start+n``: (vectors, index of the real post each one comes from). Each is a real
    vector plus one of the ``noise`` vectors, both picked by a generator seeded with (seed, start)."""
    rng = np.random.default_rng([seed, start])
    src = rng.integers(0, len(base), n)
    x = base[src] + noise[rng.integers(0, len(noise), n)]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, src


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=10_000_000)
    ap.add_argument("--real", type=int, default=5_000, help="real posts embedded with USE")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "topics.json")
    ap.add_argument("--no-bertopic", action="store_true")
    args = ap.parse_args()

    import pyarrow as pa

    from hubbub.enrich.steps.embed import EmbedStep
    from hubbub.enrich.steps.topic import TopicStep
    from hubbub.enrich.topics.fit import TopicParams, fit_topics
    from hubbub.enrich.topics.model import assign

    texts = real_texts(args.data, args.real)
    embed = EmbedStep()
    embed.setup(0)
    t0 = time.perf_counter()
    vecs = embed.encode(texts)
    embed_s = time.perf_counter() - t0
    keep = [i for i, v in enumerate(vecs) if v is not None]
    texts = [texts[i] for i in keep]
    base = np.stack([vecs[i] for i in keep])
    rss_start = rss_mb()

    # real posts: Hubbub's fit, then the step's per-batch run
    params = TopicParams()
    t0 = time.perf_counter()
    real_fit = fit_topics(base, texts, [None] * len(texts), 0, params)
    real_fit_s = time.perf_counter() - t0
    step = TopicStep()
    step.centroids = real_fit.centroids
    step.topic_ids = np.array([t.topic_id for t in real_fit.topics], np.int32)
    step.threshold = real_fit.threshold
    batch = pa.table({"platform": ["twitter"] * len(base), "post_id": [str(i) for i in range(len(base))],
                      "embedding": pa.array(list(base), pa.list_(pa.float32()))})
    t0 = time.perf_counter()
    step.run(batch)
    run_s = time.perf_counter() - t0

    # N synthetic posts: fit on a sample, stream the assignment
    t0 = time.perf_counter()
    noise = np.random.default_rng(0).normal(0, NOISE, (NOISE_POOL, base.shape[1])).astype(np.float32)
    sample, src = synthetic(base, noise, 0, min(params.sample_size, args.posts), seed=1)
    fitted = fit_topics(sample, [texts[i] for i in src], [None] * len(src), 0, params)
    fit_s = time.perf_counter() - t0
    del sample, src
    centroids = fitted.centroids
    assigned = 0
    t0 = time.perf_counter()
    for start in range(0, args.posts, CHUNK):
        x, _ = synthetic(base, noise, start, min(CHUNK, args.posts - start), seed=2)
        ids, _ = assign(x, centroids, fitted.threshold)
        assigned += int((ids >= 0).sum())
    assign_s = time.perf_counter() - t0
    result = {
        "benchmark": "topics", "posts": args.posts, "real_posts": len(base), "embedding": embed.model_label,
        "data": "IRA 2016 troll tweets (original tweets), embeddings synthesised from them beyond the real posts",
        "params": params.as_dict(),
        "embed_real_posts_per_s": round(len(base) / embed_s),
        "real": {"fit_seconds": round(real_fit_s, 2), "topics": len(real_fit.topics),
                 "assigned": round(float(np.mean(real_fit.assigned >= 0)), 3),
                 "step_run_posts_per_s": round(len(base) / run_s)},
        "scale": {"fit_seconds": round(fit_s, 2), "fit_posts": min(params.sample_size, args.posts),
                  "topics": len(fitted.topics), "assign_seconds": round(assign_s, 2),
                  "assign_posts_per_s": round(args.posts / assign_s), "assigned": round(assigned / args.posts, 3),
                  "total_seconds": round(fit_s + assign_s, 2)},
        "peak_rss_mb": round(rss_mb(), 1), "rss_before_topics_mb": round(rss_start, 1), "goal_peak_rss_mb": 24 * 1024,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    if not args.no_bertopic:
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"hubbub-bench-topics-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        np.save(tmp / "x.npy", base)
        (tmp / "t.json").write_bytes(orjson.dumps(texts))
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        r = subprocess.run([sys.executable, "-c", _BERTOPIC, str(tmp / "x.npy"), str(tmp / "t.json")],
                           capture_output=True, env=env)
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
        if r.returncode:
            raise SystemExit(f"BERTopic failed: {r.stderr.decode()[-2000:]}")
        bt = orjson.loads(r.stdout.splitlines()[-1])
        result["bertopic_real"] = bt
        result["ratio_fit_seconds_bertopic_over_hubbub"] = round(bt["seconds"] / real_fit_s, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
