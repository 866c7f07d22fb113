"""Sentiment (negative / neutral / positive) in any language, from a small linear model that Hubbub
trains itself (``scripts/train_sentiment.py``) and ships in ``hubbub/enrich/models/sentiment.hbsm``.

Two blocks of features, one multinomial logistic regression (scikit-learn, at training time):

- hashed features (no vocabulary file): word unigrams and bigrams (hashtags count both as ``#tag`` and
  ``tag``; emoji and punctuation marks are words of their own) and character 2..5-grams of the
  normalised text (lower case, links -> ``http``, mentions -> ``@user``, a letter repeated three
  times or more -> twice); each family L2-normalised per post;
- static token embeddings distilled from USE multilingual v3 (the model2vec method: every vocabulary
  word encoded once by the teacher; a post's vector is the mean of its known words' vectors), folded
  into 3 class scores per word (``StaticVocab``), so the teacher is not needed at run time. They
  carry what the teacher knows about words the labelled data never showed (``gut`` ~ ``good``).

Everything is numpy: thousands of posts per second. Output: ``sentiment`` (``negative``,
``neutral``, ``positive``; null for a post without text) and ``sentiment_score`` = P(positive) -
P(negative), in [-1, 1] (null without text).

``VaderSentimentStep`` (``sentiment_vader``, not a default step) is VADER for English posts, for
comparison: ``sentiment_score`` is VADER's compound score, classes cut at +-0.05 as VADER advises.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step

LABELS = ("negative", "neutral", "positive")
# Abstention: added to the neutral class's score, so a post is called negative or positive only when
# that class is clearly more likely; chosen on the validation splits (docs/enrich.md).
NEUTRAL_MARGIN = 0.2
FEATURES_VERSION = "1"
MAGIC = b"HBSM2\n"

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")  # literal \uXXXX left in some corpora
_URL = re.compile(r"https?://\S+|www\.\S+|\bhttps?\b", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")
_INVISIBLE = re.compile("[\0\ufe0e\ufe0f\u200b\u2060]")
_TOKEN = re.compile(r"#?[^\W_][\w\u0300-\u036f\u064b-\u065f\u0900-\u0dff\u200c\u200d'’]*|[^\w\s]")

_U64 = np.uint64
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_ROLL = _U64(0x100000001B3)
_SALT_WORD = _U64(0x9E3779B97F4A7C15)
_SALT_BIGRAM = _U64(0xD6E8FEB86659FD93)
_SALT_CHAR = _U64(0xA0761D6478BD642F)


def normalize(text: str | None) -> str:
    """Lower-cased text with links as ``http``, mentions as ``@user`` and long letter runs cut to two."""
    if not text:
        return ""
    t = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\u" in text else text
    t = html.unescape(t) if "&" in t else t
    t = _INVISIBLE.sub("", t.lower())
    t = _URL.sub(" http ", t)
    t = _MENTION.sub(" @user ", t)
    t = _REPEAT.sub(r"\1\1", t)
    return _SPACE.sub(" ", t).strip()


def tokens(norm: str) -> list[str]:
    """Word tokens of a normalised text: words, ``#tags`` (and the bare tag), emoji, punctuation marks."""
    out = []
    for tok in _TOKEN.findall(norm):
        out.append(tok)
        if tok[0] == "#" and len(tok) > 1:
            out.append(tok[1:])
    return out


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64, wrapping)."""
    x = (x ^ (x >> _U64(30))) * _M1
    x = (x ^ (x >> _U64(27))) * _M2
    return x ^ (x >> _U64(31))


@dataclass(frozen=True)
class Featurizer:
    """Hashed word 1-2-gram + char n-gram features; ``transform`` gives sparse COO triples."""

    bits: int = 20
    char_min: int = 2
    char_max: int = 5
    word_weight: float = 1.0
    char_weight: float = 1.0

    def params(self) -> dict[str, Any]:
        return {"features_version": FEATURES_VERSION, "bits": self.bits, "char_min": self.char_min,
                "char_max": self.char_max, "word_weight": self.word_weight, "char_weight": self.char_weight}

    def words(self, norms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(post, crc32 hash) of every word token of the normalised texts, in order."""
        lens: list[int] = []
        hashes: list[int] = []
        for n in norms:
            toks = tokens(n)
            lens.append(len(toks))
            hashes.extend(zlib.crc32(t.encode("utf-8")) for t in toks)
        wdoc = np.repeat(np.arange(len(norms), dtype=np.int64), np.asarray(lens, np.int64))
        return wdoc, np.asarray(hashes, np.uint64)

    def transform(self, texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value) of each feature occurrence; a post's rows depend on that post only."""
        return self.transform_norms([normalize(t) for t in texts])[:3]

    def transform_norms(self, norms: Sequence[str]
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``transform`` of normalised texts, plus the word tokens' (post, hash) for the static vocabulary."""
        shift = _U64(64 - self.bits)
        # word unigrams and bigrams
        wdoc, wh = self.words(norms)
        same = wdoc[1:] == wdoc[:-1] if len(wdoc) else np.zeros(0, bool)
        bi = (wh[:-1] * _ROLL + wh[1:])[same] if len(wh) else np.zeros(0, np.uint64)
        w_cols = np.concatenate([_mix(wh ^ _SALT_WORD), _mix(bi ^ _SALT_BIGRAM)]) >> shift
        w_rows = np.concatenate([wdoc, wdoc[1:][same]])
        # character n-grams, over all posts at once ("\0" separates posts)
        padded = "\0".join(f" {n} " for n in norms)
        cp = np.frombuffer(padded.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        sep = np.concatenate([[0], np.cumsum(cp == 0)])  # separators before position i
        doc_of = sep[:-1]
        c_rows, c_cols = [], []
        h = cp.copy()
        for n in range(1, self.char_max + 1):
            if n > 1:
                h = h[:-1] * _ROLL + cp[n - 1:]
            if n < self.char_min:
                continue
            k = len(h)
            ok = (sep[n:n + k] - sep[:k]) == 0
            c_rows.append(doc_of[:k][ok])
            c_cols.append(_mix(h[ok] ^ (_SALT_CHAR + _U64(n))) >> shift)
        c_rows_a = np.concatenate(c_rows) if c_rows else np.zeros(0, np.int64)
        c_cols_a = np.concatenate(c_cols) if c_cols else np.zeros(0, np.uint64)
        rows = np.concatenate([w_rows, c_rows_a]).astype(np.int64)
        cols = np.concatenate([w_cols, c_cols_a]).astype(np.int64)
        vals = np.concatenate([self._norm(w_rows, len(norms), self.word_weight),
                               self._norm(c_rows_a, len(norms), self.char_weight)])
        return rows, cols, vals, wdoc, wh

    @staticmethod
    def _norm(rows: np.ndarray, n_docs: int, weight: float) -> np.ndarray:
        counts = np.bincount(rows, minlength=n_docs).astype(np.float32)
        return (weight / np.sqrt(np.maximum(counts, 1.0)))[rows].astype(np.float32)


@dataclass
class StaticVocab:
    """Static token embeddings (model2vec method), already multiplied by the classifier.

    Each vocabulary word was encoded once by a multilingual sentence encoder (the teacher); a post's
    static embedding is the weighted mean of its known words' vectors, and since the classifier is
    linear in it, each word ships only its 3 class scores (``logits``) and its weight: the post's score
    is ``sum(weight * logits) / sum(weight)`` over its known words (0 when it has none). Words are
    keyed by the crc32 of the token, as in ``Featurizer.words``.
    """

    hashes: np.ndarray  # (V,) uint64, sorted, distinct
    weights: np.ndarray  # (V,) float32
    logits: np.ndarray  # (V, 3) float32

    @classmethod
    def empty(cls) -> StaticVocab:
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.float32), np.zeros((0, 3), np.float32))

    def lookup(self, wh: np.ndarray) -> np.ndarray:
        """Vocabulary index of each hash, -1 where unknown."""
        if not len(self.hashes) or not len(wh):
            return np.full(len(wh), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.hashes, wh), len(self.hashes) - 1)
        return np.where(self.hashes[pos] == wh, pos, -1)

    def mean_matrix(self, wdoc: np.ndarray, wh: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(post, vocabulary index, value) of the weighted-mean operator (rows sum to 1 or are empty)."""
        idx = self.lookup(wh)
        hit = idx >= 0
        doc, idx = wdoc[hit], idx[hit]
        w = self.weights[idx].astype(np.float64)
        tot = np.bincount(doc, weights=w, minlength=n)
        return doc, idx, w / np.where(tot > 0, tot, 1.0)[doc]

    def scores(self, wdoc: np.ndarray, wh: np.ndarray, n: int) -> np.ndarray:
        doc, idx, val = self.mean_matrix(wdoc, wh, n)
        z = np.zeros((n, 3), np.float64)
        for k in range(3):
            z[:, k] = np.bincount(doc, weights=val * self.logits[idx, k], minlength=n)
        return z


@dataclass
class SentimentModel:
    featurizer: Featurizer
    weights: np.ndarray  # (2**bits, 3) float32
    bias: np.ndarray  # (3,) float32
    meta: dict[str, Any] = field(default_factory=dict)
    static: StaticVocab = field(default_factory=StaticVocab.empty)

    def scores(self, texts: Sequence[str | None]) -> np.ndarray:
        rows, cols, vals, wdoc, wh = self.featurizer.transform_norms([normalize(t) for t in texts])
        n = len(texts)
        z = self.static.scores(wdoc, wh, n)
        z[:, 1] += NEUTRAL_MARGIN
        for k in range(3):
            z[:, k] += np.bincount(rows, weights=vals * self.weights[cols, k], minlength=n) + self.bias[k]
        return z

    def predict_proba(self, texts: Sequence[str | None]) -> np.ndarray:
        return softmax(self.scores(texts))

    def predict(self, texts: Sequence[str | None]) -> list[str]:
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1)]

    # -- artifact: MAGIC, u32 length, JSON metadata, then zlib-compressed arrays: n-gram weights (f16),
    # bias (f32), static vocabulary hashes (u32), word weights (f16), word class scores (f16) --
    def to_bytes(self) -> bytes:
        meta = dict(self.meta, featurizer=self.featurizer.params(), labels=list(LABELS),
                    weights_dtype="float16", weights_shape=list(self.weights.shape),
                    static_vocabulary=len(self.static.hashes))
        meta.pop("sha256", None)
        head = json.dumps(meta, sort_keys=True, ensure_ascii=False).encode("utf-8")
        body = zlib.compress(b"".join([
            np.ascontiguousarray(self.weights, "<f2").tobytes(), np.ascontiguousarray(self.bias, "<f4").tobytes(),
            np.ascontiguousarray(self.static.hashes, "<u4").tobytes(),
            np.ascontiguousarray(self.static.weights, "<f2").tobytes(),
            np.ascontiguousarray(self.static.logits, "<f2").tobytes()]), 9)
        return MAGIC + struct.pack("<I", len(head)) + head + body

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        if not data.startswith(MAGIC):
            raise ValueError("not a Hubbub sentiment model (or one of an older format: retrain it)")
        (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
        start = len(MAGIC) + 4
        meta = json.loads(data[start:start + hlen].decode("utf-8"))
        body = zlib.decompress(data[start + hlen:])
        fp = meta.pop("featurizer")
        if fp.pop("features_version") != FEATURES_VERSION:
            raise ValueError("sentiment model was built for another feature version")
        shape = tuple(meta["weights_shape"])
        v = int(meta.get("static_vocabulary", 0))
        sizes = [(int(np.prod(shape)), "<f2"), (3, "<f4"), (v, "<u4"), (v, "<f2"), (v * 3, "<f2")]
        arrays, pos = [], 0
        for count, dt in sizes:
            nbytes = count * np.dtype(dt).itemsize
            arrays.append(np.frombuffer(body[pos:pos + nbytes], dt))
            pos += nbytes
        weights = arrays[0].reshape(shape).astype(np.float32)
        static = StaticVocab(arrays[2].astype(np.uint64), arrays[3].astype(np.float32),
                             arrays[4].reshape(v, 3).astype(np.float32))
        meta["sha256"] = hashlib.sha256(data).hexdigest()
        return cls(Featurizer(**fp), weights, arrays[1].astype(np.float32), meta, static)

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path | None = None) -> SentimentModel:
        return cls.from_bytes((path or MODEL_PATH).read_bytes())


MODEL_FILE = "sentiment.hbsm"
MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / MODEL_FILE


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------


class SentimentStep(Step):
    name = "sentiment"
    version = "2"
    reads = ("text",)
    schema = pa.schema([("sentiment", pa.string()), ("sentiment_score", pa.float32())])
    description = "sentiment (negative/neutral/positive) and P(positive) - P(negative), any language"

    def __init__(self) -> None:
        self._model: SentimentModel | None = None

    def _loaded(self) -> SentimentModel:
        if self._model is None:
            self._model = SentimentModel.load()
        return self._model

    def model(self) -> dict[str, str]:
        m = self._loaded()
        return {"name": f"hubbub n-gram + static-embedding logistic regression ({MODEL_FILE})",
                "version": str(m.meta.get("model_version", "")), "sha256": m.meta.get("sha256", "")}

    def params(self) -> dict[str, Any]:
        return {"score": "P(positive) - P(negative)", "neutral_margin": NEUTRAL_MARGIN,
                **self._loaded().featurizer.params()}

    def setup(self, seed: int) -> None:
        self._loaded()

    def run(self, batch: pa.Table) -> pa.Table:
        texts = batch["text"].to_pylist()
        has = [bool(t and t.strip()) for t in texts]
        p = self._loaded().predict_proba(texts)
        best = p.argmax(axis=1)
        score = (p[:, 2] - p[:, 0]).astype(np.float32)
        return pa.table({"sentiment": pa.array([LABELS[b] if h else None for b, h in zip(best, has, strict=True)],
                                               pa.string()),
                         "sentiment_score": pa.array(score, pa.float32(), mask=~np.asarray(has, bool))},
                        schema=self.schema)


class VaderSentimentStep(Step):
    """VADER (English only), for comparison; needs ``vaderSentiment``."""

    name = "sentiment_vader"
    version = "1"
    default = False
    reads = ("text",)
    schema = pa.schema([("sentiment", pa.string()), ("sentiment_score", pa.float32())])
    description = "VADER sentiment (English only) and its compound score"

    def __init__(self) -> None:
        self._analyzer: Any = None

    def model(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"name": "VADER (vaderSentiment)", "version": version("vaderSentiment")}

    def params(self) -> dict[str, Any]:
        return {"threshold": 0.05}

    def setup(self, seed: int) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def classify(self, texts: Sequence[str | None]) -> list[tuple[str | None, float | None]]:
        if self._analyzer is None:
            self.setup(0)
        out: list[tuple[str | None, float | None]] = []
        for t in texts:
            if not (t and t.strip()):
                out.append((None, None))
                continue
            c = float(self._analyzer.polarity_scores(t)["compound"])
            out.append(("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral", c))
        return out

    def run(self, batch: pa.Table) -> pa.Table:
        out = self.classify(batch["text"].to_pylist())
        return pa.table({"sentiment": pa.array([o[0] for o in out], pa.string()),
                         "sentiment_score": pa.array([o[1] for o in out], pa.float32())}, schema=self.schema)


STEPS = [SentimentStep(), VaderSentimentStep()]
