"""Fitting topics on a sample: clusters, outlier threshold, keywords, labels and representative
posts. Used by the ``topic`` step (sample drawn from the store) and by ``hubbub eval``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hubbub.enrich.topics.labels import TopicWords, topic_words
from hubbub.enrich.topics.model import OUTLIER, assign, calibrate, cluster, cohesive, member_centroids, unit_rows

REPRESENTATIVES = 3


@dataclass(frozen=True)
class TopicParams:
    sample_size: int = 50_000  # posts the model is fitted on (a seeded sample)
    max_topics: int = 300
    reduce_dims: int = 128
    outlier_quantile: float = 0.05  # share of the fit sample left as outliers
    n_init: int = 3  # k-means restarts for samples up to 10,000 posts (one above)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Topic:
    topic_id: int
    centroid: np.ndarray
    words: TopicWords
    size: int
    representatives: list[int] = field(default_factory=list)  # row numbers of the fit sample


@dataclass
class Fitted:
    topics: list[Topic]
    threshold: float  # below: outlier
    cohesion: float  # median similarity of sample members to their centroid
    min_topic_size: int  # smallest cluster of outliers that becomes a new topic
    assigned: np.ndarray  # (n,) topic id per sample row after thresholding (-1 = outlier)
    scores: np.ndarray  # (n,) similarity to the nearest centroid

    @property
    def centroids(self) -> np.ndarray:
        return np.stack([t.centroid for t in self.topics]) if self.topics else np.zeros((0, 0), np.float32)


def default_min_topic_size(n: int) -> int:
    """Half the mean size of the fitted topics (k = sqrt(2 n) gives a mean of sqrt(n / 2)), at least 5."""
    return max(5, round(0.5 * (n / 2) ** 0.5))


def fit_topics(x: np.ndarray, texts: Sequence[str | None], langs: Sequence[str | None], seed: int,
               params: TopicParams, first_id: int = 0) -> Fitted:
    """Topics of the sample ``x`` (n x dim unit float32 rows) with their posts' texts and languages."""
    x = unit_rows(np.asarray(x, np.float32))
    cl = cluster(x, seed, params.max_topics, params.reduce_dims, params.n_init)
    threshold = calibrate(cl.sims, params.outlier_quantile)
    ids, scores = assign(x, cl.centroids, threshold)
    k = cl.centroids.shape[0]
    words = topic_words(ids.tolist(), texts, langs, k)
    topics = [Topic(first_id + t, cl.centroids[t], words[t], int((ids == t).sum()), _nearest(scores, ids, t))
              for t in range(k)]
    ids = np.where(ids >= 0, ids + first_id, OUTLIER).astype(np.int32)
    return Fitted(topics, threshold, float(np.round(np.median(cl.sims), 6)), default_min_topic_size(len(x)),
                  ids, scores)


def new_topics(x: np.ndarray, texts: Sequence[str | None], langs: Sequence[str | None], seed: int,
               params: TopicParams, threshold: float, min_cohesion: float, min_size: int, first_id: int
               ) -> list[Topic]:
    """Topics among outliers: their clusters of at least ``min_size`` posts as tight as a typical
    fitted topic (mean similarity to the centroid >= ``min_cohesion``); ids from ``first_id``."""
    x = unit_rows(np.asarray(x, np.float32))
    if len(x) < min_size:
        return []
    cl = cluster(x, seed, params.max_topics, params.reduce_dims, params.n_init)
    keep = cohesive(cl, min_size, min_cohesion)
    if not keep:
        return []
    centroids = cl.centroids[keep]
    ids, scores = assign(x, centroids, threshold)
    keep = [j for j in range(len(keep)) if (ids == j).sum() >= min_size]  # enough members pass the threshold
    if not keep:
        return []
    centroids = member_centroids(x[np.isin(ids, keep)], np.searchsorted(keep, ids[np.isin(ids, keep)]), len(keep))
    ids, scores = assign(x, centroids, threshold)
    words = topic_words(ids.tolist(), texts, langs, len(keep))
    return [Topic(first_id + j, centroids[j], words[j], int((ids == j).sum()), _nearest(scores, ids, j))
            for j in range(len(keep))]


def _nearest(scores: np.ndarray, ids: np.ndarray, t: int) -> list[int]:
    rows = np.flatnonzero(ids == t)
    order = sorted(rows.tolist(), key=lambda r: (-scores[r], r))
    return order[:REPRESENTATIVES]
