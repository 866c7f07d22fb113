"""Cross-lingual topics with stable ids (docs/topics.md).

Not a default step; ``hubbub enrich --steps topic`` runs the ``embed`` step first (incrementally)
and reads its vectors. Phases of a run with posts to do:

- prepare: load the workspace's topic model (``topic_models``/``topics``) or, when there is none
  for this step version, fit one on a seeded sample of up to ``sample_size`` embedded posts;
- per batch: each post gets the nearest topic (``topic_id``) and its similarity (``topic_score``),
  or -1 when below the model's threshold (``topic_score`` null when the post has no embedding);
- finish: when the outliers reach ``3 x min_topic_size``, only they are clustered; their tight
  clusters become new topics, numbered after the largest id, and the outliers close to them move
  there. Then every topic's size is recounted. Existing ids and assignments never change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.enrich.topics import tables
from hubbub.enrich.topics.fit import TopicParams, fit_topics, new_topics
from hubbub.enrich.topics.model import OUTLIER, assign
from hubbub.store.store import Store

_STREAM_BATCH = 50_000  # outliers re-assigned per query in the finish phase


class TopicStep(Step):
    name = "topic"
    version = "1"
    default = False
    reads = ()
    requires = ("embed",)
    joins = (("enrich_embed", ("embedding",)),)
    schema = pa.schema([("topic_id", pa.int32()), ("topic_score", pa.float32())])
    description = "cross-lingual topic (stable ids; -1 = outlier) and similarity to it"

    def __init__(self, params: TopicParams | None = None) -> None:
        self.topic_params = params or TopicParams()
        self.centroids = np.zeros((0, 0), np.float32)
        self.topic_ids = np.zeros(0, np.int32)
        self.threshold = 1.0

    @property
    def model_id(self) -> str:
        return f"topic-{self.version}"

    def model(self) -> dict[str, str]:
        return {"name": "hubbub topics: seeded k-means on projected sentence embeddings + c-TF-IDF labels",
                "model_id": self.model_id}

    def params(self) -> dict[str, Any]:
        return self.topic_params.as_dict()

    # -- prepare: the model ------------------------------------------------------------------------
    def prepare(self, store: Store, dataset: str | None, seed: int, run_id: str) -> dict[str, Any]:
        tables.ensure_tables(store)
        stored = tables.load_model(store, self.model_id)
        fitted_now = 0
        if stored is None:
            fitted_now = self._fit(store, dataset, seed, run_id)
            stored = tables.load_model(store, self.model_id)
            assert stored is not None
        self.centroids, self.topic_ids, self.threshold = stored.centroids, stored.topic_ids, stored.threshold
        return {"model_id": self.model_id, "fitted_on": fitted_now, "topics_before": int(len(stored.topic_ids))}

    def _fit(self, store: Store, dataset: str | None, seed: int, run_id: str) -> int:
        p = self.topic_params
        keys_sql = """SELECT e.platform, e.post_id FROM enrich_embed e JOIN posts p
                      ON p.platform = e.platform AND p.post_id = e.post_id
                      WHERE (? IS NULL OR p.dataset = ?) AND e.embedding IS NOT NULL"""
        sample = tables.sample_rows(store, keys_sql, [dataset, dataset], seed, p.sample_size)
        if sample.num_rows == 0:
            raise ValueError("no embedded posts to fit topics on (is there text to embed in this selection?)")
        x = tables.vectors(sample["embedding"])
        fitted = fit_topics(x, sample["text"].to_pylist(), sample["lang"].to_pylist(), seed, p)
        embed_models = sorted({m for m in sample["embed_model"].to_pylist() if m})
        with store.transaction():
            tables.write_model(store, self.model_id, self.version, seed, p.as_dict(), ", ".join(embed_models),
                               x.shape[1], fitted.threshold, fitted.cohesion, fitted.min_topic_size, len(x), run_id)
            tables.add_topics(store, self.model_id, fitted.topics, sample, run_id)
        return len(x)

    # -- per batch ---------------------------------------------------------------------------------
    def run(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        emb = batch["embedding"].combine_chunks()
        has = np.asarray(emb.is_valid().to_numpy(zero_copy_only=False), bool)
        ids = np.full(n, OUTLIER, np.int32)
        scores = np.zeros(n, np.float64)
        if has.any():
            x = tables.vectors(emb.filter(pa.array(has)))
            if self.centroids.shape[0] and x.shape[1] != self.centroids.shape[1]:
                raise ValueError(f"posts embedded with {x.shape[1]} dims but the topic model has "
                                 f"{self.centroids.shape[1]}: the embed encoder changed since the model was fitted")
            got, sc = assign(x, self.centroids, self.threshold)
            ids[has] = np.where(got >= 0, self.topic_ids[np.maximum(got, 0)], OUTLIER) if len(self.topic_ids) else got
            scores[has] = sc
        return pa.table({"topic_id": pa.array(ids, pa.int32()),
                         "topic_score": pa.array(scores.astype(np.float32), pa.float32(), mask=~has)},
                        schema=self.schema)

    # -- finish: new topics among outliers, sizes -----------------------------------------------------
    def finish(self, store: Store, dataset: str | None, seed: int, run_id: str) -> dict[str, Any]:
        stored = tables.load_model(store, self.model_id)
        assert stored is not None
        outliers_sql = f"""SELECT platform, post_id FROM {self.table}
                           WHERE topic_id = -1 AND topic_score IS NOT NULL AND step_version = ?"""
        pending = store.query(f"SELECT count(*) AS n FROM ({outliers_sql})", [self.version]).to_pylist()[0]["n"]
        added: list[int] = []
        moved = 0
        if pending >= 3 * stored.min_topic_size:
            sample = tables.sample_rows(store, outliers_sql, [self.version], seed, self.topic_params.sample_size)
            first = int(stored.topic_ids.max()) + 1 if len(stored.topic_ids) else 0
            found = new_topics(tables.vectors(sample["embedding"], stored.dim), sample["text"].to_pylist(),
                               sample["lang"].to_pylist(), seed, self.topic_params, stored.threshold,
                               stored.cohesion, stored.min_topic_size, first)
            if found:
                with store.transaction():
                    tables.add_topics(store, self.model_id, found, sample, run_id)
                    moved = self._move_outliers(store, outliers_sql, found, stored.threshold, run_id)
                added = [t.topic_id for t in found]
        with store.transaction():
            tables.update_sizes(store, self.model_id, self.table, self.version)
        return {"outliers_pending": int(pending), "new_topics": added, "outliers_moved": moved}

    def _move_outliers(self, store: Store, outliers_sql: str, found: list[Any], threshold: float, run_id: str) -> int:
        centroids = np.stack([t.centroid for t in found])
        new_ids = np.array([t.topic_id for t in found], np.int32)
        keys = store.query(f"{outliers_sql} ORDER BY platform, post_id", [self.version])
        moved = 0
        for start in range(0, keys.num_rows, _STREAM_BATCH):
            store.con.register("_k", keys.slice(start, _STREAM_BATCH))
            try:
                part = store.query("""SELECT k.platform, k.post_id, e.embedding FROM _k k JOIN enrich_embed e
                                   ON e.platform = k.platform AND e.post_id = k.post_id ORDER BY 1, 2""")
            finally:
                store.con.unregister("_k")
            got, sc = assign(tables.vectors(part["embedding"], centroids.shape[1]), centroids, threshold)
            hit = got >= 0
            if not hit.any():
                continue
            upd = pa.table({"platform": part["platform"].filter(pa.array(hit)),
                            "post_id": part["post_id"].filter(pa.array(hit)),
                            "topic_id": pa.array(new_ids[got[hit]], pa.int32()),
                            "topic_score": pa.array(sc[hit].astype(np.float32), pa.float32())})
            store.con.register("_upd", upd)
            try:
                store.con.execute(f"""UPDATE {self.table} t SET topic_id = u.topic_id, topic_score = u.topic_score,
                                  run_id = ? FROM _upd u WHERE t.platform = u.platform AND t.post_id = u.post_id""",
                                  [run_id])
            finally:
                store.con.unregister("_upd")
            moved += int(hit.sum())
        return moved


STEPS = [TopicStep()]
