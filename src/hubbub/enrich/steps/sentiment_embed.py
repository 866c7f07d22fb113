"""Sentiment, quality preset (opt-in): ``hubbub enrich --steps sentiment_embed``.

Negative / neutral / positive from two models, combined with equal weight in log-probability:

- a logistic regression over the post's USE-multilingual embedding (the ``embed`` step's default
  encoder, which this step requires and reads from ``enrich_embed``), trained by
  ``scripts/train_sentiment_embed.py`` on the same train splits as the ``sentiment`` model and shipped
  as ``enrich/models/sentiment_use.npz``;
- the ``sentiment`` step's hashed n-gram model on the post's text.

Measured (``hubbub eval``, validation split): TweetEval macro recall on texts unseen in training and
XLM-T macro F1 in docs/enrich.md. It costs an embedding per post (about 400 posts/s on one core), so it
pays where posts are embedded anyway (topics, narratives). Output table ``enrich_sentiment_embed`` with
the ``sentiment`` step's columns. A post whose text cleans to nothing for the encoder (only links,
mentions, emoji) gets the default model's label and score; a post without text gets nulls.
Posts embedded with another encoder are refused with a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.enrich.steps.sentiment import LABELS, SentimentModel, sha256_file

MODEL_FILE = "sentiment_use.npz"
MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / MODEL_FILE
NGRAM_WEIGHT = 0.5  # equal weight, not tuned


class EmbeddingSentimentModel:
    """Multinomial logistic regression over L2-normalised embeddings (weights from scikit-learn)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, meta: dict[str, Any]) -> None:
        self.coef = np.asarray(coef, np.float64)
        self.intercept = np.asarray(intercept, np.float64)
        self.meta = meta

    def log_proba(self, x: np.ndarray) -> np.ndarray:
        z = x.astype(np.float64) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def save(self, path: Path) -> None:
        import orjson

        with open(path, "wb") as fh:  # np.savez adds no timestamps: same inputs, same bytes
            np.savez(fh, coef=self.coef, intercept=self.intercept,
                     meta=np.frombuffer(orjson.dumps(self.meta, option=orjson.OPT_SORT_KEYS), np.uint8))

    @classmethod
    def load(cls, path: Path | None = None) -> EmbeddingSentimentModel:
        import orjson

        path = path or MODEL_PATH
        with np.load(path) as z:
            meta = orjson.loads(z["meta"].tobytes())
            meta["sha256"] = sha256_file(path)
            return cls(z["coef"], z["intercept"], meta)


def combine(emb_log_p: np.ndarray, ngram_p: np.ndarray) -> np.ndarray:
    """Log-probabilities of the combined model (rows: posts; columns: LABELS)."""
    return (1 - NGRAM_WEIGHT) * emb_log_p + NGRAM_WEIGHT * np.log(ngram_p + 1e-12)


def predict_proba(emb_log_p: np.ndarray, ngram_p: np.ndarray, has_vector: np.ndarray) -> np.ndarray:
    """Class probabilities of the preset: the combination where the post has an embedding, the
    default model alone where its text cleans to nothing for the encoder (the step and ``hubbub eval``
    both use this)."""
    log_p = combine(emb_log_p, ngram_p)
    p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return np.where(has_vector[:, None], p, ngram_p)


class EmbeddingSentimentStep(Step):
    name = "sentiment_embed"
    version = "1"
    default = False
    reads = ("text",)
    requires = ("embed",)
    joins = (("enrich_embed", ("embedding", "embed_model")),)
    schema = pa.schema([("sentiment", pa.string()), ("sentiment_score", pa.float32())])
    description = "sentiment, quality preset: embedding logistic regression + n-gram model (needs embed)"

    def __init__(self) -> None:
        self._emb: EmbeddingSentimentModel | None = None
        self._ngram: SentimentModel | None = None

    def _models(self) -> tuple[EmbeddingSentimentModel, SentimentModel]:
        if self._emb is None or self._ngram is None:
            self._emb, self._ngram = EmbeddingSentimentModel.load(), SentimentModel.load()
        return self._emb, self._ngram

    def model(self) -> dict[str, str]:
        emb, ngram = self._models()
        return {"name": f"logistic regression over {emb.meta['embedding']} ({MODEL_FILE}) + hashed n-gram model",
                "version": str(emb.meta.get("model_version", "")), "sha256": emb.meta["sha256"],
                "ngram_sha256": ngram.meta.get("sha256", "")}

    def params(self) -> dict[str, Any]:
        return {"score": "P(positive) - P(negative)", "ngram_weight": NGRAM_WEIGHT,
                "combination": "weighted sum of log-probabilities"}

    def setup(self, seed: int) -> None:
        self._models()

    def run(self, batch: pa.Table) -> pa.Table:
        emb, ngram = self._models()
        want = emb.meta["embedding"]
        models = batch["embed_model"].to_pylist()
        wrong = sorted({m for m in models if m is not None and m != want})
        if wrong:
            raise ValueError(f"sentiment_embed needs {want} embeddings; posts were embedded with {wrong[0]} "
                             "(run `hubbub enrich --steps embed` with the default encoder)")
        has = np.array([m is not None for m in models], bool)
        texts = batch["text"].to_pylist()
        n, dim = batch.num_rows, emb.coef.shape[1]
        vec = np.zeros((n, dim), np.float32)
        if has.any():
            flat = batch["embedding"].filter(pa.array(has)).combine_chunks().flatten()
            vec[has] = np.asarray(flat.to_numpy(zero_copy_only=False), np.float32).reshape(-1, dim)
        p = predict_proba(emb.log_proba(vec), ngram.predict_proba(texts), has)
        has_text = np.array([bool(t and t.strip()) for t in texts], bool)
        best = p.argmax(axis=1)
        return pa.table({"sentiment": pa.array([LABELS[b] if h else None for b, h in zip(best, has_text, strict=True)],
                                               pa.string()),
                         "sentiment_score": pa.array((p[:, 2] - p[:, 0]).astype(np.float32), pa.float32(),
                                                     mask=~has_text)},
                        schema=self.schema)


STEPS = [EmbeddingSentimentStep()]
