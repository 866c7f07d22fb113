"""Near-duplicate keys: a normalised-text hash (exact duplicates) and MinHash + LSH band keys
(near duplicates: copypasta, templated posts), for ``hubbub.enrich.clusters`` to cluster.

Normalisation (``normalise``), the same for every script: NFKC, casefold, the ``RT`` prefix,
links, @mentions (stored as ``@acct_...``), ``#`` signs, punctuation, symbols and emoji removed,
every run of digits (any script) made one ``0``, whitespace collapsed. The text is then cut into
*character* 5-grams (spaces included), so languages written without spaces (Chinese, Japanese,
Thai, ...) need no word segmenter.

MinHash: each 5-gram is hashed to 64 bits (a rolling polynomial hash over its code points,
finalised with splitmix64), then ``NUM_PERM`` hash functions ``h_i(x) = a_i * x + b_i mod 2**64``
with ``a_i`` (odd) and ``b_i`` drawn from the run seed; the signature keeps the top 32 bits of
each minimum. All of it is numpy over a whole batch at once, identical normalised texts once:
about 35,000 posts/s on one core for IRA tweets. LSH: the signature is cut into ``BANDS`` bands
of ``ROWS`` rows; each band's rows are hashed, with a salt of the band's own, into one int64 key.
Two texts of Jaccard similarity J share at least one key with probability
``1 - (1 - J**ROWS)**BANDS``: with 32 x 4, 0.23 at J=0.3, 0.56 at 0.4, 0.87 at 0.5, 0.99 at 0.6,
1.00 from 0.7 (the analysis then checks each candidate pair on the signatures).

Columns: ``nd_text_hash`` (int64 of blake2b of the normalised text, seed-independent; NULL when
nothing is left after normalisation), ``nd_len`` (normalised length in code points),
``nd_minhash`` (``NUM_PERM`` little-endian uint32, as bytes) and ``nd_band_keys`` (``BANDS``
int64); both NULL for texts shorter than ``MIN_CHARS`` normalised characters, which can only be
exact duplicates. Signatures and band keys depend on the seed: compare only posts enriched with
the same seed (the analysis checks).
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.privacy import MENTION_PATTERN
from hubbub.text.hashing import FNV_PRIME, GOLDEN, splitmix64

SHINGLE = 5  # characters per shingle
NUM_PERM = 128
BANDS = 32
ROWS = 4
MIN_CHARS = 20  # normalised characters needed for a signature
NORM_VERSION = 1
_CHUNK = 8192  # shingles per block of the (permutations x shingles) matrix

_LINK_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|" + MENTION_PATTERN)
_RT = re.compile(r"^\s*rt\b\s*:?\s*")
_ZEROS = re.compile(r"00+")

_GOLD = GOLDEN
_POLY = FNV_PRIME  # multiplier of the rolling shingle hash


@cache
def _drop_table() -> dict[int, int]:
    """str.translate table: decimal digits of any script become ``0``; punctuation, symbols (emoji
    and their skin tones included), separators, control, format and surrogate code points,
    enclosing marks and variation selectors become spaces. Other marks (Mn, Mc: vowel signs in
    Indic scripts and Thai, Arabic harakat) are kept."""
    table: dict[int, int] = {}
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        if cat == "Nd":
            table[cp] = 0x30
        elif (cat[0] in "PSZ" or cat in ("Cc", "Cf", "Cs", "Me")
              or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF):
            table[cp] = 0x20
    return table


def normalise(text: str | None) -> str:
    """The text compared for duplicates (see the module docstring)."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).casefold()
    if t.lstrip().startswith("rt"):
        t = _RT.sub("", t, count=1)
    t = _LINK_OR_MENTION.sub(" ", t).translate(_drop_table())
    if "00" in t:
        t = _ZEROS.sub("0", t)
    return " ".join(t.split())


def text_hash(norm: str) -> int:
    """Exact-duplicate key: the first 8 bytes of blake2b of the normalised text, as int64."""
    d = hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(d, "little", signed=True)


def shingle_hashes(texts: list[str], salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character SHINGLE-gram of every text (each at least SHINGLE long),
    and the start of each text's run in that array."""
    lens = np.fromiter((len(t) for t in texts), np.int64, len(texts))
    cp = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32).astype(np.uint64)
    total = cp.size
    n = total - SHINGLE + 1
    h = cp[:n].copy()
    with np.errstate(over="ignore"):
        for j in range(1, SHINGLE):
            h *= _POLY
            h ^= cp[j:j + n]
        h = splitmix64(h ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF))
    counts = lens - SHINGLE + 1
    text_start = np.concatenate(([0], np.cumsum(lens)[:-1]))
    out_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    # index of each kept shingle in h: its text's start plus its position in the text
    idx = np.repeat(text_start - out_start, counts) + np.arange(int(counts.sum()))
    return h[idx], out_start


