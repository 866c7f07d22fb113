"""Sentiment evaluation on the sources' own file layouts, Hubbub's model and VADER side by side.

- TweetEval sentiment (SemEval-2017 4A, English): ``tweeteval/sentiment/<split>_text.txt`` +
  ``<split>_labels.txt``; metric: macro recall (the benchmark's).
- XLM-T sentiment, per language: ``xlm-t-sentiment/<language>/<split>_text.txt`` + ``<split>_labels.txt``;
  metric: macro F1; plus the mean over the languages.

``<split>`` is ``val`` for ``validation``. Labels: 0 negative, 1 neutral, 2 positive. Metrics are
fractions (0..1). Every row says how many of its posts are in Hubbub's training corpus (``in_training``,
matched by normalised text; the corpus drops validation texts, so it is 0 unless the data changed);
when any are, a second row gives the figures on the posts the model has not seen.
``per_language``: for each set, the default model's accuracy, confusion matrix (rows: true class,
columns: predicted; negative, neutral, positive), reliability bins (confidence of the predicted
class against accuracy) and expected calibration error, and the quality preset's confusion matrix.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hubbub.enrich.steps.sentiment import SentimentModel, VaderSentimentStep, normalize
from hubbub.eval.files import read_lines

XLMT_LANGUAGES = {"arabic": "ar", "english": "en", "french": "fr", "german": "de", "hindi": "hi",
                  "italian": "it", "portuguese": "pt", "spanish": "es"}
_PREFIX = {"validation": "val", "val": "val", "train": "train", "test": "test"}
_LABEL = {"negative": 0, "neutral": 1, "positive": 2}


def _lines(path: Path) -> list[str]:
    return read_lines(path, "sentiment evaluation data")


def _pair(folder: Path, prefix: str, limit: int | None) -> tuple[list[str], np.ndarray]:
    texts = _lines(folder / f"{prefix}_text.txt")
    labels = _lines(folder / f"{prefix}_labels.txt")
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} texts but {len(labels)} labels for {prefix}")
    if limit is not None:
        texts, labels = texts[:limit], labels[:limit]
    return texts, np.asarray([int(v) for v in labels], np.int64)


def macro_recall(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([((p == k) & (y == k)).sum() / max(1, (y == k).sum()) for k in range(3)]))


def macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    f = []
    for k in range(3):
        tp = ((p == k) & (y == k)).sum()
        f.append(2 * tp / max(1, 2 * tp + ((p == k) & (y != k)).sum() + ((p != k) & (y == k)).sum()))
    return float(np.mean(f))


def confusion(y: np.ndarray, p: np.ndarray) -> list[list[int]]:
    """3x3 counts: rows the true class, columns the predicted one (negative, neutral, positive)."""
    m = np.zeros((3, 3), np.int64)
    np.add.at(m, (y, p), 1)
    return m.tolist()


CALIBRATION_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def reliability(y: np.ndarray, proba: np.ndarray) -> tuple[list[dict[str, Any]], float]:
    """Reliability bins of the predicted class's probability (confidence) against accuracy, and the
    expected calibration error (bin-size-weighted mean |accuracy - confidence|)."""
    conf = proba.max(axis=1)
    hit = proba.argmax(axis=1) == y
    bins, ece = [], 0.0
    for lo, hi in zip(CALIBRATION_EDGES[:-1], CALIBRATION_EDGES[1:], strict=True):
        sel = (conf >= lo) & ((conf < hi) if hi < 1 else (conf <= hi))
        if not sel.any():
            continue
        acc, mc = float(hit[sel].mean()), float(conf[sel].mean())
        ece += sel.sum() / len(y) * abs(acc - mc)
        bins.append({"confidence": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()), "mean_confidence": round(mc, 3),
                     "accuracy": round(acc, 3)})
    return bins, round(float(ece), 4)


def _vader() -> VaderSentimentStep | None:
    try:
        step = VaderSentimentStep()
        step.setup(0)
        return step
    except ImportError:
        return None


def _training_texts(data_dir: Path) -> set[str]:
    """Normalised texts of the labelled training corpus (``hubbub.eval.sentiment_corpus``)."""
    from hubbub.eval.sentiment_corpus import load_corpus

    return {normalize(t) for t in load_corpus(data_dir).texts}


def evaluate_sentiment(data_dir: Path, split: str = "validation", limit: int | None = None) -> dict[str, Any]:
    data_dir = Path(data_dir)
    if split not in _PREFIX:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(_PREFIX)}")
    prefix = _PREFIX[split]
    sets = [("tweeteval-sentiment", "en", "macro_recall", data_dir / "tweeteval" / "sentiment")]
    sets += [("xlm-t-sentiment", code, "macro_f1", data_dir / "xlm-t-sentiment" / lang)
             for lang, code in XLMT_LANGUAGES.items()]
    loaded = [(name, lang, metric, *_pair(folder, prefix, limit)) for name, lang, metric, folder in sets]

    model = SentimentModel.load()
    seen = _training_texts(data_dir)
    vader = _vader()
    quality = _EmbeddingPreset()
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    secs = 0.0
    posts = 0
    xlmt: dict[str, list[float]] = {"hubbub": [], "hubbub_embed": [], "vader": []}
    for name, lang, metric, texts, y in loaded:
        t0 = time.perf_counter()
        hub_p = model.predict_proba(texts)
        hub = hub_p.argmax(axis=1)
        secs += time.perf_counter() - t0
        posts += len(texts)
        vad = (np.asarray([_LABEL.get(c or "neutral", 1) for c, _ in vader.classify(texts)], np.int64)
               if vader else None)
        emb = quality.predict(texts, hub_p)
        score = macro_recall if metric == "macro_recall" else macro_f1
        in_train = np.asarray([normalize(t) in seen for t in texts], bool)
        row: dict[str, Any] = {"dataset": name, "language": lang, "n": len(texts), "in_training": int(in_train.sum()),
               "metric": metric, "hubbub": round(score(y, hub), 4),
               "hubbub_embed": round(score(y, emb), 4),
               "vader": round(score(y, vad), 4) if vad is not None else None}
        rows.append(row)
        bins, ece = reliability(y, hub_p)
        details.append({"dataset": name, "language": lang, "n": len(texts),
                        "accuracy": round(float((hub == y).mean()), 4),
                        "confusion_true_by_predicted": confusion(y, hub), "calibration": bins, "ece": ece,
                        "quality_preset_confusion": confusion(y, emb)})
        if name == "xlm-t-sentiment":
            xlmt["hubbub"].append(row["hubbub"])
            xlmt["hubbub_embed"].append(row["hubbub_embed"])
            if row["vader"] is not None:
                xlmt["vader"].append(row["vader"])
        if in_train.any():
            keep = ~in_train
            rows.append({**row, "dataset": f"{name} (unseen by hubbub)", "n": int(keep.sum()), "in_training": 0,
                         "hubbub": round(score(y[keep], hub[keep]), 4) if keep.any() else None,
                         "hubbub_embed": round(score(y[keep], emb[keep]), 4) if keep.any() else None,
                         "vader": round(score(y[keep], vad[keep]), 4) if vad is not None and keep.any() else None})
    if xlmt["hubbub"]:
        rows.append({"dataset": "xlm-t-sentiment", "language": "mean", "n": sum(r["n"] for r in rows
                     if r["dataset"] == "xlm-t-sentiment"), "in_training": 0, "metric": "macro_f1",
                     "hubbub": round(float(np.mean(xlmt["hubbub"])), 4),
                     "hubbub_embed": round(float(np.mean(xlmt["hubbub_embed"])), 4),
                     "vader": round(float(np.mean(xlmt["vader"])), 4) if xlmt["vader"] else None})
    return {"task": "sentiment", "split": split, "rows": rows, "per_language": details,
            "hubbub_posts_per_s": round(posts / secs, 1) if secs > 0 else None,
            "model": {"file": "sentiment.hbsm", "version": model.meta.get("model_version"),
                      "training_rows": model.meta.get("training_rows")},
            "vader_available": vader is not None}


class _EmbeddingPreset:
    """The ``sentiment_embed`` step's prediction for eval texts (embeds them as the ``embed`` step does)."""

    def __init__(self) -> None:
        from hubbub.enrich.steps.embed import EmbedStep
        from hubbub.enrich.steps.sentiment_embed import EmbeddingSentimentModel

        self.embed = EmbedStep()
        self.embed.setup(0)
        self.model = EmbeddingSentimentModel.load()

    def predict(self, texts: Sequence[str | None], ngram_p: np.ndarray) -> np.ndarray:
        from hubbub.enrich.steps.sentiment_embed import predict_proba

        vecs = self.embed.encode(list(texts))
        has = np.array([v is not None for v in vecs], bool)
        x = np.zeros((len(texts), self.model.coef.shape[1]), np.float32)
        if has.any():
            x[has] = np.stack([v for v in vecs if v is not None])
        return predict_proba(self.model.log_proba(x), ngram_p, has).argmax(axis=1)
