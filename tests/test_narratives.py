"""Narratives across platforms and languages (hubbub.analyze.narratives).

How the pair was chosen: searching the IRA 2016 tweets (../shared/data/ira-troll-tweets-2016-election-window)
for "Haiti" in every language turned up one claim told by two different IRA accounts in two
languages: in English (account Jenn_Abrams, 2016-10-05 12:54) "BREAKING: Deforestation in Haiti is
caused by hungry children who eat the trees" and in Russian (account Manzal_, 2016-10-06 11:50) "In
the US a weather presenter said there are no trees in Haiti because hungry African children eat
them". Not a translation, the same story retold: the case a narrative view must link (USE cosine
0.56). The English text is posted here as two Mastodon statuses and the Russian one as two Telegram
channel messages (the platforms' own JSON formats, built from the samples in platform-formats),
re-dated to 2024. Unrelated real texts (English and Russian IRA originals of the same week, chosen
by file position) are posted on both platforms too and must not be linked to anything."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from conftest import shared

from hubbub.api import Hubbub

IRA = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-03.csv"
EN = "BREAKING: Deforestation in Haiti is caused by hungry children who eat the trees https://t.co/R6hxqWsESO"
RU = ("В США ведущая прогноза погоды сказала, что на Гаити нет деревьев, потому что голодные африканские дети "
      "их едят https://t.co/EhX90aaYss")
T = {  # re-dated: the story starts on Mastodon in English, reaches Telegram in Russian a day later
    "en1": datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "en2": datetime(2024, 3, 1, 14, 30, tzinfo=UTC),
    "ru1": datetime(2024, 3, 2, 8, 15, tzinfo=UTC), "ru2": datetime(2024, 3, 3, 9, 0, tzinfo=UTC),
}


def _unrelated() -> tuple[list[str], list[str]]:
    with open(shared(IRA), encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["post_type"] == "" and len(r["content"]) > 60
                and "Haiti" not in r["content"] and "@" not in r["content"]]
    en = [r["content"] for r in rows if r["language"] == "English"][::97][:6]
    ru = [r["content"] for r in rows if r["language"] == "Russian"][::41][:6]
    return en, ru


def _status(i: int, text: str, when: datetime, user: str) -> dict:
    return {"id": str(1000 + i), "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": "public",
            "language": "en", "uri": f"https://example.social/users/{user}/statuses/{1000 + i}",
            "url": f"https://example.social/@{user}/{1000 + i}", "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "content": f"<p>{text}</p>", "reblog": None, "mentions": [], "tags": [],
            "media_attachments": [], "emojis": [], "card": None, "poll": None,
            "account": {"id": str(50 + i), "username": user, "acct": user, "url": f"https://example.social/@{user}"}}


def _message(i: int, text: str, when: datetime) -> dict:
    return {"_": "Message", "id": 500 + i, "peer_id": {"_": "PeerChannel", "channel_id": 1777000111},
            "date": when.strftime("%Y-%m-%d %H:%M:%S.000000"), "message": text, "out": False, "post": True,
            "from_id": None, "fwd_from": None, "reply_to": None, "media": None, "views": 10, "forwards": 0,
            "entities": []}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("narr")
    en, ru = _unrelated()
    statuses = [_status(0, EN, T["en1"], "alice"), _status(1, EN, T["en2"], "bob")]
    statuses += [_status(10 + k, t, datetime(2024, 3, 1 + k % 3, 6 + k, tzinfo=UTC), f"u{k}") for k, t in enumerate(en)]
    statuses += [_status(20 + k, t, datetime(2024, 2, 28, 6 + k, tzinfo=UTC), f"r{k}") for k, t in enumerate(ru[:2])]
    (tmp / "mastodon.json").write_text(json.dumps(statuses, ensure_ascii=False), encoding="utf-8")
    msgs = [_message(0, RU, T["ru1"]), _message(1, RU, T["ru2"])]
    msgs += [_message(10 + k, t, datetime(2024, 3, 2, 1 + k, tzinfo=UTC)) for k, t in enumerate(ru)]
    msgs += [_message(20 + k, t, datetime(2024, 2, 29, 1 + k, tzinfo=UTC)) for k, t in enumerate(en[:2])]
    (tmp / "telegram.ndjson").write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in msgs),
                                         encoding="utf-8")
    hb = Hubbub(tmp / "ws", create=True, save_runs=True)
    s = hb.import_files([tmp / "mastodon.json", tmp / "telegram.ndjson"], dataset="n")
    assert s.to_dict()["totals"]["imported"] == len(statuses) + len(msgs)
    hb.enrich(["lang", "neardup", "embed"], workers=1)
    yield hb
    hb.close()


def _keys(hb: Hubbub, text: str) -> set[tuple[str, str]]:
    rows = hb.store.query("SELECT platform, post_id FROM posts WHERE text LIKE ?", [text[:40] + "%"]).to_pylist()
    return {(r["platform"], r["post_id"]) for r in rows}


def test_same_story_in_two_languages_on_two_platforms_is_one_narrative(world):
    res = world.narratives(dataset="n")
    assert res.run_id
    assert res.narratives.num_rows == 1, res.narratives.to_pylist()
    n = res.to_dict()["narratives"][0]
    assert n["posts"] == 4 and n["units"] == 2  # two near-duplicate clusters, one per language
    assert n["platforms"] == ["mastodon", "telegram"] and n["languages"] == ["en", "ru"]
    assert (n["origin_platform"], n["origin_lang"]) == ("mastodon", "en")
    assert n["first_seen"] == T["en1"] and n["last_seen"] == T["ru2"]
    assert n["first_seen_by_platform"] == {"mastodon": T["en1"], "telegram": T["ru1"]}
    assert n["first_seen_by_lang"] == {"en": T["en1"], "ru": T["ru1"]}
    assert [(s["platform"], s["lang"], s["posts"]) for s in n["spread"]] == [("mastodon", "en", 2),
                                                                           ("telegram", "ru", 2)]
    assert n["spread"][1]["text"].startswith("В США ведущая")
    members = _keys(world, EN) | _keys(world, RU)
    assert len(members) == 4 and n["narrative_id"] == "mastodon:" + min(
        pid for p, pid in members if p == "mastodon" and world.store.query(
            "SELECT created_at FROM posts WHERE post_id = ?", [pid])["created_at"][0].as_py() == T["en1"])
    assert {(m["platform"], m["post_id"]) for m in res.members.to_pylist()} == members
    assert set(res.members["narrative_id"].to_pylist()) == {n["narrative_id"]}


def test_unrelated_posts_are_not_linked(world):
    res = world.narratives(dataset="n", cross_only=False)
    linked = {(s["narrative_id"]) for s in res.spread.to_pylist()}
    assert len(linked) == 1  # even within one language or platform, nothing else is linked
    en, ru = _unrelated()
    for t in en + ru:  # the same unrelated text on both platforms is one near-duplicate unit, not a narrative
        assert _keys(world, t)


def test_threshold_and_provenance(world):
    strict = world.narratives(dataset="n", threshold=0.7)  # above the pair's similarity (0.56)
    assert strict.narratives.num_rows == 0
    row = world.store.query("SELECT kind, params FROM runs WHERE run_id = ?", [strict.run_id]).to_pylist()[0]
    params = orjson.loads(row["params"])
    assert row["kind"] == "analysis:narratives" and params["threshold"] == 0.7
    assert params["model"]["embedding"] and params["model"]["embedding"][0].startswith("usem3")
    assert params["posts_with_vectors"] == world.store.query("SELECT count(*) AS n FROM posts")["n"][0].as_py()


def test_query_selects_and_missing_embeddings_fail_clearly(world, tmp_path):
    only_ru = world.narratives("platform:telegram", dataset="n")
    assert only_ru.narratives.num_rows == 0  # the English side is not in the selection
    with Hubbub(tmp_path / "empty", create=True) as hb:
        with pytest.raises(ValueError, match="--steps lang,neardup,embed"):
            hb.narratives()


def test_coordinated_cluster_lists_the_narrative_it_carried(world):
    """Two Mastodon accounts post the English side 4.5 h apart: with a 6 h co-text window they form a
    cluster, and its summary names the narrative their posts belong to."""
    res = world.coordination(layers=("text",), window=6 * 3600, min_weight=1, null=False, min_cluster_size=2)
    clusters = res.clusters.to_pylist()
    assert len(clusters) == 1 and clusters[0]["accounts"] == 2
    narr = world.narratives().narratives.to_pylist()[0]
    assert [(n["narrative_id"], n["posts"]) for n in clusters[0]["narratives"]] == [(narr["narrative_id"], 2)]
    assert clusters[0]["narratives"][0]["languages"] == ["en", "ru"]


@pytest.fixture(scope="module")
def short_posts(tmp_path_factory):
    """IRA originals of 2016-10-01 .. 10-16: the first 300 whose language cannot be told (links with a
    hashtag or a word: `#Красавицы https://t.co/…`, `Agree https://t.co/…`), every #Красавицы post, and
    every 30th of the others."""
    from hubbub.enrich.steps.lang import language_reliable

    tmp = tmp_path_factory.mktemp("short")
    dst = tmp / "short.csv"
    weeks = ["tweets_week_2016-10-01.csv", "tweets_week_2016-10-03.csv", "tweets_week_2016-10-10.csv"]
    n_bad = n_ok = 0
    with open(dst, "w", encoding="utf-8", newline="") as out:
        writer = None
        for name in weeks:
            with open(shared("ira-troll-tweets-2016-election-window/tweets/" + name), encoding="utf-8",
                      newline="") as fh:
                reader = csv.DictReader(fh)
                writer = writer or csv.DictWriter(out, fieldnames=reader.fieldnames or [])
                if out.tell() == 0:
                    writer.writeheader()
                for r in reader:
                    if r["post_type"]:
                        continue
                    bad = not language_reliable(r["content"])
                    if "Красавицы" in r["content"] or (bad and n_bad < 300):
                        writer.writerow(r)
                        n_bad += bad
                    elif not bad and n_ok < 200 and (n_ok + n_bad) % 30 == 0:
                        writer.writerow(r)
                        n_ok += 1
    hb = Hubbub(tmp / "ws", create=True)
    hb.import_files([dst], dataset="short")
    hb.enrich(["lang", "neardup", "embed"], workers=1)
    yield hb
    hb.close()


def test_language_unreliable_texts_make_no_language_crossing(short_posts):
    """Short link posts get a language from a hashtag or one word: noise. A narrative only crosses
    languages when at least two languages come from texts whose language can be told."""
    from hubbub.enrich.steps.lang import language_reliable

    hb = short_posts
    rows = hb.store.query("""SELECT p.post_id, p.text, l.lang, l.lang_score FROM posts p
                             JOIN enrich_lang l USING (platform, post_id)""").to_pylist()
    post = {r["post_id"]: r for r in rows}
    noisy = [r for r in rows if not language_reliable(r["text"], r["lang_score"])]
    assert len(noisy) >= 250 and len({r["lang"] for r in noisy}) >= 5  # the noise: many "languages"
    res = hb.narratives(dataset="short")
    members = res.members.to_pylist()
    for n in res.narratives.to_pylist():
        ids = [m["post_id"] for m in members if m["narrative_id"] == n["narrative_id"]]
        told = {post[i]["lang"] for i in ids if language_reliable(post[i]["text"], post[i]["lang_score"])}
        assert set(n["languages"]) == told - {"und"} and len(told - {"und"}) >= 2, n
    spread = res.spread.to_pylist()
    assert all(s["lang"] == "und" or s["lang"] in {n for x in res.narratives.to_pylist() for n in x["languages"]}
               for s in spread)
    every = hb.narratives(dataset="short", cross_only=False)
    assert every.narratives.num_rows > res.narratives.num_rows  # the noisy ones are there, not as crossings
