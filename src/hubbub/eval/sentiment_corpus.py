"""The sentiment models' training corpus, defined once for the trainers, the evaluation and the tests.

Labelled TRAIN splits only; any training text that also occurs (after ``normalize``) in a validation
file of the labelled sets is dropped (XLM-T English train holds 1,430 TweetEval sentiment validation
tweets). Test splits are not in the shared data at all.

- XLM-T sentiment train, 8 languages (0 negative, 1 neutral, 2 positive);
- TweetEval emotion train: anger and sadness -> negative, joy and optimism -> positive (no neutral);
- Sanders corpus (no split; never evaluated): positive / negative / neutral, ``irrelevant`` dropped.

``unlabelled_pool`` gives the unlabelled texts used to choose the static-embedding vocabulary
(the IRA set, TweetTopicXL train files, the Sanders corpus).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from hubbub.enrich.steps.sentiment import normalize
from hubbub.eval.files import read_jsonl_texts, read_lines

XLMT_LANGUAGES = ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")
EMOTION_TO_SENTIMENT = {0: 0, 1: 2, 2: 2, 3: 0}  # anger, joy, optimism, sadness -> negative / positive
SANDERS = "sanders-twitter-corpus/full-corpus.csv"
SANDERS_LABELS = {"negative": 0, "neutral": 1, "positive": 2}
TOPIC_XL = ("en", "es", "gr", "ja")
IRA_GLOB = "ira-troll-tweets-2016-election-window/tweets/tweets_week_*.csv"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validation_files(data_dir: Path) -> list[Path]:
    """Every validation text file of the labelled sets present in the data folder."""
    out = sorted((data_dir / "xlm-t-sentiment").glob("*/val_text.txt"))
    out += sorted((data_dir / "tweeteval").glob("**/val_text.txt"))
    out += sorted((data_dir / "tweet-topic-xl").glob("*/*_validation.jsonl"))
    return out


def held_out_texts(data_dir: Path) -> set[str]:
    """Normalised texts of every validation file (the training corpus must contain none of them)."""
    out: set[str] = set()
    for p in validation_files(data_dir):
        texts = read_jsonl_texts(p) if p.suffix == ".jsonl" else read_lines(p)
        out.update(n for n in map(normalize, texts) if n)
    return out


@dataclass
class Corpus:
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # one per text: its file's path
    files: list[dict] = field(default_factory=list)  # provenance recorded in the model


def _sanders(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            y = SANDERS_LABELS.get(row.get("Sentiment", ""))
            if y is not None and row.get("TweetText"):
                texts.append(row["TweetText"].replace("\n", " "))
                labels.append(y)
    return texts, labels


def load_corpus(data_dir: Path, limit: int | None = None, emotion: bool = True, sanders: bool = True) -> Corpus:
    data_dir = Path(data_dir)
    held = held_out_texts(data_dir)
    c = Corpus()
    parts: list[tuple[str, list[str], list[int], dict]] = []
    for lang in XLMT_LANGUAGES:
        rel = f"xlm-t-sentiment/{lang}/train_text.txt"
        t = read_lines(data_dir / rel, "training file")
        y = [int(v) for v in read_lines(data_dir / f"xlm-t-sentiment/{lang}/train_labels.txt", "training file")]
        parts.append((rel, t, y, {"labels": f"xlm-t-sentiment/{lang}/train_labels.txt"}))
    if emotion:
        rel = "tweeteval/emotion/train_text.txt"
        t = read_lines(data_dir / rel, "training file")
        y = [EMOTION_TO_SENTIMENT[int(v)] for v in read_lines(data_dir / "tweeteval/emotion/train_labels.txt")]
        parts.append((rel, t, y, {"labels": "tweeteval/emotion/train_labels.txt",
                                  "label_map": {str(k): v for k, v in EMOTION_TO_SENTIMENT.items()}}))
    if sanders:
        t, y = _sanders(data_dir / SANDERS)
        parts.append((SANDERS, t, y, {"label_map": SANDERS_LABELS, "dropped": "irrelevant"}))
    for rel, t, y, extra in parts:
        if len(t) != len(y):
            raise ValueError(f"{rel}: {len(t)} texts but {len(y)} labels")
        if limit is not None:
            t, y = t[:limit], y[:limit]
        keep = [i for i, s in enumerate(t) if normalize(s) and normalize(s) not in held]
        c.texts += [t[i] for i in keep]
        c.labels += [y[i] for i in keep]
        c.sources += [rel] * len(keep)
        rec = {"path": rel, "sha256": sha256_file(data_dir / rel), "rows_read": len(t), "rows_used": len(keep),
               "dropped_in_validation_or_empty": len(t) - len(keep), **extra}
        if "labels" in extra:
            rec["labels_sha256"] = sha256_file(data_dir / extra["labels"])
        c.files.append(rec)
    return c


def unlabelled_pool(data_dir: Path, per_source: int = 40_000) -> list[str]:
    """Unlabelled posts (IRA tweets, TweetTopicXL train, Sanders), at most ``per_source`` of each
    (IRA: per language), in file order."""
    data_dir = Path(data_dir)
    out: list[str] = []
    by_lang: dict[str, list[str]] = {}
    for p in sorted(data_dir.glob(IRA_GLOB)):
        with open(p, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                lst = by_lang.setdefault(row.get("language") or "?", [])
                if len(lst) < per_source and row.get("content"):
                    lst.append(row["content"])
    for lang in sorted(by_lang):
        out += by_lang[lang]
    for lang in TOPIC_XL:
        p = data_dir / "tweet-topic-xl" / lang / f"{lang}_train.jsonl"
        if p.is_file():
            out += read_jsonl_texts(p)[:per_source]
    if (data_dir / SANDERS).is_file():
        with open(data_dir / SANDERS, encoding="utf-8", newline="") as fh:
            out += [r["TweetText"] for r in csv.DictReader(fh) if r.get("TweetText")][:per_source]
    return out
