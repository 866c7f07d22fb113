from datetime import UTC, datetime

from conftest import FORMATS

V2 = FORMATS / "twitter-api-v2-twarc2"
TWEEPY_V2 = FORMATS / "twitter-api-tweepy-cassettes" / "v2"


def test_twarc2_pages_counts_and_fields(do_import):
    imp = do_import(V2 / "two_tweets.jsonl", V2 / "entities_test.jsonl", V2 / "brexit.jsonl")
    by_file = {f.path.rsplit("/", 1)[-1]: f for f in imp.summary.files}
    assert by_file["two_tweets.jsonl"].imported == 1
    assert by_file["entities_test.jsonl"].imported == 474
    assert by_file["brexit.jsonl"].read == 100
    assert imp.count() == 1 + 474 + 100 - by_file["brexit.jsonl"].duplicate

    rt = imp.post("1394735776701816833")
    assert rt["kind"] == "repost"
    assert rt["reposted_id"] == "1391677057810288641"
    assert rt["created_at"] == datetime(2021, 5, 18, 19, 24, 56, tzinfo=UTC)
    assert rt["hashtags"] == ["POIUYTREWQ"]
    assert rt["author_key"].startswith("acct_")
    # the mentioned handle is pseudonymised in the text too
    assert "bibaigna96" not in rt["text"]
    assert rt["text"].startswith("RT @acct_") and rt["text"].endswith(": #POIUYTREWQ")
    assert rt["likes"] == 0 and rt["reposts"] == 1
    assert rt["mentions"] and rt["mentions"][0].startswith("acct_")


def test_flat_tweets(do_import):
    imp = do_import(V2 / "flat.jsonl")
    assert imp.summary.files[0].imported == 100
    rows = imp.posts()
    assert {r["kind"] for r in rows} <= {"post", "reply", "repost", "quote"}
    assert all(r["created_at"] is not None and r["text"] for r in rows)


def test_urls_expanded_and_canonical(do_import):
    imp = do_import(V2 / "many_urls.jsonl")
    (p,) = imp.posts()
    assert p["urls"] == ["https://uiadrian.gumroad.com/l/web-design-guide/?offer_code=twk0uc9f7"]
    assert p["urls_canonical"] == ["https://uiadrian.gumroad.com/l/web-design-guide?offer_code=twk0uc9f7"]
    assert all(not u.startswith("https://t.co/") for u in p["urls"]), p["urls"]
    assert p["domains"] == ["uiadrian.gumroad.com"]


def test_streaming_with_error_lines_quarantined(do_import):
    imp = do_import(V2 / "streaming_output_with_error.jsonl")
    f = imp.summary.files[0]
    assert f.quarantined == 1 and f.imported == 7
    q = imp.store.query("SELECT locator, reason FROM quarantine").to_pylist()
    assert q[0]["locator"].startswith("line ") and "JSON" in q[0]["reason"]


def test_non_tweet_outputs_are_skipped_not_failed(do_import):
    imp = do_import(V2 / "counts.jsonl", V2 / "users.jsonl")
    for f in imp.summary.files:
        assert f.status == "ok" and f.imported == 0 and f.skipped > 0


def test_reimport_adds_nothing(do_import):
    imp = do_import(V2 / "brexit.jsonl")
    n = imp.count()
    skipped = do_import(V2 / "brexit.jsonl")
    assert skipped.summary.files[0].status == "already-imported"
    again = do_import(V2 / "brexit.jsonl", force=True)
    assert again.summary.files[0].imported == 0
    assert again.summary.files[0].duplicate == again.summary.files[0].read
    assert again.count() == n


def test_tweepy_v2_cassettes(do_import):
    imp = do_import(TWEEPY_V2 / "client_search_recent_tweets.json", TWEEPY_V2 / "client_get_tweet.json")
    assert imp.summary.total("imported") >= 2
    assert all(f.status == "ok" for f in imp.summary.files)


def test_default_fields_only_tweets_get_time_from_snowflake_id(do_import):
    imp = do_import(TWEEPY_V2 / "client_search_recent_tweets.json")
    p = imp.post("1578516068309794817")
    # the text is the time the tweet was sent (tweepy's test bot), in UTC
    assert p["created_at"].strftime("%Y-%m-%d %H:%M:%S") == "2022-10-07 22:42:12"
    assert p["author_key"] is None