class MinHasher:
    def __init__(self, seed: int, num_perm: int = NUM_PERM, bands: int = BANDS, rows: int = ROWS) -> None:
        if bands * rows != num_perm:
            raise ValueError("bands * rows must equal num_perm")
        rng = np.random.default_rng([0x6E64, seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF])
        draw = rng.integers(0, 2**64, size=(3, num_perm), dtype=np.uint64, endpoint=False)
        self.a = draw[0] | np.uint64(1)
        self.b = draw[1]
        self.band_salt = draw[2][:bands]
        self.salt = int(rng.integers(0, 2**63))
        self.num_perm, self.bands, self.rows = num_perm, bands, rows

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32 MinHash signatures of texts at least SHINGLE long."""
        if any(len(t) < SHINGLE for t in texts):
            raise ValueError(f"texts need at least {SHINGLE} characters for a signature")
        if not texts:
            return np.empty((0, self.num_perm), np.uint32)
        hs, starts = shingle_hashes(texts, self.salt)
        acc = np.full((self.num_perm, len(texts)), np.iinfo(np.uint64).max, np.uint64)
        buf = np.empty((self.num_perm, _CHUNK), np.uint64)  # reused: fresh big arrays cost page faults
        with np.errstate(over="ignore"):
            # blocks of _CHUNK shingles, cut anywhere: a text spread over blocks takes the min of its parts.
            # Permutations x shingles, because numpy reduces along the last axis much faster.
            for s0 in range(0, hs.size, _CHUNK):
                s1 = min(hs.size, s0 + _CHUNK)
                block = buf[:, :s1 - s0]
                np.multiply(self.a[:, None], hs[None, s0:s1], out=block)
                block += self.b[:, None]
                t0 = int(np.searchsorted(starts, s0, side="right")) - 1
                t1 = int(np.searchsorted(starts, s1 - 1, side="right"))
                seg = np.maximum(starts[t0:t1], s0) - s0
                part = acc[:, t0:t1]
                np.minimum(part, np.minimum.reduceat(block, seg, axis=1), out=part)
        return (acc.T >> np.uint64(32)).astype(np.uint32)

    def band_keys(self, sig: np.ndarray) -> np.ndarray:
        """(n, bands) int64 LSH keys: each band's rows hashed with the band's salt."""
        x = sig.reshape(len(sig), self.bands, self.rows).astype(np.uint64)
        k = np.broadcast_to(self.band_salt, (len(sig), self.bands)).copy()
        with np.errstate(over="ignore"):
            for r in range(self.rows):
                k = splitmix64((k + _GOLD) ^ x[:, :, r])
        return k.view(np.int64)


class NeardupStep(Step):
    name = "neardup"
    version = "1"
    reads = ("text",)
    schema = pa.schema([("nd_text_hash", pa.int64()), ("nd_len", pa.int32()), ("nd_minhash", pa.binary()),
                        ("nd_band_keys", pa.list_(pa.int64()))])
    description = "near-duplicate keys: normalised-text hash, MinHash signature, LSH band keys"

    def __init__(self) -> None:
        self._hasher: MinHasher | None = None

    def model(self) -> dict[str, str]:
        return {"name": "MinHash over character shingles + LSH (numpy)", "version": f"norm{NORM_VERSION}"}

    def params(self) -> dict[str, Any]:
        return {"shingle": SHINGLE, "num_perm": NUM_PERM, "bands": BANDS, "rows": ROWS, "min_chars": MIN_CHARS,
                "normalisation": NORM_VERSION}

    def setup(self, seed: int) -> None:
        self._hasher = MinHasher(seed)
        _drop_table()

    def run(self, batch: pa.Table) -> pa.Table:
        if self._hasher is None:
            self.setup(0)
        hasher = self._hasher
        assert hasher is not None
        n = batch.num_rows
        # identical normalised texts are hashed once
        uniq: dict[str, int] = {}
        which = np.fromiter((uniq.setdefault(normalise(t), len(uniq)) for t in batch["text"].to_pylist()),
                            np.int64, n)
        norms = list(uniq)
        ulen = np.fromiter((len(t) for t in norms), np.int64, len(norms))
        uhash = np.fromiter((text_hash(t) for t in norms), np.int64, len(norms))
        long_ = np.flatnonzero(ulen >= MIN_CHARS)
        sig = hasher.signatures([norms[i] for i in long_])
        keys = hasher.band_keys(sig)
        slot = np.full(len(norms), -1, np.int64)  # row in sig of each unique text, -1 when short
        slot[long_] = np.arange(len(long_))

        rows = slot[which]
        has = rows >= 0
        lens = ulen[which]
        sig_rows = sig[rows[has]]
        width = hasher.num_perm * 4
        sig_off = np.concatenate(([0], np.cumsum(np.where(has, width, 0)))).astype(np.int32)
        minhash = pa.Array.from_buffers(pa.binary(), n, [pa.array(has).buffers()[1], pa.py_buffer(sig_off),
                                                         pa.py_buffer(sig_rows.astype("<u4").tobytes())],
                                        null_count=int(n - has.sum()))
        key_off = np.concatenate(([0], np.cumsum(np.where(has, hasher.bands, 0)))).astype(np.int32)
        band = pa.ListArray.from_arrays(pa.array(key_off), pa.array(keys[rows[has]].ravel(), pa.int64()),
                                        mask=pa.array(~has))
        return pa.table({
            "nd_text_hash": pa.array(uhash[which], pa.int64(), mask=lens == 0),
            "nd_len": pa.array(lens.astype(np.int32), pa.int32()),
            "nd_minhash": minhash,
            "nd_band_keys": band,
        }, schema=self.schema)


STEPS = [NeardupStep()]
