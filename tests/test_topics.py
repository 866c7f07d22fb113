"""Topics: tokeniser, model, and the ``topic`` step through the runner on real TweetTopicXL posts
(stable ids when new posts arrive, determinism, labels without stop words)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import shared

from hubbub.api import Hubbub
from hubbub.enrich.registry import all_steps, default_steps
from hubbub.enrich.topics.model import OUTLIER, assign, calibrate, cluster
from hubbub.sources.tabular import mapped_source
from hubbub.text.tokens import is_stopword, tokens

MAPPING = {"format": "jsonl", "platform": "twitter", "post_id": "id", "created_at": "created_at", "text": "text",
           "lang_declared": "lang"}
LANG = {"en": "en", "es": "es", "gr": "el", "ja": "ja"}


def write_posts(path: Path, codes: list[str], per_lang: int | None = None) -> Path:
    with path.open("wb") as fh:
        for code in codes:
            lines = shared(f"tweet-topic-xl/{code}/{code}_train.jsonl").read_text(encoding="utf-8").splitlines()
            for i, line in enumerate(lines[:per_lang]):
                fh.write(orjson.dumps({"id": f"{code}{i}", "created_at": "2022-07-01T12:00:00Z",
                                       "text": json.loads(line)["text"], "lang": LANG[code]}) + b"\n")
    return path


def table(hb: Hubbub, sql: str, params: list | None = None) -> list[dict]:
    return hb.store.query(sql, params).to_pylist()


def run_counts(hb: Hubbub, run_id: str) -> dict:
    return orjson.loads(table(hb, "SELECT counts FROM runs WHERE run_id = ?", [run_id])[0]["counts"])


# -- tokeniser --------------------------------------------------------------------------------------
def test_tokens_drop_noise_and_stopwords():
    got = tokens("RT @acct_0123abcd: The Kenobi finale was AMAZING!! 2022 #Kenobi https://t.co/x a", "en")
    assert got == ["kenobi", "finale", "amazing", "kenobi"]
    assert tokens("Ήταν πολύ καλή η κυβέρνηση", "el") == ["καλή", "κυβέρνηση"]  # stop words written unaccented
    assert "東京" in tokens("今日は東京で新しいゲームを買いました", "ja")
    assert not any(is_stopword(t, "ja") for t in tokens("今日は東京で新しいゲームを買いました", "ja"))
    assert "北京" in tokens("我们今天在北京看了一场足球比赛", None)  # Han without kana: Chinese
    assert is_stopword("Más", "es") and is_stopword("the", "es") and not is_stopword("fútbol", "es")
    assert tokens("I’m at Bath’s station", "en") == ["bath", "station"]
    assert is_stopword("und", None) and tokens("", "en") == [] and tokens(None) == []


# -- model ------------------------------------------------------------------------------------------
def _blobs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 64))
    x = np.concatenate([c + 0.35 * rng.normal(size=(50, 64)) for c in centres]).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cluster_recovers_groups_and_assignment_ignores_the_batch():
    x = _blobs()
    cl = cluster(x, seed=1)
    truth = np.repeat(np.arange(6), 50)
    from sklearn.metrics import adjusted_rand_score

    merged = np.array([np.bincount(cl.labels[truth == g]).argmax() for g in range(6)])
    assert len(set(merged)) == 6  # each true group has its own main topic
    assert adjusted_rand_score(truth, merged[truth]) == 1.0
    threshold = calibrate(cl.sims, 0.05)
    ids, scores = assign(x, cl.centroids, threshold)
    assert 0.93 <= np.mean(ids != OUTLIER) <= 0.97
    for i in (0, 7, 299):  # alone or in any batch: same id, same score
        one_id, one_score = assign(x[i:i + 1], cl.centroids, threshold)
        assert one_id[0] == ids[i] and one_score[0] == scores[i]
    assert np.array_equal(cluster(x, seed=1).labels, cl.labels)


# -- the step -----------------------------------------------------------------------------------------
def test_registered_not_default():
    assert "topic" in all_steps() and "topic" not in {s.name for s in default_steps()}
    assert all_steps()["topic"].requires == ("embed",)


@pytest.fixture(scope="module")  # about 10 s: embeds 480 real posts once for the step tests
def grown(tmp_path_factory):
    """A workspace whose topics were fitted on en+es posts, then given el+ja posts."""
    tmp = tmp_path_factory.mktemp("topics")
    hb = Hubbub(tmp / "ws", create=True)
    src = mapped_source(MAPPING)
    hb.import_files([write_posts(tmp / "a.jsonl", ["en", "es"], per_lang=120)], dataset="a", source=src)
    first = hb.enrich(["topic"], dataset="a", workers=1)
    before = {"topics": table(hb, "SELECT topic_id, label, keywords, centroid FROM topics ORDER BY topic_id"),
              "posts": table(hb, "SELECT platform, post_id, topic_id, topic_score FROM enrich_topic ORDER BY 1, 2"),
              "runs": first}
    hb.import_files([write_posts(tmp / "b.jsonl", ["gr", "ja"], per_lang=120)], dataset="b", source=src)
    second = hb.enrich(["topic"], workers=1)
    yield hb, before, second
    hb.close()


def test_first_run_fits_and_assigns(grown):
    hb, before, _ = grown
    assert [r.step for r in before["runs"]] == ["embed", "topic"]  # embed runs first, by itself
    posts = before["posts"]
    assert len(posts) == 240
    assert np.mean([p["topic_id"] != OUTLIER for p in posts]) >= 0.9
    counts = run_counts(hb, before["runs"][1].run_id)
    assert counts["fitted_on"] == 240 and counts["model_id"] == "topic-1"
    model = table(hb, "SELECT seed, fit_posts, threshold, params FROM topic_models")[0]
    assert model["seed"] == 0 and model["fit_posts"] == 240 and 0 < model["threshold"] < 1
    assert orjson.loads(model["params"])["sample_size"] == 50_000


def test_labels_readable_without_stopwords(grown):
    hb = grown[0]
    topics = table(hb, "SELECT topic_id, label, keywords, keywords_by_lang, languages, size FROM topics")
    assert topics and all(t["label"] and t["keywords"] for t in topics)
    for t in topics:
        by_lang = orjson.loads(t["keywords_by_lang"])
        assert set(by_lang) <= set(t["languages"])
        for lang, words in by_lang.items():
            assert not any(is_stopword(w, lang) or w.isdigit() or len(w) < 2 or w.startswith("acct_") for w in words)
    sizes = table(hb, """SELECT t.topic_id, t.size, count(e.post_id) AS n FROM topics t
                      LEFT JOIN enrich_topic e ON e.topic_id = t.topic_id GROUP BY 1, 2""")
    assert all(s["size"] == s["n"] for s in sizes)
    assert any(len(t["languages"]) > 1 for t in topics)  # some topics span languages


def test_ids_stay_stable_and_new_topics_are_appended(grown):
    hb, before, second = grown
    after = {t["topic_id"]: t for t in table(hb, "SELECT topic_id, label, keywords, centroid FROM topics")}
    old_ids = [t["topic_id"] for t in before["topics"]]
    for t in before["topics"]:
        assert after[t["topic_id"]] == t  # same id, label, keywords, centroid
    old_posts = {(p["platform"], p["post_id"]): p for p in before["posts"]}
    now = {(p["platform"], p["post_id"]): p for p in table(
        hb, "SELECT platform, post_id, topic_id, topic_score FROM enrich_topic")}
    for k, p in old_posts.items():
        # assigned posts keep their topic; an old outlier may only move to a new topic
        assert now[k] == p or (p["topic_id"] == OUTLIER and now[k]["topic_id"] > max(old_ids))
    new_ids = sorted(set(after) - set(old_ids))
    assert new_ids and new_ids == list(range(max(old_ids) + 1, max(old_ids) + 1 + len(new_ids)))
    assert second[1].todo == 240  # only the new posts were done
    counts = run_counts(hb, second[1].run_id)
    assert counts["fitted_on"] == 0 and counts["new_topics"] == new_ids and counts["outliers_moved"] > 0
    assert np.mean([p["topic_id"] != OUTLIER for p in now.values()]) >= 0.8


def test_deterministic_whatever_the_batches(tmp_path):
    tables = []
    for i, (batch_size, workers) in enumerate(((40, 2), (5_000, 1))):  # worker processes, then this one
        with Hubbub(tmp_path / f"ws{i}", create=True) as hb:
            hb.import_files([write_posts(tmp_path / "p.jsonl", ["en", "ja"], per_lang=60)], dataset="d",
                            source=mapped_source(MAPPING))
            hb.enrich(["topic"], seed=3, batch_size=batch_size, workers=workers)
            tables.append((
                table(hb, "SELECT * EXCLUDE (run_id) FROM enrich_topic ORDER BY platform, post_id"),
                table(hb, "SELECT * EXCLUDE (created_run) FROM topics ORDER BY topic_id"),
                table(hb, "SELECT * EXCLUDE (created_run) FROM topic_models")))
    assert tables[0] == tables[1]
    assert tables[0][2][0]["seed"] == 3


def test_no_embeddings_is_a_clear_error(tmp_path):
    with Hubbub(tmp_path / "ws", create=True) as hb:
        p = tmp_path / "e.jsonl"
        p.write_bytes(orjson.dumps({"id": "1", "created_at": "2022-07-01T12:00:00Z", "text": "😂😂 https://t.co/x",
                                    "lang": None}) + b"\n")
        hb.import_files([p], dataset="e", source=mapped_source(MAPPING))
        with pytest.raises(ValueError, match="no embedded posts"):
            hb.enrich(["topic"], workers=1)
        with pytest.raises(ValueError, match="no topics yet"):
            hb.topics()


def test_api_reads(grown):
    hb = grown[0]
    t = hb.topics(min_size=1)
    assert t.column_names[:5] == ["topic_id", "label", "keywords", "languages", "size"]
    sizes = t["size"].to_pylist()
    assert sizes == sorted(sizes, reverse=True)
    top = t["topic_id"][0].as_py()
    one = hb.topic(top, limit=5)
    assert 1 <= one["representatives"].num_rows <= 3 and one["posts"].num_rows == 5
    assert set(one["representatives"]["post_id"].to_pylist()) <= {
        r["post_id"] for r in table(hb, "SELECT post_id FROM enrich_topic WHERE topic_id = ?", [top])}
