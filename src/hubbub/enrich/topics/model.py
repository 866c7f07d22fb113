"""Topic model over unit-length sentence embeddings: fit on a bounded sample, assign in batches.

Fit (``cluster``): centre the sample, project it on its top ``reduce_dims`` principal axes (an
eigen-decomposition of the ``dim x dim`` covariance, exact and deterministic), re-normalise and
run k-means (``k = ceil(sqrt(2 n))``, at most ``max_topics``; seeded; one start of at most 50
iterations above 10,000 posts). A topic's centroid is the
normalised mean of its members' *original* embeddings, so assignment needs no projection.

Assign (``assign``): cosine similarity to every centroid; the nearest wins, unless its similarity
is below the model's ``threshold`` (calibrated on the sample as the ``outlier_quantile`` of the
members' similarity to their own centroid), which gives the outlier id -1. Scores are recomputed
in float64 per row for the two best candidates, so a post's id and score do not depend on the
other posts of its batch.

Memory: the fit holds the sample (n x dim float32) and a few same-sized temporaries; assignment
holds one batch and the centroids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

OUTLIER = -1


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) int64 topic per sample row, 0 = largest topic
    centroids: np.ndarray  # (k, dim) float32, unit length, in the original embedding space
    sims: np.ndarray  # (n,) float64 similarity of each row to its own centroid


def n_topics_for(n: int, max_topics: int) -> int:
    return max(1, min(max_topics, n, math.ceil(math.sqrt(2 * n))))


def unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1)).astype(np.float32)


def _project(x: np.ndarray, dims: int) -> np.ndarray:
    centred = x - x.mean(axis=0, dtype=np.float64).astype(np.float32)
    if x.shape[1] > dims and x.shape[0] > dims:
        cov = np.asarray(centred.T, np.float64) @ np.asarray(centred, np.float64)
        _, vecs = np.linalg.eigh(cov)
        top = vecs[:, ::-1][:, :dims]
        top *= np.sign(top[np.abs(top).argmax(axis=0), range(dims)])  # fixed sign per axis
        centred = centred @ top.astype(np.float32)
    return unit_rows(centred)


def cluster(x: np.ndarray, seed: int, max_topics: int = 300, reduce_dims: int = 128, n_init: int = 3) -> Clustering:
    """Cluster the unit rows ``x`` (n x dim float32) into topics numbered by size (0 = largest)."""
    from sklearn.cluster import KMeans

    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError("cannot fit topics: no embedded posts")
    k = n_topics_for(x.shape[0], max_topics)
    if k == 1:
        raw = np.zeros(x.shape[0], np.int64)
    else:
        big = x.shape[0] > 10_000
        km = KMeans(n_clusters=k, n_init=1 if big else n_init, random_state=seed, max_iter=50 if big else 100)
        raw = km.fit_predict(_project(x, reduce_dims)).astype(np.int64)
    sizes = np.bincount(raw, minlength=k)
    order = sorted((i for i in range(k) if sizes[i]), key=lambda i: (-sizes[i], i))
    remap = np.full(k, -1, np.int64)
    remap[order] = np.arange(len(order))
    labels = remap[raw]
    centroids = member_centroids(x, labels, len(order))
    sims = np.einsum("ij,ij->i", np.asarray(x, np.float64), np.asarray(centroids[labels], np.float64))
    return Clustering(labels, centroids, sims)


def member_centroids(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    sums = np.zeros((k, x.shape[1]), np.float64)
    np.add.at(sums, labels, x)
    return unit_rows(sums)


def calibrate(sims: np.ndarray, outlier_quantile: float) -> float:
    """The similarity below which a post is an outlier: the quantile of members' own similarities."""
    if not 0 <= outlier_quantile < 1:
        raise ValueError(f"outlier_quantile must be in [0, 1), not {outlier_quantile}")
    return float(np.round(np.quantile(sims, outlier_quantile), 6)) if len(sims) else 0.0


def assign(x: np.ndarray, centroids: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(topic ids int32 with -1 for outliers, similarity to the nearest centroid float64) per row."""
    n = x.shape[0]
    if n == 0 or centroids.shape[0] == 0:
        return np.full(n, OUTLIER, np.int32), np.zeros(n, np.float64)
    sims = x @ centroids.T
    best = sims.argmax(axis=1)
    if centroids.shape[0] == 1:
        cand = best[:, None]
    else:
        sims[np.arange(n), best] = -np.inf
        cand = np.stack([best, sims.argmax(axis=1)], axis=1)
    x64 = np.asarray(x, np.float64)
    c64 = np.asarray(centroids, np.float64)
    exact = np.stack([np.einsum("ij,ij->i", x64, c64[cand[:, j]]) for j in range(cand.shape[1])], axis=1)
    # best candidate; on an exact tie the lower id
    key = np.where(exact == exact.max(axis=1, keepdims=True), cand, np.iinfo(np.int64).max)
    best = key.min(axis=1)
    score = exact.max(axis=1)
    ids = np.where(score >= threshold, best, OUTLIER).astype(np.int32)
    return ids, score


def cohesive(clustering: Clustering, min_size: int, min_cohesion: float) -> list[int]:
    """Clusters with at least ``min_size`` members whose mean similarity to their centroid reaches
    ``min_cohesion`` (the candidates for new topics among outliers)."""
    k = clustering.centroids.shape[0]
    sizes = np.bincount(clustering.labels, minlength=k)
    mean_sim = np.bincount(clustering.labels, weights=clustering.sims, minlength=k) / np.maximum(sizes, 1)
    return [i for i in range(k) if sizes[i] >= min_size and mean_sim[i] >= min_cohesion]
