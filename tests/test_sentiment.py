"""Sentiment step, its training script and its evaluation, on small slices of the shared real data."""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pyarrow as pa
import pytest
from conftest import REPO, SHARED, shared

from hubbub.enrich.registry import all_steps, default_steps
from hubbub.enrich.steps.sentiment import LABELS, MODEL_PATH, SentimentModel, SentimentStep, sha256_file
from hubbub.eval.sentiment import evaluate_sentiment, macro_f1, macro_recall


def _trainer():
    spec = importlib.util.spec_from_file_location("train_sentiment", REPO / "scripts" / "train_sentiment.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_sentiment"] = mod
    spec.loader.exec_module(mod)
    return mod


def _val(lang: str, n: int) -> tuple[list[str], list[int]]:
    folder = shared(f"xlm-t-sentiment/{lang}")
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").split("\n")[:n]
    labels = [int(v) for v in (folder / "val_labels.txt").read_text(encoding="utf-8").split("\n")[:n]]
    return texts, labels


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel.load()


def test_artifact_small_and_provenance_matches_shared_data(model):
    assert MODEL_PATH.stat().st_size < 5_000_000
    meta = model.meta
    assert meta["seed"] == 0 and meta["hyperparameters"]["c"] > 0 and meta["limit_per_file"] is None
    assert meta["hyperparameters"]["solver"].startswith("scikit-learn")
    paths = [f["path"] for f in meta["training_files"]]
    assert len(paths) == 10 and all("train_" in p or "sanders" in p for p in paths)  # train splits only
    for f in meta["training_files"]:
        assert sha256_file(shared(f["path"])) == f["sha256"], f["path"]
    assert model.weights.shape == (1 << model.featurizer.bits, 3)
    assert len(model.static.hashes) > 50_000 and model.static.logits.shape == (len(model.static.hashes), 3)
    assert meta["sha256"] == sha256_file(MODEL_PATH)


def test_no_validation_text_in_the_training_corpus():
    """XLM-T English train holds TweetEval sentiment validation tweets: the corpus drops them (and any
    other text of a validation file), and the weakly labelled posts exclude them too."""
    from hubbub.enrich.steps.sentiment import normalize
    from hubbub.eval.sentiment_corpus import held_out_texts, load_corpus

    held = held_out_texts(SHARED)
    assert len(held) > 5_000
    tweeteval_val = (SHARED / "tweeteval/sentiment/val_text.txt").read_text("utf-8").split("\n")
    assert {normalize(t) for t in tweeteval_val} - {""} <= held
    corpus = load_corpus(SHARED)
    assert not {normalize(t) for t in corpus.texts} & held
    english = next(f for f in corpus.files if f["path"] == "xlm-t-sentiment/english/train_text.txt")
    assert english["dropped_in_validation_or_empty"] >= 1_400  # the overlap is real, and removed
    tr = _trainer()
    pool = (SHARED / "tweeteval/sentiment/val_text.txt").read_text("utf-8").split("\n")[:300]
    pool += ["What a wonderful, happy day, I love it!", "This is awful, I hate it."]
    texts, labels = tr.weak_english(pool, held, set(), 10)
    assert texts == pool[-2:] and labels == [2, 0]  # validation posts never become weak labels


def test_predicts_all_classes_in_several_languages(model):
    texts, labels = [], []
    for lang in ("english", "spanish", "arabic", "german", "portuguese"):
        t, y = _val(lang, 120)
        texts += t
        labels += y
    pred = np.asarray(model.predict_proba(texts).argmax(axis=1))
    y = np.asarray(labels)
    assert set(pred.tolist()) == {0, 1, 2}
    assert (pred == y).mean() > 0.45  # chance is 1/3 (balanced classes)
    assert macro_f1(y, pred) > 0.45
    obvious = ["I love this so much, best day ever! 😍", "Esto es horrible, odio este servicio 😡",
               "Das ist wirklich toll, danke! ❤️", "أنا سعيد جدا اليوم الحمد لله"]
    assert model.predict(obvious) == ["positive", "negative", "positive", "positive"]


def test_step_output_nulls_deterministic_and_batch_independent():
    step = all_steps()["sentiment"]
    assert step in default_steps() and all_steps()["sentiment_vader"] not in default_steps()
    texts, _ = _val("french", 60)
    texts = [None, "", "   ", *texts]
    batch = pa.table({"platform": ["x"] * len(texts), "post_id": [str(i) for i in range(len(texts))],
                      "text": pa.array(texts, pa.string())})
    step.setup(0)
    out = step.run(batch)
    assert out.schema == SentimentStep.schema and out.num_rows == len(texts)
    rows = out.to_pylist()
    assert rows[:3] == [{"sentiment": None, "sentiment_score": None}] * 3
    assert all(r["sentiment"] in LABELS and -1 <= r["sentiment_score"] <= 1 for r in rows[3:])
    assert step.run(batch).equals(out)
    assert pa.concat_tables([step.run(batch.slice(0, 7)), step.run(batch.slice(7))]).equals(out)
    assert {r["sentiment"] for r in rows[3:]} == set(LABELS)


