import copy
import json
from datetime import UTC, datetime

import orjson
from conftest import FORMATS

from hubbub.sources.registry import get_source

V1 = FORMATS / "twitter-api-tweepy-cassettes" / "v1.1"

# Statuses per file, counted independently of hubbub with jq over the recorded bodies:
#   jq '[.[].body | if type=="array" then .[] elif has("statuses") then .statuses[]
#        else . end | select(type=="object" and has("text") and has("id_str"))] | length'
# All 94 ids are distinct. Files without statuses are counted per recorded body (`jq length`):
# each body is one record that holds no post and is skipped.
STATUSES = {
    "getretweets.json": 15,
    "getstatus.json": 1,
    "hometimeline.json": 19,
    "listtimeline.json": 20,
    "searchtweets.json": 15,
    "usertimeline.json": 24,
}
NO_POSTS = {"geoapis.json": 3, "getlistmembers.json": 1, "lookupusers.json": 2, "searchusers.json": 1}


def _by_name(imp):
    return {f.path.rsplit("/", 1)[-1]: f for f in imp.summary.files}


def test_every_v11_recording_is_detected_and_counted(do_import):
    imp = do_import(V1)  # no format given: every file is sniffed
    files = _by_name(imp)
    assert set(files) == set(STATUSES) | set(NO_POSTS)
    for name, f in files.items():
        assert f.format == "twitter-v1", (name, f.format)
        assert f.status == "ok" and f.error is None and f.quarantined == 0, f
    for name, n in STATUSES.items():
        assert files[name].read == n and files[name].imported == n, files[name]
    for name, n in NO_POSTS.items():
        assert files[name].read == n and files[name].skipped == n and files[name].imported == 0
    assert imp.count() == 94
    assert imp.count("platform = 'twitter'") == 94


def test_reply_with_photo(do_import):
    imp = do_import(V1 / "usertimeline.json")
    p = imp.post("1341793727208181762")  # @Twitter replying "@TreyNKennedy 👀 <photo>"
    assert p["kind"] == "reply"
    assert p["parent_id"] == "1341404809354760192"
    assert p["reposted_id"] is None and p["quoted_id"] is None and p["conversation_id"] is None
    assert p["created_at"] == datetime(2020, 12, 23, 17, 12, 8, tzinfo=UTC)
    assert p["text"].startswith("@acct_") and p["text"].endswith(" 👀 https://t.co/1CZ6VbgaIL")
    assert "TreyNKennedy" not in p["text"]
    assert p["lang_declared"] is None  # "und"
    assert p["media_types"] == ["photo"]
    assert p["domains"] == ["twitter.com"]  # the photo page
    assert (p["likes"], p["reposts"], p["replies"], p["quotes"], p["views"]) == (1043, 100, None, None, None)
    assert p["engagement_at"] is None
    assert p["author_key"].startswith("acct_") and len(p["mentions"]) == 1


def test_retweet_and_post_with_hashtags(do_import):
    imp = do_import(V1 / "searchtweets.json")
    rt = imp.post("1149603041349259266")  # tweepy_pie retweeting @Independent
    assert rt["kind"] == "repost"
    assert rt["reposted_id"] == "1149602393828364294"
    assert rt["parent_id"] is None and rt["quoted_id"] is None
    assert rt["created_at"] == datetime(2019, 7, 12, 8, 54, 58, tzinfo=UTC)
    assert rt["text"].startswith("RT @acct_") and "Independent" not in rt["text"]
    assert rt["text"].endswith(": Passengers violently ejected from their seats on turbulent flight "
                               "https://t.co/lf6TX6XBHD")
    assert rt["domains"] == ["independent.co.uk"]
    assert (rt["likes"], rt["reposts"]) == (0, 16)
    assert rt["lang_declared"] == "en"

    p = imp.post("1149698684646563840")  # @curated_data, a plain post with a link
    assert p["kind"] == "post"
    assert p["parent_id"] is None and p["reposted_id"] is None
    assert p["created_at"] == datetime(2019, 7, 12, 15, 15, 1, tzinfo=UTC)
    assert p["text"] == ("Scrape Tweets from Twitter using Python and Tweepy #data #tweets #python #twitter "
                         "https://t.co/JJfExblgzY")
    assert p["hashtags"] == ["data", "tweets", "python", "twitter"]
    assert p["urls"] == ["https://www.data-blogger.com/2017/02/24/gathering-tweets-with-python/"]
    assert p["domains"] == ["data-blogger.com"]
    assert (p["likes"], p["reposts"]) == (1, 0)

    gif = imp.post("1149825924029980674")
    assert gif["kind"] == "repost" and gif["media_types"] == ["animated_gif"]


def test_urls_are_expanded_when_handles_are_kept(do_import):
    imp = do_import(V1 / "searchtweets.json", keep_handles=True)
    rt = imp.post("1149603041349259266")
    assert rt["author_handle"] == "tweepy_pie"
    assert rt["urls"] == [
        "https://www.independent.co.uk/travel/news-and-advice/air-canada-flight-turbulence-plane-hawaii-"
        "landing-vancouver-sydney-a9001731.html?utm_medium=Social&utm_source=Twitter#Echobox=1562921543"
    ]


def test_raw_is_valid_json_without_account_names(do_import):
    imp = do_import(V1 / "getretweets.json", V1 / "usertimeline.json", V1 / "searchtweets.json")
    rows = imp.store.query("SELECT post_id, raw FROM posts").to_pylist()
    assert len(rows) == 15 + 24 + 15
    for r in rows:
        raw = orjson.loads(r["raw"])  # numeric account ids must not break the JSON
        assert raw["id_str"] == r["post_id"]
        assert raw["user"]["screen_name"].startswith("acct_")
        assert isinstance(raw["user"]["id"], str) and raw["user"]["id"].startswith("acct_")
        for m in raw["entities"]["user_mentions"]:
            assert m["screen_name"].startswith("acct_") and m["id_str"].startswith("acct_")


