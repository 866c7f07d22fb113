import json
from datetime import UTC, datetime

import orjson
import zstandard
from conftest import FORMATS

from hubbub.privacy import Pseudonymiser
from hubbub.sources.registry import get_source

PS = FORMATS / "reddit-pushshift-ndjson"
RC = PS / "RC_sample_comments.ndjson"
RS = PS / "RS_sample_submissions.ndjson"
PRAW = FORMATS / "reddit-api-praw-cassettes"

# Lines per file, counted independently of hubbub: `grep -c . FILE` (27 and 31, as the README
# says) and `jq -r .id FILE | sort -u | wc -l` (all ids distinct); `[deleted]` authors:
# `jq -c 'select(.author=="[deleted]") | .id' RC_sample_comments.ndjson | wc -l` -> 5 (none in RS).
COMMENTS, SUBMISSIONS, DELETED = 27, 31, 5


def test_dumps_are_detected_and_counted(do_import):
    imp = do_import(PS)  # no format given: both files are sniffed
    files = {f.path.rsplit("/", 1)[-1]: f for f in imp.summary.files}
    assert set(files) == {RC.name, RS.name}
    for f, n in ((files[RC.name], COMMENTS), (files[RS.name], SUBMISSIONS)):
        assert f.format == "reddit-pushshift" and f.status == "ok" and f.error is None, f
        assert (f.read, f.imported, f.duplicate, f.quarantined, f.skipped) == (n, n, 0, 0, 0), f
    assert imp.count("kind = 'comment'") == COMMENTS
    assert imp.count("kind IN ('post', 'repost')") == SUBMISSIONS
    assert imp.count("platform = 'reddit' AND created_at IS NOT NULL") == COMMENTS + SUBMISSIONS


def test_comment_fields(do_import):
    imp = do_import(RC)
    c = imp.post("t1_kod0bkd")  # Arctic Shift era: float created_utc, _meta.retrieved_2nd_on
    assert c["kind"] == "comment"
    assert c["parent_id"] == "t3_1afjd7n" and c["conversation_id"] == "t3_1afjd7n"
    assert c["created_at"] == datetime(2024, 2, 1, 0, 0, 0, tzinfo=UTC)
    assert c["text"] == "Absolutely stunning. Really love this, perfect finish IMO as well."
    assert c["likes"] == 2 and c["replies"] is None
    # counts re-read by Arctic Shift ~36 h later (_meta.retrieved_2nd_on = 1706875209)
    assert c["engagement_at"] == datetime(2024, 2, 2, 12, 0, 9, tzinfo=UTC)
    assert c["author_key"].startswith("acct_")

    old = imp.post("t1_c0cmuol")  # 2009 line: created_utc is a string
    assert old["created_at"] == datetime(2009, 9, 1, 0, 0, 0, tzinfo=UTC)
    assert old["parent_id"] == "t1_c0cmjyg" and old["conversation_id"] == "t3_9fure"
    assert old["text"] == "um. www.cmu.edu proves that we were the *original* CMU. take THAT"
    assert old["engagement_at"] == datetime(2015, 3, 11, 0, 27, 34, tzinfo=UTC)  # retrieved_on
    assert old["likes"] == 0 and old["urls"] == []

    quote = imp.posts("text LIKE '>Nebraska%'")  # the dumps keep the API's HTML escaping
    assert len(quote) == 1 and "&gt;" not in quote[0]["text"]


def test_deleted_authors_get_no_key(do_import):
    imp = do_import(RC)
    gone = imp.post("t1_c15")  # 2005: int created_utc, no "name", author "[deleted]"
    assert gone["author_key"] is None
    assert gone["created_at"] == datetime(2005, 12, 12, 5, 54, 8, tzinfo=UTC)
    assert gone["text"] == "Jython related topics by Frank Wierzbicki"
    assert gone["parent_id"] == "t3_17869"
    assert imp.count("author_key IS NULL") == DELETED
    # no key made from the placeholder: the five would otherwise share one "account"
    placeholder = Pseudonymiser(imp.store.ws.secret()).key("reddit", None, "[deleted]")
    assert imp.count("author_key = ?", [placeholder]) == 0


