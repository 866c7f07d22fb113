"""Topic evaluation on TweetTopicXL (``tweet-topic-xl/<code>/<code>_<split>.jsonl``; 19 topics,
multi-label, a topic kept when two coders agree): Hubbub's topic model and, side by side on the same
posts and the same embeddings (USE multilingual v3 through the ``embed`` step's encoder), BERTopic
with its default UMAP + HDBSCAN (UMAP seeded), fed the precomputed embeddings.

Topic modelling is unsupervised: the labels are only used for scoring. Scores per language and
pooled over the four languages (the cross-lingual case), on the named split and on every labelled
row at hand (train + validation):

- ``nmi_single`` / ``ari_single``: against the topic of the rows with exactly one topic;
- ``nmi_first`` / ``ari_first``: every row against its first topic in the source's label order
  (the files keep only the agreed topics, not the coders' votes, so this stands in for the
  coders' majority label);
- outliers (-1) count as one more cluster, as BERTopic reports them;
- ``assigned``: share of posts in a topic; ``topics``: number of topics; ``stopword_labels``:
  topics whose keywords hold a stop word (``hubbub.text.tokens.is_stopword`` in the keyword's
  language; for BERTopic the set's language, or any language when pooled).

Both systems get the same minimum topic size, relative to the number of posts n:
``hubbub.enrich.topics.fit.default_min_topic_size(n)`` (half of sqrt(n / 2), at least 5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hubbub.enrich.topics.fit import TopicParams, default_min_topic_size, fit_topics, new_topics
from hubbub.enrich.topics.model import OUTLIER
from hubbub.eval.files import need
from hubbub.text.tokens import is_stopword

LANGUAGES = {"en": "en", "es": "es", "gr": "el", "ja": "ja"}
LABELLED_SPLITS = ("train", "validation")
_SPLIT = {"validation": "validation", "val": "validation", "train": "train", "test": "test"}


def read_rows(data_dir: Path, code: str, split: str) -> list[dict[str, Any]]:
    path = need(Path(data_dir) / "tweet-topic-xl" / code / f"{code}_{split}.jsonl", "topic evaluation data")
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                d = json.loads(line)
                rows.append({"text": str(d["text"]), "topics": list(d["topics"]), "lang": LANGUAGES[code]})
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{i}: not a TweetTopicXL row ({e})") from None
    return rows


def hubbub_topics(x: np.ndarray, texts: list[str], langs: list[str], seed: int) -> tuple[np.ndarray, list[dict]]:
    """What the ``topic`` step's first run gives these posts: fit, then new topics among outliers."""
    params = TopicParams()
    fitted = fit_topics(x, texts, langs, seed, params)
    ids = fitted.assigned.copy()
    topics = list(fitted.topics)
    out = np.flatnonzero(ids == OUTLIER)
    if len(out) >= 3 * fitted.min_topic_size:
        found = new_topics(x[out], [texts[i] for i in out], [langs[i] for i in out], seed, params,
                           fitted.threshold, fitted.cohesion, fitted.min_topic_size, len(topics))
        if found:
            from hubbub.enrich.topics.model import assign

            got, _ = assign(x[out], np.stack([t.centroid for t in found]), fitted.threshold)
            ids[out] = np.where(got >= 0, got + len(topics), OUTLIER)
            topics += found
    return ids, [{"label": t.words.label, "keywords_by_lang": t.words.keywords_by_lang} for t in topics]


def bertopic_topics(x: np.ndarray, texts: list[str], seed: int, min_size: int) -> tuple[np.ndarray, list[dict]]:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    model = BERTopic(embedding_model=None, min_topic_size=min_size,
                     umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed),
                     hdbscan_model=HDBSCAN(min_cluster_size=min_size, metric="euclidean",
                                           cluster_selection_method="eom", prediction_data=True))
    ids, _ = model.fit_transform(texts, embeddings=x)
    info = model.get_topic_info()
    labels = []
    for t, name in zip(info["Topic"], info["Name"], strict=True):
        if t != -1:
            labels.append({"label": name, "keywords_by_lang": {"": [w for w, _ in model.get_topic(t) or []]}})
    return np.asarray(ids), labels


def scores(ids: np.ndarray, rows: list[dict[str, Any]], labels: list[dict], lang: str | None) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    single = np.array([len(r["topics"]) == 1 for r in rows])
    first = np.array([r["topics"][0] if r["topics"] else "" for r in rows])
    stop = sum(any(is_stopword(w, (lg or lang) or None) for lg, words in t["keywords_by_lang"].items() for w in words)
               for t in labels)
    return {"nmi_single": float(normalized_mutual_info_score(first[single], ids[single])),
            "ari_single": float(adjusted_rand_score(first[single], ids[single])),
            "nmi_first": float(normalized_mutual_info_score(first, ids)),
            "ari_first": float(adjusted_rand_score(first, ids)),
            "assigned": float(np.mean(ids != OUTLIER)), "topics": len(labels), "stopword_labels": stop,
            "example_label": labels[0]["label"] if labels else ""}


def evaluate_topics(data_dir: Path, split: str = "validation", limit: int | None = None, seed: int = 0
                    ) -> dict[str, Any]:
    """Hubbub vs BERTopic per language and pooled, on ``split`` and on all labelled rows."""
    from hubbub.enrich.steps.embed import EmbedStep

    if split not in _SPLIT:
        raise ValueError(f"unknown split {split!r}; choose from validation, train, test")
    groups = {_SPLIT[split]: [_SPLIT[split]], "train+validation": list(LABELLED_SPLITS)}
    data = {(g, code): [r for s in splits for r in read_rows(data_dir, code, s)[:limit]]
            for g, splits in groups.items() for code in LANGUAGES}
    embed = EmbedStep()
    embed.setup(seed)
    cache: dict[str, np.ndarray] = {}
    out_rows = []
    examples: dict[str, Any] = {}
    for group in groups:
        sets = [(code, data[(group, code)]) for code in LANGUAGES] + [
            ("pooled", [r for code in LANGUAGES for r in data[(group, code)]])]
        for code, rows in sets:
            texts = [r["text"] for r in rows]
            missing = sorted({t for t in texts if t not in cache})
            for t, v in zip(missing, embed.encode(missing), strict=True):
                cache[t] = v if v is not None else np.zeros(embed.encoder.dim, np.float32)
            x = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, embed.encoder.dim), np.float32)
            lang = None if code == "pooled" else LANGUAGES[code]
            langs = [r["lang"] for r in rows]
            min_size = default_min_topic_size(len(rows))
            h_ids, h_labels = hubbub_topics(x, texts, langs, seed)
            b_ids, b_labels = bertopic_topics(x, texts, seed, min_size)
            for system, ids, labels in (("hubbub", h_ids, h_labels), ("bertopic", b_ids, b_labels)):
                out_rows.append({"rows": group, "set": code, "n": len(rows), "system": system,
                                 **scores(ids, rows, labels, lang)})
            if group == "train+validation":
                examples[code] = {"hubbub": [t["label"] for t in h_labels[:5]],
                                  "bertopic": [t["label"] for t in b_labels[:5]]}
    return {"task": "topics", "split": split, "rows": out_rows, "embedding": embed.model_label,
            "params": {**TopicParams().as_dict(), "seed": seed, "bertopic": "UMAP(n_neighbors=15, n_components=5, "
                       "min_dist=0, cosine, random_state=seed) + HDBSCAN(min_cluster_size=min_size, eom)"},
            "example_labels": examples, "limit": limit}