def _search_statuses() -> list[dict]:
    body = json.loads((V1 / "searchtweets.json").read_text())[0]["body"]
    return body["statuses"]


def test_jsonl_array_and_search_response_files(do_import, tmp_path):
    statuses = _search_statuses()
    jsonl = tmp_path / "statuses.jsonl"
    jsonl.write_bytes(b"\n".join(orjson.dumps(s) for s in statuses) + b"\n")
    array = tmp_path / "statuses.json"
    array.write_bytes(orjson.dumps(statuses, option=orjson.OPT_INDENT_2))
    search = tmp_path / "search.json"
    search.write_bytes(orjson.dumps({"statuses": statuses, "search_metadata": {"count": 15}}))
    for i, path in enumerate((jsonl, array, search)):
        imp = do_import(path)
        (f,) = imp.summary.files
        assert f.format == "twitter-v1" and f.status == "ok", f
        assert f.read == 15 and f.quarantined == 0 and f.skipped == 0, f
        # the same 15 statuses each time: new in the first file, duplicates after
        assert (f.imported, f.duplicate) == ((15, 0) if i == 0 else (0, 15)), f
        assert imp.count() == 15


def test_extended_and_quote_fields():
    src = get_source("twitter-v1")
    st = copy.deepcopy(_search_statuses()[6])  # the @curated_data post, made a long quote tweet
    st["truncated"] = True
    st["text"] = "Scrape Tweets from Twitter using Python and Tweepy #data #tweets… https://t.co/x"
    st["extended_tweet"] = {
        "full_text": "Scrape Tweets from Twitter using Python and Tweepy #data #tweets, all of them",
        "entities": {"hashtags": [{"text": "data"}, {"text": "tweets"}], "urls": [], "user_mentions": []},
    }
    st["quoted_status_id_str"] = "1149016022558683136"
    st["quote_count"], st["reply_count"] = 3, 4
    (d,) = src.map(st)
    assert d["text"].endswith("all of them")
    assert d["hashtags"] == ["data", "tweets"] and d["urls"] == []
    assert d["kind"] == "quote" and d["quoted_id"] == "1149016022558683136"
    assert (d["quotes"], d["replies"]) == (3, 4)


def test_non_status_payloads_yield_nothing():
    src = get_source("twitter-v1")
    users = json.loads((V1 / "lookupusers.json").read_text())[0]["body"]
    assert list(src.map(users)) == []
    assert list(src.map({"errors": [{"code": 34, "message": "Sorry, that page does not exist."}]})) == []


def test_retweets_carry_the_whole_text_of_retweeted_status(do_import):
    """Issue 9.2 for v1.1: a retweet's own text is cut; ``retweeted_status`` holds it whole."""
    rts = []
    for name in STATUSES:
        for rec in json.loads((V1 / name).read_text()):
            body = rec["body"]
            for st in body if isinstance(body, list) else body.get("statuses") or [body]:
                o = st.get("retweeted_status") if isinstance(st, dict) else None
                if o:
                    full = (o.get("extended_tweet") or {}).get("full_text") or o.get("full_text") or o["text"]
                    full = full.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                    own = st.get("full_text") or st["text"]
                    # a compatibility-mode original that is itself cut ("truncated") has no whole text
                    whole = "extended_tweet" in o or "full_text" in o or not o.get("truncated")
                    rts.append((st["id_str"], o["user"]["screen_name"], full if whole else None, own))
    cut = [r for r in rts if r[3].endswith("…")]
    # in these recordings every cut retweet retweets an original that is cut too: nothing to mend
    assert len(rts) == 24 and len(cut) == 4 and all(r[2] is None for r in cut)
    imp = do_import(*(V1 / n for n in STATUSES), dataset="named", keep_handles=True)
    for rid, handle, full, own in rts:
        text = imp.post(rid)["text"]
        assert text.lower().startswith(f"rt @{handle.lower()}: ")
        assert text.endswith(": " + full) if full else text == own
    assert imp.count("kind = 'repost' AND text LIKE '%…'") == 4


def test_streamed_retweet_takes_the_extended_tweet_of_its_original():
    """The streaming API's shape: a cut retweet whose ``retweeted_status`` carries ``extended_tweet``
    (the real tweepy_pie retweet of @Independent, its original made a long tweet)."""
    src = get_source("twitter-v1")
    st = copy.deepcopy(_search_statuses()[12])
    assert st["id_str"] == "1149603041349259266"
    o = st["retweeted_status"]
    whole = o["text"].replace(" https://t.co/lf6TX6XBHD", "") + ", the airline said on Friday &amp; more"
    o["truncated"] = True
    o["extended_tweet"] = {"full_text": whole, "entities": {
        "hashtags": [{"text": "travel"}], "user_mentions": [{"screen_name": "AirCanada", "id_str": "17905275"}],
        "urls": [{"url": "https://t.co/x", "expanded_url": "https://example.org/story"}]}}
    st["text"] = "RT @Independent: " + whole[:100] + "…"
    (d,) = src.map(st)
    assert d["text"] == "RT @Independent: " + whole.replace("&amp;", "&")
    assert d["hashtags"] == ["travel"] and ("17905275", "AirCanada") in d["mentions"]
    assert ("https://t.co/x", "https://example.org/story") in d["urls"]
