"""Train the ``sentiment_embed`` step's model from the TRAIN splits of the shared labelled data.

    .venv/bin/python scripts/train_sentiment_embed.py [--data ../shared/data] [--out FILE]

The labelled corpus of scripts/train_sentiment.py (``hubbub.eval.sentiment_corpus``: XLM-T train
in 8 languages, TweetEval emotion train mapped to sentiment, Sanders; validation texts dropped); each
text is embedded by the ``embed`` step's default encoder (USE multilingual v3, as the step does), then
a multinomial logistic regression (scikit-learn, lbfgs, C=1, balanced class weights; not tuned) is
fitted. Deterministic: the same data gives the same bytes. A few minutes on one core.
Default --out: src/hubbub/enrich/models/sentiment_use.npz.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_sentiment import DEFAULT_DATA, DEFAULTS, weak_english, write_model  # noqa: E402

from hubbub.enrich.steps.embed import EmbedStep  # noqa: E402
from hubbub.enrich.steps.sentiment import normalize  # noqa: E402
from hubbub.enrich.steps.sentiment_embed import MODEL_PATH, EmbeddingSentimentModel  # noqa: E402
from hubbub.eval.sentiment_corpus import held_out_texts, load_corpus, unlabelled_pool  # noqa: E402

MODEL_VERSION = "2"
C = 1.0


def build(data_dir: Path, limit: int | None = None, weak: bool = True) -> EmbeddingSentimentModel:
    corpus = load_corpus(data_dir, limit)
    texts, labels, files = list(corpus.texts), list(corpus.labels), corpus.files
    weights = [1.0] * len(texts)
    n_weak = 0
    if weak:  # the same VADER-labelled English posts as the default model, with the same weight
        pool = unlabelled_pool(data_dir, per_source=40_000 if limit is None else limit)
        wt, wy = weak_english(pool, held_out_texts(data_dir), {normalize(t) for t in texts}, DEFAULTS["weak_neutral"])
        texts, labels, n_weak = texts + wt, labels + wy, len(wt)
        weights += [DEFAULTS["weak_weight"]] * len(wt)
    step = EmbedStep()
    step.setup(0)
    vecs = step.encode(texts)
    keep = [i for i, v in enumerate(vecs) if v is not None]
    x = np.stack([vecs[i] for i in keep]).astype(np.float64)
    y = np.asarray(labels, np.int64)[keep]
    sw = np.asarray(weights, np.float64)[keep]
    lr = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(x, y, sample_weight=sw)
    import sklearn

    meta = {"model_version": MODEL_VERSION, "task": "sentiment", "embedding": step.model_label,
            "hyperparameters": {"C": C, "solver": "lbfgs", "class_weight": "balanced", "loss": "multinomial logistic"},
            "training_rows": len(keep), "weak_rows": n_weak, "texts_empty_after_cleaning": len(texts) - len(keep),
            "class_counts": np.bincount(y, minlength=3).tolist(), "training_files": files, "limit_per_file": limit,
            "trainer": "scripts/train_sentiment_embed.py", "scikit_learn": sklearn.__version__}
    return EmbeddingSentimentModel(lr.coef_, lr.intercept_, meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--limit", type=int, default=None, help="first N rows of each training file (tests)")
    ap.add_argument("--no-weak", action="store_true", help="no VADER-labelled English posts")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    model = build(a.data, a.limit, weak=not a.no_weak)
    write_model(model, a.out, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
