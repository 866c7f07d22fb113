"""Multiple-testing correction shared by the analyses (spikes, topic evolution, coordination's null model)."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) in the order of ``p``, by scipy's
    ``false_discovery_control``; NaN (no test) stays NaN and is not counted among the tests."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q