def test_vader_step():
    step = all_steps()["sentiment_vader"]
    out = step.classify(["I love it, wonderful!", "This is terrible and sad.", "The train leaves at 5.", None])
    assert [o[0] for o in out] == ["positive", "negative", "neutral", None]


def test_tiny_training_run_is_reproducible(tmp_path):
    tr = _trainer()
    kw = {"limit": 60, "weak": False, "max_iter": 40, "use_pieces": 0, "teacher_weight": 0.0}
    a = tr.build(SHARED, seed=3, **kw)
    b = tr.build(SHARED, seed=3, cache=tmp_path, **kw)
    assert a.to_bytes() == b.to_bytes()
    assert a.meta["limit_per_file"] == 60 and a.meta["training_rows"] > 9 * 50
    assert len(a.static.hashes) > 100 and np.abs(a.static.logits).max() > 0
    again = SentimentModel.from_bytes(a.to_bytes())
    sample, _ = _val("italian", 50)
    assert np.array_equal(again.predict_proba(sample), a.predict_proba(sample))
    from hubbub.eval.sentiment_corpus import load_corpus

    corpus = load_corpus(SHARED, limit=60)
    fit = np.asarray(a.predict_proba(corpus.texts).argmax(axis=1))
    assert (fit == np.asarray(corpus.labels)).mean() > 0.8  # it learns its training data


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("HUBBUB_SENTIMENT_REBUILD"), reason="full rebuild takes minutes")
def test_full_rebuild_gives_the_shipped_model_byte_for_byte(tmp_path):
    """``HUBBUB_SENTIMENT_REBUILD=1 OMP_NUM_THREADS=1 pytest -k full_rebuild`` (about 10 minutes)."""
    tr = _trainer()
    out = tmp_path / "m.hbsm"
    assert tr.main(["--data", str(SHARED), "--out", str(out)]) == 0
    assert out.read_bytes() == MODEL_PATH.read_bytes()


def test_metrics():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert macro_recall(y, y) == 1.0 and macro_f1(y, y) == 1.0
    assert macro_recall(y, np.array([0, 1, 1, 1, 2, 0])) == pytest.approx((0.5 + 1 + 0.5) / 3)


def test_evaluate_sentiment_small_limit():
    r = evaluate_sentiment(SHARED, split="validation", limit=40)
    assert r["task"] == "sentiment" and r["split"] == "validation"
    rows = {(x["dataset"], x["language"]): x for x in r["rows"]}
    assert rows[("tweeteval-sentiment", "en")]["metric"] == "macro_recall"
    assert rows[("tweeteval-sentiment", "en")]["n"] == 40
    for code in ("ar", "en", "fr", "de", "hi", "it", "pt", "es"):
        row = rows[("xlm-t-sentiment", code)]
        assert row["n"] == 40 and row["metric"] == "macro_f1" and 0 <= row["hubbub"] <= 1
        assert row["vader"] is not None
    assert rows[("xlm-t-sentiment", "mean")]["hubbub"] > 0.3
    assert r["hubbub_posts_per_s"] > 0
    assert all(x["in_training"] == 0 for x in r["rows"])  # the corpus holds no validation text
    details = {(d["dataset"], d["language"]): d for d in r["per_language"]}
    assert len(details) == 9
    for d in details.values():
        m = np.asarray(d["confusion_true_by_predicted"])
        assert m.shape == (3, 3) and m.sum() == d["n"] == 40
        assert d["accuracy"] == pytest.approx(np.trace(m) / 40, abs=1e-4)
        assert sum(b["n"] for b in d["calibration"]) == 40 and 0 <= d["ece"] <= 1
    from hubbub.eval.report import markdown

    md = markdown({"split": "validation", "hubbub": "x", "data": "d", "at": "t", "results": [r]})
    assert "confusion" in md and "| xlm-t-sentiment | hi | 40 |" in md


def test_reliability_bins():
    from hubbub.eval.sentiment import reliability

    proba = np.array([[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.4, 0.35, 0.25], [0.2, 0.2, 0.6]])
    bins, ece = reliability(np.array([0, 0, 0, 2]), proba)
    assert [(b["confidence"], b["n"], b["accuracy"]) for b in bins] == [
        ("0.0-0.5", 1, 1.0), ("0.6-0.7", 1, 1.0), ("0.8-0.9", 1, 0.0), ("0.9-1.0", 1, 1.0)]
    assert ece == pytest.approx((0.6 + 0.4 + 0.85 + 0.1) / 4, abs=1e-4)


def test_evaluate_sentiment_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="tweeteval/sentiment/val_text.txt"):
        evaluate_sentiment(tmp_path)
