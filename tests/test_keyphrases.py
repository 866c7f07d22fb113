"""Keyphrases: real posts in English, French, Spanish, German, Arabic and Japanese (XLM-T, TweetTopicXL),
hand-written Chinese (no Chinese posts in the shared data), and the step through the runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from realposts import ja_texts, workspace, xlmt_texts

from hubbub.api import Hubbub
from hubbub.enrich.registry import default_steps
from hubbub.text.keyphrases import MAX_WORDS, TOP_K, guess_stop_language, keyphrases, token_stream

STOP = pytest.importorskip("stopwordsiso")


@pytest.mark.parametrize("lang", ["en", "fr", "es", "de", "ar"])
def test_real_posts_no_stop_words_links_or_mentions(lang):
    texts = xlmt_texts(lang, 120)
    stop = {w.casefold() for w in STOP.stopwords(lang)}
    out = [keyphrases(t, lang) for t in texts]
    assert sum(bool(k) for k in out) >= 0.9 * len(texts)
    for phrases in out:
        assert len(phrases) <= TOP_K and len(set(phrases)) == len(phrases)
        for p in phrases:
            words = p.split(" ")
            assert 1 <= len(words) <= MAX_WORDS and p == p.casefold()
            assert not stop & set(words), p
            assert "@" not in p and "http" not in words and "acct_" not in p


def test_language_from_declared_or_stop_words():
    assert keyphrases("die hard fans of the show", "en")[0] == "die hard fans"
    assert "die" not in " ".join(keyphrases("die Regierung hat die Steuern erhöht", "de")).split()
    # no declared language: the stop-word vote
    assert guess_stop_language("la neige est noire au groenland et c'est inquiétant".split()) == "fr"
    assert guess_stop_language("the snow is black in greenland".split()) == "en"
    assert guess_stop_language(["xqzt"]) is None
    kp = keyphrases("Actuellement, la neige est noire au Groenland. Et c’est inquiétant")
    assert set(kp) == {"actuellement", "neige", "noire", "groenland", "inquiétant"}


def test_mentions_links_hashtags_and_ranking():
    text = ("RT @acct_0123456789abcdef01234567: Central bank raises interest rates again "
            "https://t.co/abc #economy #inflation")
    kp = keyphrases(text, "en")
    assert kp[0] == "central bank raises"  # the longest run of content words first (RAKE)
    assert "economy" in kp and "inflation" in kp  # each hashtag its own phrase
    assert not any("acct" in p or "t.co" in p or p == "rt" for p in kp)
    assert keyphrases(None) == [] and keyphrases("") == [] and keyphrases("the and of", "en") == []


def test_japanese_segmented_nouns():
    kp = keyphrases("ワクチン3回目打ち終えた\n副作用がどんなもんかが心配")
    assert "ワクチン" in kp and "副作用" in kp and "心配" in kp  # prefix 副 joined to its noun
    for t in ja_texts(20):
        stream, joiner = token_stream(t)
        assert joiner == "" and not {"を", "が", "は", "に", "で", "の", "た", "#"} & set(stream)  # they break
        for p in keyphrases(t):
            assert p in t.casefold() and len(p) > 1  # contiguous words of the post


def test_chinese_segmented_nouns():
    kp = keyphrases("我们今天在北京大学讨论人工智能的发展。")
    assert {"北京大学", "人工智能"} <= set(kp)
    assert "我们" not in kp and "的" not in "".join(kp)


def test_step_through_runner(tmp_path: Path):
    texts = ([(t, "en") for t in xlmt_texts("en", 20)] + [(t, None) for t in xlmt_texts("fr", 10)]
             + [(t, "ja") for t in ja_texts(10)] + [("", None)])
    ws = workspace(tmp_path / "a", texts)
    with Hubbub(ws) as hb:
        (lang, r) = hb.enrich(["keyphrases"], batch_size=6, workers=1)
        assert lang.step == "lang"
        rows = hb.store.query("""SELECT k.post_id, k.keyphrases, l.lang FROM enrich_keyphrases k
            JOIN enrich_lang l USING (platform, post_id) ORDER BY k.post_id""").to_pylist()  # lang ran first
    assert r.done == len(texts) == len(rows)
    by_id = {int(x["post_id"]): x for x in rows}
    assert by_id[len(texts)]["keyphrases"] is None  # no text
    assert [by_id[i]["lang"] for i in range(21, 31)].count("fr") >= 9  # undeclared French: detected
    for i, (t, declared) in enumerate(texts[:-1], 1):
        detected = by_id[i]["lang"]
        lang = detected if detected in STOP.langs() else declared
        assert by_id[i]["keyphrases"] == keyphrases(t, lang)  # the same as the function, whatever the batch
    assert "keyphrases" in {s.name for s in default_steps()}