def test_submission_fields(do_import):
    imp = do_import(RS)
    s = imp.post("t3_87")  # 2005 link post, no retrieval time
    assert s["kind"] == "post" and s["parent_id"] is None and s["conversation_id"] == "t3_87"
    assert s["created_at"] == datetime(2005, 6, 23, 18, 43, 53, tzinfo=UTC)
    assert s["text"] == "The Downing Street Memo"
    assert s["urls"] == ["http://www.downingstreetmemo.com"]
    assert s["domains"] == ["downingstreetmemo.com"]
    assert (s["likes"], s["replies"]) == (183, 390)
    assert s["engagement_at"] is None

    self_post = imp.post("t3_j08bcm")  # self post: title + selftext, links from the text
    assert self_post["created_at"] == datetime(2020, 12, 1, 0, 0, 8, tzinfo=UTC)
    assert self_post["text"].startswith("Monthly Friend and Guild Tracker (December 2020)\n\nPost your friend")
    assert "https://redd.it/j083ok" in self_post["urls"]
    assert not any("/comments/j08bcm/" in u for u in self_post["urls"])  # not its own permalink
    assert self_post["engagement_at"] == datetime(2021, 6, 6, 17, 42, 52, tzinfo=UTC)  # retrieved_utc
    assert (self_post["likes"], self_post["replies"]) == (20, 25)

    xpost = imp.post("t3_1afwvv9")  # a crosspost: Reddit's share of another submission
    assert xpost["kind"] == "repost" and xpost["reposted_id"] == "t3_1abw4nj"
    assert xpost["urls"] == ["https://v.redd.it/74ah6jubbvec1"]

    escaped = imp.post("t3_1v3sg")  # 2007 line with "&amp;" in title and url
    assert escaped["text"] == "NUMBERS & WEB SITES"
    assert escaped["urls"][0].endswith(".xml&coll=1&thispage=23")

    # deleted later (Arctic Shift _meta.was_deleted_later): counts are from the first reading
    assert imp.post("t3_1afwvvg")["engagement_at"] == datetime(2024, 2, 1, 0, 0, 31, tzinfo=UTC)


def test_zstd_dump_and_raw(do_import, tmp_path):
    dump = tmp_path / "RC_2005-12.zst"
    dump.write_bytes(zstandard.ZstdCompressor().compress(RC.read_bytes()))
    imp = do_import(dump)
    (f,) = imp.summary.files
    assert f.format == "reddit-pushshift" and f.imported == COMMENTS
    (row,) = imp.store.query("SELECT raw FROM posts WHERE post_id = 't1_kod0bkd'").to_pylist()
    raw = orjson.loads(row["raw"])
    assert raw["author"].startswith("acct_") and raw["author_fullname"] == raw["author"]
    assert raw["body"].startswith("Absolutely stunning")


def test_same_thing_from_dump_and_api_is_one_post(do_import, tmp_path):
    """Ids and account keys agree with the reddit-api source."""
    body = json.loads((PRAW / "TestReddit.test_info.json").read_text())[0]["body"]
    t1 = next(c["data"] for c in body["data"]["children"] if c["kind"] == "t1")
    line = tmp_path / "RC_2016-09.ndjson"
    line.write_text(json.dumps(t1) + "\n")
    imp = do_import(PRAW / "TestReddit.test_info.json", line)
    api, dump = imp.summary.files
    assert dump.format == "reddit-pushshift" and dump.read == 1 and dump.duplicate == 1
    assert imp.post(f"t1_{t1['id']}")["author_key"] is not None


def test_non_posts_yield_nothing():
    src = get_source("reddit-pushshift")
    assert list(src.map({"display_name": "science", "subscribers": 5, "created_utc": 1})) == []
