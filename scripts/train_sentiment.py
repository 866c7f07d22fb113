"""Train Hubbub's sentiment model from the TRAIN splits of the shared labelled data, reproducibly.

    .venv/bin/python scripts/train_sentiment.py [--data ../shared/data] [--out src/hubbub/enrich/models/sentiment.hbsm]

Training data (train splits only; validation and test are never read):
- XLM-T sentiment (cardiffnlp/xlm-t, Apache-2.0 repository): ``<language>/train_text.txt`` +
  ``train_labels.txt`` for ar en fr de hi it pt es (0 negative, 1 neutral, 2 positive);
- TweetEval emotion (cardiffnlp/tweeteval, "released without any restrictions"): ``emotion/train_*``
  with anger and sadness as negative, joy and optimism as positive (English; no neutral posts).
Classes are weighted so that each has the same total weight. The artifact records every training
file with its sha256 and row count, the seed and the hyperparameters; the same data and arguments
give the same bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hubbub.enrich.steps.sentiment import MODEL_PATH, Featurizer, SentimentModel, sha256_file, train
from hubbub.eval.files import read_lines as _read_lines

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("HUBBUB_SHARED_DATA", REPO.parent / "shared" / "data"))
XLMT_LANGUAGES = ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")
EMOTION_TO_SENTIMENT = {0: 0, 1: 2, 2: 2, 3: 0}  # anger, joy, optimism, sadness -> negative / positive
MODEL_VERSION = "1"
DEFAULTS = {"l2": 1e-4, "max_iter": 100, "bits": 20, "char_min": 2, "char_max": 5}


def read_lines(path: Path) -> list[str]:
    return _read_lines(path, "training file")


def training_sources(emotion: bool = True) -> list[tuple[str, str, dict[int, int] | None]]:
    """(text file, label file, label map) relative to the data folder."""
    src: list[tuple[str, str, dict[int, int] | None]] = [
        (f"xlm-t-sentiment/{lang}/train_text.txt", f"xlm-t-sentiment/{lang}/train_labels.txt", None)
        for lang in XLMT_LANGUAGES]
    if emotion:
        src.append(("tweeteval/emotion/train_text.txt", "tweeteval/emotion/train_labels.txt", EMOTION_TO_SENTIMENT))
    return src


def load_training(data_dir: Path, limit: int | None = None, emotion: bool = True
                  ) -> tuple[list[str], list[int], list[dict]]:
    texts: list[str] = []
    labels: list[int] = []
    files: list[dict] = []
    for text_rel, label_rel, mapping in training_sources(emotion):
        t = read_lines(data_dir / text_rel)
        y = [int(v) for v in read_lines(data_dir / label_rel)]
        if len(t) != len(y):
            raise ValueError(f"{text_rel}: {len(t)} texts but {len(y)} labels")
        if limit is not None:
            t, y = t[:limit], y[:limit]
        if mapping is not None:
            y = [mapping[v] for v in y]
        texts += t
        labels += y
        for rel in (text_rel, label_rel):
            files.append({"path": rel, "sha256": sha256_file(data_dir / rel), "rows_used": len(t),
                          **({"label_map": {str(k): v for k, v in mapping.items()}} if mapping and rel == label_rel
                             else {})})
    return texts, labels, files


def build(data_dir: Path, seed: int = 0, limit: int | None = None, emotion: bool = True,
          log=None, **hyper) -> SentimentModel:
    hp = {**DEFAULTS, **hyper}
    texts, labels, files = load_training(data_dir, limit, emotion)
    order = np.random.default_rng(seed).permutation(len(texts))
    texts = [texts[i] for i in order]
    y = np.asarray(labels, np.int64)[order]
    counts = np.bincount(y, minlength=3).astype(np.float64)
    weight = (len(y) / (3 * np.maximum(counts, 1)))[y]
    fz = Featurizer(bits=hp["bits"], char_min=hp["char_min"], char_max=hp["char_max"])
    model = train(texts, y, fz, l2=hp["l2"], max_iter=hp["max_iter"], sample_weight=weight, log=log)
    model.meta = {"model_version": MODEL_VERSION, "task": "sentiment", "seed": seed,
                  "hyperparameters": {"l2": hp["l2"], "max_iter": hp["max_iter"], "solver": "L-BFGS (memory 10)",
                                      "class_weight": "balanced", "loss": "multinomial logistic"},
                  "training_rows": len(texts), "class_counts": counts.astype(int).tolist(),
                  "training_files": files, "limit_per_file": limit,
                  "trainer": "scripts/train_sentiment.py", "numpy": np.__version__}
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="first N rows of each training file (tests)")
    ap.add_argument("--no-emotion", action="store_true", help="XLM-T only")
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    model = build(a.data, seed=a.seed, limit=a.limit, emotion=not a.no_emotion,
                  log=lambda m: print(m, file=sys.stderr, flush=True),
                  **{k: getattr(a, k) for k in DEFAULTS})
    write_model(model, a.out, t0)
    return 0


def write_model(model: Any, out: Path, t0: float) -> None:
    """Save a trained model (anything with ``save(path)`` and ``meta``) and say what was written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {model.meta['training_rows']:,} training posts, "
          f"{time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
