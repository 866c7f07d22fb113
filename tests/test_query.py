"""The query language on real imported data: every result is checked against an independent
evaluation in Python of the same posts (Unicode regexes, lists, datetimes), plus malformed
queries (the error names the column), injection strings (matched as text) and multilingual matching.

Data: the bundled samples (IRA tweets, X v2, Telegram, Reddit, ...), plus a CSV written in the test
with real texts: French tweets (xlm-t validation), Japanese tweets (tweet-topic-xl validation) and
IRA tweets with SQL injection strings appended."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import shared

from hubbub.api import Hubbub
from hubbub.query import QueryError, parse, select, validate
from hubbub.query.compile import folded as compile_folded
from hubbub.query.search import count, search
from hubbub.query.text import fold

REPO = Path(__file__).resolve().parents[1]
HEADER = ["author_id", "content", "region", "language", "publish_date", "harvested_date", "following",
          "followers", "updates", "post_type", "retweet"]
INJECTIONS = ["'; DROP TABLE posts; --", '") OR 1=1', "' OR '1'='1"]


def _extra_rows() -> list[list[str]]:
    fr = shared("xlm-t-sentiment/french/val_text.txt").read_text(encoding="utf-8").splitlines()
    ja = [json.loads(line)["text"] for line in
          shared("tweet-topic-xl/ja/ja_validation.jsonl").read_text(encoding="utf-8").splitlines()]
    with open(shared("ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-03.csv"),
              encoding="utf-8", newline="") as fh:
        ira = [r["content"] for _, r in zip(range(3), csv.DictReader(fh), strict=False)]
    texts = [("fr", t) for t in fr] + [("ja", t) for t in ja] + [
        ("inj", f"{t} {inj}") for t, inj in zip(ira, INJECTIONS, strict=True)]
    rows = []
    for i, (src, t) in enumerate(texts):
        when = f"2016-10-03 {i // 60 % 24:02d}:{i % 60:02d}:00"
        rows.append([f"{src}_author_{i % 7}", t, "", "", when, when, "0", "0", "0", "", "0"])
    return rows


@pytest.fixture(scope="module")
def hb(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("query")
    extra = tmp / "real_texts.csv"
    with open(extra, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(_extra_rows())
    h = Hubbub(tmp / "ws", create=True)
    h.import_files([REPO / "samples"], dataset="samples")
    h.import_files([extra], dataset="texts")
    h.enrich(["lang", "sentiment"], workers=1)
    yield h
    h.close()


@pytest.fixture(scope="module")
def rows(hb: Hubbub) -> list[dict]:
    return hb.store.query(
        """SELECT p.platform, p.post_id, p.text, p.created_at, p.kind, p.dataset, p.author_key, p.hashtags,
                  p.domains, p.urls_canonical, p.likes, p.reposts, p.replies, p.quotes, p.lang_declared,
                  l.lang, s.sentiment
           FROM posts p LEFT JOIN enrich_lang l USING (platform, post_id)
           LEFT JOIN enrich_sentiment s USING (platform, post_id)""").to_pylist()


def ids(hb: Hubbub, query: str, dataset: str | None = None) -> set[tuple[str, str]]:
    t = hb.store.to_arrow(select(hb.store, query, dataset).select("platform", "post_id"))
    return set(zip(t["platform"].to_pylist(), t["post_id"].to_pylist(), strict=True))


def expect(rows: list[dict], pred) -> set[tuple[str, str]]:
    return {(r["platform"], r["post_id"]) for r in rows if pred(r)}


# -- an independent matcher: Python's Unicode regexes over NFKD-stripped, case-folded text ---------
def _plain(text: str | None) -> str:
    t = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in t if unicodedata.category(c) != "Mn")


def has_word(text: str | None, word: str, prefix: bool = False) -> bool:
    w = re.escape(_plain(word))
    return re.search(rf"(?<!\w){w}" + ("" if prefix else r"(?!\w)"), _plain(text)) is not None


def tokens(text: str | None) -> list[str]:
    return re.findall(r"\w+", _plain(text))


def near(text: str | None, a: str, b: str, n: int) -> bool:
    toks = tokens(text)
    pa_, pb = [i for i, t in enumerate(toks) if t == a], [i for i, t in enumerate(toks) if t == b]
    return any(abs(i - j) <= n for i in pa_ for j in pb)


# -- syntax ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("query,column,fragment", [
    ("(trump OR clinton", 18, "missing ')'"),
    ("trump OR", 9, "query ends"),
    ("trump)", 6, "unexpected ')'"),
    ('lang:en "hillary', 9, "unterminated phrase"),
    ("colour:red", 1, "unknown field 'colour'"),
    ("likes:>lots", 8, "whole number"),
    ("date:2016-02-30", 6, "expected a date"),
    ("date:2016-11-01..2016-10-01", 6, "ends before it starts"),
    ("a NEAR b", 3, "NEAR needs a distance"),
    ("a NEAR/0 b", 3, "between 1 and"),
    ("kind:tweet", 6, "kind: is one of"),
    ("sentiment:angry", 11, "sentiment: is one of"),
    ("author:someone", 8, "pseudonymous account key"),
    ("vac*ine", 4, "only allowed at the end"),
    ("lang:", 6, "needs a value"),
    ("trump AND AND clinton", 11, "'AND' where a word"),
    ("(trump NEAR/2 clinton) NEAR/2 x", 24, "NEAR joins two words"),
])
def test_malformed_queries_name_the_column(query: str, column: int, fragment: str):
    with pytest.raises(QueryError) as ei:
        parse(query)
    e = ei.value
    assert e.position == column and fragment in e.message, (e.position, e.message)
    assert e.display().splitlines()[1].index("^") == column - 1
    problems = validate(query)
    assert [(p["position"], p["message"]) for p in problems] == [(column, e.message)]


def test_valid_queries_validate_clean():
    for q in ['lang:en (vacc* OR "herd immunity") NOT kind:repost', "hillary NEAR/3 clinton",
              "date:2016-10-01..2016-10-31 likes:>100 -platform:reddit", "", "ワクチン", 'hashtag:"MAGA"',
              "url:https://t.co/abc*", "and or not"]:
        assert validate(q) == [], q


# -- words, booleans, phrases, prefixes, NEAR --------------------------------------------------------
@pytest.mark.parametrize("query,pred", [
    ("trump", lambda r: has_word(r["text"], "trump")),
    ("Trump CLINTON", lambda r: has_word(r["text"], "trump") and has_word(r["text"], "clinton")),
    ("trump OR clinton", lambda r: has_word(r["text"], "trump") or has_word(r["text"], "clinton")),
    ("trump -clinton", lambda r: has_word(r["text"], "trump") and not has_word(r["text"], "clinton")),
    ("NOT trump", lambda r: not has_word(r["text"], "trump")),
    ("(trump OR hillary) AND NOT kind:repost",
     lambda r: (has_word(r["text"], "trump") or has_word(r["text"], "hillary")) and r["kind"] != "repost"),
    ("vot*", lambda r: has_word(r["text"], "vot", prefix=True)),
    ("police* -black", lambda r: has_word(r["text"], "police", prefix=True) and not has_word(r["text"], "black")),
    ('"hillary clinton"', lambda r: re.search(r"(?<!\w)hillary\s+clinton(?!\w)", _plain(r["text"])) is not None),
    ("hillary NEAR/2 clinton", lambda r: near(r["text"], "hillary", "clinton", 2)),
    ("trump NEAR/5 clinton", lambda r: near(r["text"], "trump", "clinton", 5)),
])
def test_text_matching_agrees_with_python(hb: Hubbub, rows: list[dict], query: str, pred):
    want = expect(rows, pred)
    assert want, f"{query}: no post matches; the test would prove nothing"
    assert ids(hb, query) == want


def test_accents_and_case_fold_both_ways(hb: Hubbub, rows: list[dict]):
    want = expect(rows, lambda r: has_word(r["text"], "élections"))
    assert len(want) >= 3  # real French tweets: "élections sénatoriales", "Élections ..."
    for q in ("élections", "ELECTIONS", "elections", "Élections", "ÉLECTIONS"):
        assert ids(hb, q) == want, q
    phrase = expect(rows, lambda r: re.search(r"(?<!\w)elections\s+senatoriales(?!\w)", _plain(r["text"])))
    assert phrase and ids(hb, '"Elections SÉNATORIALES"') == phrase
    assert ids(hb, "élection") == expect(rows, lambda r: has_word(r["text"], "election"))  # whole words only


def test_duckdb_folding_equals_python_folding(hb: Hubbub):
    posts = hb.store.table("posts")
    posts = posts.filter(posts.text.notnull())
    t = hb.store.to_arrow(posts.select("text", f=compile_folded(posts.text)))
    texts, folded = t["text"].to_pylist(), t["f"].to_pylist()
    assert len(texts) > 3000
    assert [fold(x) for x in texts] == folded


def test_japanese_matches_substrings_without_spaces(hb: Hubbub, rows: list[dict]):
    for term in ("ワクチン", "副作用", "マスカラ", "先生"):
        want = expect(rows, lambda r, term=term: term in (r["text"] or ""))
        assert want, term
        assert ids(hb, term) == want, term
    assert ids(hb, '"ワクチン 3回目"') == expect(rows, lambda r: "ワクチン3回目" in (r["text"] or ""))
    # NEAR/n in scripts without spaces: at most n characters between ("ワクチン3回目打ち終えた\n副作用": 9)
    for n in (8, 9, 30):
        pattern = re.compile(f"ワクチン.{{0,{n}}}副作用|副作用.{{0,{n}}}ワクチン", re.S)
        want = expect(rows, lambda r, p=pattern: p.search(r["text"] or ""))
        assert ids(hb, f"ワクチン NEAR/{n} 副作用") == want
        assert bool(want) == (n >= 9)


def test_injection_strings_are_searched_as_text(hb: Hubbub, rows: list[dict]):
    n = hb.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
    for inj in INJECTIONS:
        want = expect(rows, lambda r, inj=inj: inj in (r["text"] or ""))
        assert len(want) == 1
        q = '"' + inj.replace("\\", "\\\\").replace('"', '\\"') + '"'
        assert ids(hb, q) == want, q
    assert ids(hb, "DROP TABLE posts") == expect(
        rows, lambda r: all(has_word(r["text"], w) for w in ("drop", "table", "posts")))
    for q in ["dataset:x'--", "hashtag:\"x' OR '1'='1\"", "platform:'; DROP TABLE posts; --", "lang:en'--",
              'url:"https://x.com/\'); DROP TABLE posts; --"']:
        assert ids(hb, q) == set(), q
    with pytest.raises(QueryError) as ei:
        ids(hb, '") OR 1=1')
    assert ei.value.position == 1
    assert hb.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"] == n


# -- fields ----------------------------------------------------------------------------------------
def _utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize("query,pred", [
    ("lang:en", lambda r: (r["lang"] or r["lang_declared"]) == "en"),
    ("lang:RU", lambda r: (r["lang"] or r["lang_declared"]) == "ru"),
    ("lang:ja", lambda r: (r["lang"] or r["lang_declared"]) == "ja"),
    ("sentiment:negative lang:en", lambda r: r["sentiment"] == "negative" and r["lang"] == "en"),
    ("sentiment:pos", lambda r: r["sentiment"] == "positive"),
    ("platform:Telegram", lambda r: r["platform"] == "telegram"),
    ("kind:repost", lambda r: r["kind"] == "repost"),
    ("-kind:repost", lambda r: r["kind"] != "repost"),
    ("dataset:texts", lambda r: r["dataset"] == "texts"),
    ("date:2016-10-01", lambda r: _utc("2016-10-01") <= r["created_at"] < _utc("2016-10-02")),
    ("date:2016-10-01T12:00..2016-10-02T06:30",
     lambda r: _utc("2016-10-01T12:00") <= r["created_at"] <= _utc("2016-10-02T06:30")),
    ("date:>=2016-10-02 date:<=2016-10-03",
     lambda r: _utc("2016-10-02") <= r["created_at"] < _utc("2016-10-04")),
    ("date:>2020-01-01", lambda r: r["created_at"] >= _utc("2020-01-02")),
    ("likes:>10", lambda r: (r["likes"] or 0) > 10 and r["likes"] is not None),
    ("likes:5..50", lambda r: r["likes"] is not None and 5 <= r["likes"] <= 50),
    ("NOT likes:>=1", lambda r: not (r["likes"] is not None and r["likes"] >= 1)),
    ("engagement:>=100", lambda r: sum((r[c] or 0) for c in ("likes", "reposts", "replies", "quotes")) >= 100),
    ("hashtag:brexit", lambda r: "brexit" in {h.lower() for h in r["hashtags"] or []}),
    ("hashtag:#BREXIT", lambda r: "brexit" in {h.lower() for h in r["hashtags"] or []}),
    ("hashtag:black*", lambda r: any(h.lower().startswith("black") for h in r["hashtags"] or [])),
    ("domain:bloom.bg", lambda r: "bloom.bg" in (r["domains"] or [])),
    ("domain:co.uk", lambda r: any(d.endswith(".co.uk") for d in r["domains"] or [])),
    ("url:https://bloom.bg/*", lambda r: any(u.startswith("https://bloom.bg/") for u in r["urls_canonical"] or [])),
])
def test_fields_agree_with_python(hb: Hubbub, rows: list[dict], query: str, pred):
    want = expect(rows, pred)
    assert want, f"{query}: no post matches; the test would prove nothing"
    assert ids(hb, query) == want


def test_author_url_and_dataset_argument(hb: Hubbub, rows: list[dict]):
    key = next(r["author_key"] for r in rows if r["author_key"] and r["platform"] == "telegram")
    assert ids(hb, f"author:{key}") == expect(rows, lambda r: r["author_key"] == key)
    url = next(u for r in rows for u in r["urls_canonical"] or [] if "bloom.bg" in u)
    assert ids(hb, f"url:{url}") == expect(rows, lambda r: url in (r["urls_canonical"] or []))
    assert ids(hb, "trump", dataset="texts") == expect(
        rows, lambda r: r["dataset"] == "texts" and has_word(r["text"], "trump"))
    assert ids(hb, "") == expect(rows, lambda r: True)


def test_topic_needs_topics(hb: Hubbub):
    with pytest.raises(QueryError) as ei:
        select(hb.store, "trump topic:3")
    assert "topics were not computed" in ei.value.message and ei.value.position == 7
    assert validate("trump topic:3", hb.store)[0]["position"] == 7


def test_only_the_current_step_version_counts(hb: Hubbub, rows: list[dict]):
    con = hb.store.con
    con.execute("CREATE TEMP TABLE _saved AS SELECT * FROM enrich_lang WHERE lang = 'ja'")
    try:
        con.execute("UPDATE enrich_lang SET step_version = 'old', lang = 'xx' WHERE lang = 'ja'")
        assert ids(hb, "lang:xx") == set()
        assert ids(hb, "lang:ja") == expect(rows, lambda r: r["lang"] is None and r["lang_declared"] == "ja")
    finally:
        con.execute("DELETE FROM enrich_lang WHERE step_version = 'old'")
        con.execute("INSERT INTO enrich_lang SELECT * FROM _saved")
        con.execute("DROP TABLE _saved")


# -- search ------------------------------------------------------------------------------------------
def test_search_pages_sorts_and_counts(hb: Hubbub, rows: list[dict]):
    q = "trump OR clinton"
    want = expect(rows, lambda r: has_word(r["text"], "trump") or has_word(r["text"], "clinton"))
    assert count(hb.store, q) == len(want) == hb.count(q)
    seen = []
    for page in range(1, 100):
        t = search(hb.store, q, page=page, limit=60)
        seen += t.to_pylist()
        if t.num_rows < 60:
            break
    assert {(r["platform"], r["post_id"]) for r in seen} == want and len(seen) == len(want)
    times = [r["created_at"] for r in seen]
    assert times == sorted(times, reverse=True)
    top = hb.search("engagement:>0", sort="engagement", limit=10).to_pylist()
    eng = sorted((sum((r[c] or 0) for c in ("likes", "reposts", "replies", "quotes")) for r in rows), reverse=True)
    assert [r["engagement"] for r in top] == eng[:10]
    with pytest.raises(ValueError):
        search(hb.store, q, sort="random")
