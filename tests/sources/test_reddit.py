from datetime import UTC, datetime

import orjson
from conftest import FORMATS

from hubbub.sources.registry import get_source

PRAW = FORMATS / "reddit-api-praw-cassettes"

# Per file: (t1 + t3 things, distinct fullnames, recorded bodies holding no thing), counted
# independently of hubbub with jq, walking every nested Listing / replies / morechildren:
#   jq '[.. | objects | select(.kind=="t1" or .kind=="t3")] | length'
#   jq -r '.. | objects | select(.kind=="t1" or .kind=="t3") | .data.name' | sort -u | wc -l
#   jq '[.[].body | select([.. | objects | select(.kind=="t1" or .kind=="t3")] | length == 0)] | length'
# The things agree with the folder README (e.g. 4 t3 + 1,431 t1 in the comment forest). Repeats
# are the thread re-fetched by permalink and overlapping stream pages; they count as duplicates.
EXPECTED = {
    "TestCommentForest.test_replace__all_large.json": (1435, 1429, 11),
    "TestListingGenerator.test_exhaust_items.json": (1001, 1001, 0),
    "TestMore.test_comments.json": (484, 484, 0),
    "TestReddit.test_info.json": (197, 197, 0),  # 100 t1 + 97 t3; its 100 t5 are skipped
    "TestRedditor.test_stream__comments.json": (394, 101, 1),
    "TestSubredditStreams.test_comments.json": (1193, 417, 6),
    "TestSubredditStreams.test_submissions.json": (104, 104, 0),
    "TestSubreddits.test_new.json": (0, 0, 3),  # t5 subreddits only
}


def test_every_praw_recording_is_detected_and_counted(do_import):
    imp = do_import(PRAW)  # no format given: every file is sniffed
    files = {f.path.rsplit("/", 1)[-1]: f for f in imp.summary.files}
    assert set(files) == set(EXPECTED)
    for name, (things, distinct, empty) in EXPECTED.items():
        f = files[name]
        assert f.format == "reddit-api" and f.status == "ok" and f.error is None, f
        assert f.quarantined == 0, f
        assert f.read == things + empty, f
        assert f.imported == distinct and f.duplicate == things - distinct, f
        assert f.skipped == empty, f
    # the files share no thing, so the store holds the sum of the distinct ones
    assert imp.count() == sum(d for _, d, _ in EXPECTED.values())
    assert imp.count("kind = 'post'") == 1 + 11 + 1 + 97 + 104  # distinct t3 (jq, as above)
    assert imp.count("kind NOT IN ('post', 'comment')") == 0


def test_comment_fields(do_import):
    imp = do_import(PRAW / "TestReddit.test_info.json")
    c = imp.post("t1_d7ltv00")
    assert c["platform"] == "reddit" and c["kind"] == "comment"
    assert c["parent_id"] == "t1_d7lrj2i"  # fullname, as the parent's post_id
    assert c["conversation_id"] == "t3_52ntoz"
    assert c["created_at"] == datetime(2016, 9, 14, 1, 17, 20, tzinfo=UTC)
    assert c["text"] == ("Michelle Bachman is Trump's foreign policy expert. They're not going anywhere. "
                         "Trump is fully embracing these loonies.")
    assert c["urls"] == [] and c["hashtags"] == [] and c["mentions"] == []
    assert (c["likes"], c["reposts"], c["replies"], c["views"]) == (2, None, None, None)
    assert c["engagement_at"] is None
    assert c["author_key"].startswith("acct_")

    s = imp.post("t3_5dec00")  # a self post: title + selftext, no link
    assert s["kind"] == "post" and s["parent_id"] is None and s["conversation_id"] == "t3_5dec00"
    assert s["created_at"] == datetime(2016, 11, 17, 6, 12, 44, tzinfo=UTC)
    assert s["text"] == ("Class choice question\n\nIs cs 105 worth it to take or should I take fin 221 "
                         "instead? \nHow is fin 221 if you have taken it and what is the work load like?")
    assert s["urls"] == []
    assert (s["likes"], s["replies"]) == (1, 0)


def test_link_submission(do_import):
    imp = do_import(PRAW / "TestSubredditStreams.test_submissions.json")
    s = imp.post("t3_5jo13v")
    assert s["kind"] == "post"
    assert s["created_at"] == datetime(2016, 12, 22, 2, 17, 30, tzinfo=UTC)
    assert s["text"] == "India rupee crisis: Tourists struggle without cash"
    assert s["urls"] == ["http://www.bbc.com/news/world-asia-india-38392708"]
    assert s["domains"] == ["bbc.com"]
    assert (s["likes"], s["replies"]) == (1, 0)
    assert s["media_types"] == []
    v = imp.post("t3_5jo13y")  # a YouTube link
    assert v["media_types"] == ["video"] and v["domains"] == ["youtube.com"]


def test_nested_replies_are_walked(do_import):
    imp = do_import(PRAW / "TestMore.test_comments.json")
    top = imp.post("t1_cu5pebp")
    assert top["parent_id"] == "t3_3hahrw" and top["conversation_id"] == "t3_3hahrw"
    assert top["created_at"] == datetime(2015, 8, 17, 8, 45, 51, tzinfo=UTC)
    deep = imp.post("t1_cu5tgzu")  # a reply to a reply, two Listings down
    assert deep["kind"] == "comment"
    assert deep["parent_id"] == "t1_cu5sye5"
    assert deep["conversation_id"] == "t3_3hahrw"
    assert deep["created_at"] == datetime(2015, 8, 17, 12, 58, 17, tzinfo=UTC)
    assert deep["text"] == ">I have a glandular problem! "
    assert deep["likes"] == 229
    # a comment's stored raw record does not carry its replies (they are posts of their own)
    (raw,) = imp.store.query("SELECT raw FROM posts WHERE post_id = 't1_cu5pebp'").to_pylist()
    assert "replies" not in orjson.loads(raw["raw"])
    assert imp.post("t3_3hahrw")["replies"] == 543


def test_user_mentions_are_pseudonymised_in_raw(do_import):
    imp = do_import(PRAW / "TestSubredditStreams.test_comments.json")
    c = imp.post("t1_dbhn10i")
    assert len(c["mentions"]) == 1 and c["mentions"][0].startswith("acct_")
    (row,) = imp.store.query("SELECT raw FROM posts WHERE post_id = 't1_dbhn10i'").to_pylist()
    raw = orjson.loads(row["raw"])
    assert raw["author"] == c["author_key"]
    assert "MWrathDev" not in raw["body"] and raw["body"].startswith("/u/acct_")


def test_same_account_same_key_across_files(do_import):
    imp = do_import(PRAW / "TestRedditor.test_stream__comments.json")
    # one account's comment stream: every comment has the same author key
    assert imp.count() == 101
    assert len({p["author_key"] for p in imp.posts()}) == 1


def test_map_shapes():
    src = get_source("reddit-api")
    t1 = {"kind": "t1", "data": {"id": "abc", "name": "t1_abc", "author": "[deleted]", "body": "x &amp; y",
                                 "created_utc": 1500000000, "parent_id": "t3_zz", "link_id": "t3_zz",
                                 "score": 3, "replies": ""}}
    (d,) = src.map({"json": {"errors": [], "data": {"things": [t1, {"kind": "more", "data": {}}]}}})
    assert d["post_id"] == "t1_abc" and d["author_handle"] is None and d["text"] == "x & y"
    assert list(src.map({"kind": "Listing", "data": {"children": [{"kind": "t5", "data": {"id": "s"}}]}})) == []
    assert list(src.map({"json": {"errors": [], "data": {"things": []}}})) == []
