"""Vectorised 64-bit hashing shared by the steps that hash text features (language id, sentiment,
near-duplicate shingles): one definition of the mixer and of the rolling-hash multiplier."""

from __future__ import annotations

import numpy as np

FNV_PRIME = np.uint64(0x100000001B3)  # multiplier of the rolling n-gram hashes
GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / phi, the usual salt / increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise over uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))
