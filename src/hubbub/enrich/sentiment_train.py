"""Fitting the default sentiment model (used by ``scripts/train_sentiment.py`` and the tests).

One multinomial logistic regression (scikit-learn, lbfgs) over two blocks of features of each post:

- the hashed word 1-2-gram and character n-gram features of ``Featurizer`` (sparse);
- the post's static embedding: the weighted mean of the teacher-encoded vectors of its vocabulary
  words (dense, scaled by ``static_scale``).

After fitting, the static block is folded into per-word class scores (``StaticVocab``), exactly: the
shipped model needs neither the vectors nor the encoder. Deterministic for the same inputs.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from hubbub.enrich.steps.sentiment import Featurizer, SentimentModel, StaticVocab, normalize


def vocab_hashes(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct crc32 keys of the words and, for each, the index of the first word with it."""
    h = np.asarray([zlib.crc32(w.encode("utf-8")) for w in words], np.uint64)
    keys, first = np.unique(h, return_index=True)
    return keys, first


def design(texts: Sequence[str], featurizer: Featurizer, vocab: StaticVocab, vectors: np.ndarray,
           static_scale: float) -> sp.csr_matrix:
    """[hashed n-gram features | static_scale * static embedding] of each text (CSR, float64)."""
    n = len(texts)
    rows, cols, vals, wdoc, wh = featurizer.transform_norms([normalize(t) for t in texts])
    ngram = sp.csr_matrix((vals.astype(np.float64), (rows, cols)), shape=(n, 1 << featurizer.bits))
    ngram.sum_duplicates()
    doc, idx, val = vocab.mean_matrix(wdoc, wh, n)
    mean = sp.csr_matrix((val, (doc, idx)), shape=(n, len(vocab.hashes)))
    static = np.asarray(mean @ vectors.astype(np.float64)) * static_scale
    return sp.hstack([ngram, sp.csr_matrix(static)], format="csr")


def fit(texts: Sequence[str], labels: Sequence[int], featurizer: Featurizer, words: Sequence[str],
        vectors: np.ndarray, word_weights: np.ndarray, static_scale: float, c: float, max_iter: int,
        tol: float, sample_weight: np.ndarray | None = None, prune: float = 0.0) -> SentimentModel:
    """Fit on the texts; ``vectors[i]`` is the teacher's vector of ``words[i]``; hashed feature rows
    whose largest weight is below ``prune`` are zeroed."""
    from sklearn.linear_model import LogisticRegression

    keys, first = vocab_hashes(words)
    vec = np.asarray(vectors, np.float64)[first]
    vocab = StaticVocab(keys, np.asarray(word_weights, np.float32)[first].astype(np.float16).astype(np.float32),
                        np.zeros((len(keys), 3), np.float32))
    x = design(texts, featurizer, vocab, vec, static_scale)
    lr = LogisticRegression(C=c, max_iter=max_iter, tol=tol, class_weight="balanced", solver="lbfgs")
    lr.fit(x, np.asarray(labels, np.int64), sample_weight=sample_weight)
    d = 1 << featurizer.bits
    weights = lr.coef_[:, :d].T
    weights = np.where(np.abs(weights).max(axis=1, keepdims=True) < prune, 0.0, weights)
    weights = weights.astype(np.float16).astype(np.float32)
    vocab.logits = (static_scale * vec @ lr.coef_[:, d:].T).astype(np.float16).astype(np.float32)
    bias = lr.intercept_.astype(np.float32)
    return SentimentModel(featurizer, weights, bias, {"iterations": int(np.max(lr.n_iter_))}, vocab)
