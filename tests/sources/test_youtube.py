"""YouTube Data API v3 responses and the YouTube Spam Collection CSVs, imported from the shared data.

Expected numbers were counted independently with the standard library (json / csv.DictReader)
over the shared files; each assertion says how."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
from conftest import FORMATS, SHARED

from hubbub.sources._csvrows import UNBALANCED_QUOTE
from hubbub.sources.registry import detect

YT = FORMATS / "youtube-data-api-v3"
SPAM = SHARED / "youtube-spam-collection"
BUILD_UP = "UC5VgEt3Na1zZDJo-PBa86Rg"  # the channel that owns the videos and answers a comment


def _files(imp) -> dict:
    return {Path(f.path).name: f for f in imp.summary.files}


def _raw(imp, post_id: str) -> bytes:
    """The stored raw record as (valid) JSON bytes."""
    (row,) = imp.store.query("SELECT raw FROM posts WHERE post_id = ?", [post_id]).to_pylist()
    return orjson.dumps(orjson.loads(row["raw"]))


# ---------------------------------------------------------------------------------------------
# Data API v3


def test_api_files_detected_and_counted(do_import):
    imp = do_import(YT)  # the folder, no --format: every file is auto-detected
    files = _files(imp)
    assert {n: f.format for n, f in files.items()} == {
        "channels_list_response.json": "youtube-api",
        "commentThreads_list_response.json": "youtube-api",
        "search_list_response_videos.json": "youtube-api",
    }
    assert all(f.status == "ok" and f.quarantined == 0 for f in files.values())
    # json: 12 items + sum(len(item["replies"]["comments"])) = 1 reply
    assert files["commentThreads_list_response.json"].imported == 13
    # json: 5 items, all with id.kind == "youtube#video"
    assert files["search_list_response_videos.json"].imported == 5
    # 2 channels, no posts: the one document is counted as skipped
    channels = files["channels_list_response.json"]
    assert (channels.read, channels.imported, channels.skipped) == (1, 0, 1)
    assert imp.count() == 18
    assert imp.count("kind = 'comment'") == 12
    assert imp.count("kind = 'reply'") == 1
    assert imp.count("kind = 'post'") == 5
    assert imp.count("platform = 'youtube'") == 18


def test_api_comment_thread_fields(do_import):
    imp = do_import(YT / "commentThreads_list_response.json")

    top = imp.post("UghpFKUJfaHCZHgCoAEC")  # items[10], the one thread with a reply
    assert top["kind"] == "comment"
    assert top["created_at"] == datetime(2016, 9, 25, 6, 19, 41, tzinfo=UTC)
    assert top["parent_id"] is None
    assert top["conversation_id"] == "ibpMob4wgHs"
    assert top["text"].startswith("Thanks for facilitating and sharing this powerful and moving film.")
    assert (top["likes"], top["replies"], top["reposts"], top["views"]) == (0, 1, None, None)
    assert top["engagement_at"] is None
    assert top["source_locator"] == "document items[10]"

    reply = imp.post("UghpFKUJfaHCZHgCoAEC.8JEh4_ERo0a8JFaFXGFIQc")
    assert reply["kind"] == "reply"
    assert reply["parent_id"] == "UghpFKUJfaHCZHgCoAEC"
    assert reply["conversation_id"] == "ibpMob4wgHs"
    assert reply["created_at"] == datetime(2016, 9, 25, 14, 39, 15, tzinfo=UTC)
    assert reply["text"].startswith("Thanks for watching! When the film was made")
    assert reply["author_key"].startswith("acct_") and reply["author_key"] != top["author_key"]
    assert reply["source_locator"] == "document items[10].replies[0]"

    liked = imp.post("Ugy_iutcldn1gg1Vz8F4AaABAg")  # the only comment with likeCount 1
    assert liked["likes"] == 1 and liked["replies"] == 0
    assert liked["created_at"] == datetime(2021, 2, 26, 22, 38, 20, tzinfo=UTC)
    assert liked["text"].startswith("wish us luck! really loved this breakdown")
    assert liked["urls"] == []

    # the stored raw records name no account: authors and the video owner's channel are keys
    for pid in ("UghpFKUJfaHCZHgCoAEC", "UghpFKUJfaHCZHgCoAEC.8JEh4_ERo0a8JFaFXGFIQc"):
        raw = _raw(imp, pid)
        for ident in (BUILD_UP.encode(), b"Build Up", b"InsightShare", b"UCOzeBPoPhME0WMsswHvvj_g"):
            assert ident not in raw, (pid, ident)


def test_api_search_results_are_videos(do_import):
    imp = do_import(YT / "search_list_response_videos.json", YT / "commentThreads_list_response.json")
    v = imp.post("43FuObVOPBE")
    assert v["kind"] == "post"
    assert v["created_at"] == datetime(2021, 10, 27, 1, 26, 31, tzinfo=UTC)
    assert v["text"] == (
        "Conference closing panel\n\nA space for collective reflection. What emerged over the past week? "
        "What do we want to take forward into 2022?"
    )
    assert v["conversation_id"] == "43FuObVOPBE" and v["parent_id"] is None
    assert v["media_types"] == ["video"]
    assert (v["likes"], v["replies"], v["views"]) == (None, None, None)  # search results carry no statistics
    assert imp.post("VegIZobOjYM")["text"].startswith("Keynote: Cape Town’s Community Action Network (CAN)")
    # the channel that published the videos also wrote the reply: one account, one key
    reply = imp.post("UghpFKUJfaHCZHgCoAEC.8JEh4_ERo0a8JFaFXGFIQc")
    assert v["author_key"] == reply["author_key"]


def _write(tmp_path: Path, name: str, obj: dict) -> Path:
    p = tmp_path / name
    p.write_bytes(orjson.dumps(obj))
    return p


def test_api_video_and_comment_lists(do_import, tmp_path):
    """videos.list and comments.list: no shared sample exists; these small responses are written
    here by hand in the documented shape (ids and texts invented)."""
    videos = _write(tmp_path, "videos.json", {
        "kind": "youtube#videoListResponse",
        "items": [{
            "kind": "youtube#video", "id": "vid00000001",
            "snippet": {"publishedAt": "2023-05-01T10:00:00Z", "channelId": "UCchannel0000000000000001",
                        "channelTitle": "Example Channel", "title": "A title",
                        "description": "More at https://example.org/page #tag", "defaultLanguage": "en"},
            "statistics": {"viewCount": "1234", "likeCount": "56", "commentCount": "7", "favoriteCount": "0"},
        }],
    })
    comments = _write(tmp_path, "comments.json", {
        "kind": "youtube#commentListResponse",
        "items": [{
            "kind": "youtube#comment", "id": "Ugparent.reply1",
            "snippet": {"videoId": "vid00000001", "channelId": "UCchannel0000000000000001",
                        "textDisplay": "<a href=\"http://www.youtube.com/channel/UCmention00000000000001\">@someone</a>"
                                       " agreed &amp; more<br>",
                        "parentId": "Ugparent", "authorDisplayName": "@replier",
                        "authorChannelId": {"value": "UCreplier0000000000000001"},
                        "likeCount": 2, "publishedAt": "2023-05-02T11:00:00Z"},
        }],
    })
    imp = do_import(videos, comments)
    assert [f.format for f in imp.summary.files] == ["youtube-api", "youtube-api"]
    v = imp.post("vid00000001")
    assert v["kind"] == "post" and v["text"] == "A title\n\nMore at https://example.org/page #tag"
    assert (v["views"], v["likes"], v["replies"]) == (1234, 56, 7)
    assert v["urls"] == ["https://example.org/page"] and v["hashtags"] == ["tag"]
    assert v["lang_declared"] == "en"
    c = imp.post("Ugparent.reply1")
    assert c["kind"] == "reply" and c["parent_id"] == "Ugparent" and c["conversation_id"] == "vid00000001"
    # no textOriginal (withheld from non-authors): the HTML text, made plain; the linked mention
    # is a pseudonymous key in the text and in mentions
    assert c["text"].endswith(" agreed & more\n") and c["text"].startswith("@acct_")
    assert len(c["mentions"]) == 1 and c["text"] == f"@{c['mentions'][0]} agreed & more\n"
    assert c["likes"] == 2


# ---------------------------------------------------------------------------------------------
# YouTube Spam Collection CSV

# Per file (read, imported, duplicate, quarantined), counted with csv.DictReader: rows; rows with
# an empty DATE (quarantined: no creation time); rows repeating an earlier COMMENT_ID (duplicates).
SPAM_COUNTS = {
    "Youtube01-Psy.csv": (350, 350, 0, 0),
    "Youtube02-KatyPerry.csv": (350, 350, 0, 0),
    "Youtube03-LMFAO.csv": (438, 438, 0, 0),
    # 244 rows without DATE, all labelled spam; line 271, whose stray quote swallowed the 6 rows
    # after it (read on their own: 4 new posts, one more row without DATE and line 276, broken too)
    "Youtube04-Eminem.csv": (453, 207, 0, 246),
    "Youtube05-Shakira.csv": (370, 369, 1, 0),  # one COMMENT_ID appears twice
}


def test_spam_csv_counts(do_import):
    imp = do_import(SPAM)  # the folder, auto-detected
    files = _files(imp)
    assert {n: f.format for n, f in files.items()} == {n: "youtube-spam-csv" for n in SPAM_COUNTS}
    for name, (read, imported, duplicate, quarantined) in SPAM_COUNTS.items():
        f = files[name]
        assert f.status == "ok", f
        assert (f.read, f.imported, f.duplicate, f.quarantined, f.skipped) == (
            read, imported, duplicate, quarantined, 0), f
    assert imp.count() == 350 + 350 + 438 + 207 + 369
    assert imp.count("kind = 'comment' AND platform = 'youtube' AND conversation_id IS NULL") == imp.count()
    q = imp.store.query("SELECT reason, count(*) AS n FROM quarantine GROUP BY reason").to_pylist()
    assert sorted(q, key=lambda r: (r["n"], r["reason"])) == [
        {"reason": "expected 5 fields, found 6", "n": 1}, {"reason": UNBALANCED_QUOTE, "n": 1},
        {"reason": "missing creation time", "n": 244}]
    locs = imp.store.query("SELECT locator FROM quarantine ORDER BY locator").to_pylist()
    assert all(r["locator"].startswith("line ") for r in locs)


def test_spam_csv_fields(do_import):
    imp = do_import(SPAM / "Youtube01-Psy.csv", SPAM / "Youtube03-LMFAO.csv")

    first = imp.post("LZQPQhLyRh80UYxNuaDWhIGQYNQ96IuCg-AYWqNPjpU")  # Psy, first data row
    assert first["created_at"] == datetime(2013, 11, 7, 6, 20, 48, tzinfo=UTC)
    assert first["text"] == "Huh, anyway check out this you[tube] channel: kobyoshi02"
    assert first["kind"] == "comment" and first["parent_id"] is None
    assert first["source_locator"] == "line 2"
    assert first["author_key"].startswith("acct_")
    assert (first["likes"], first["replies"], first["urls"]) == (None, None, [])

    # HTML text: <br /> -> newlines, entities unescaped, hashtag link -> its text, U+FEFF dropped
    html = imp.post("z13tczjy5xj0vjmu5231unho1ofey5zdk")
    assert html["text"].startswith("Hey guys, I'm a human.\n\n\nBut I don't want to be a human")
    assert html["text"].endswith("check out my first song! #giraffebruuh")
    assert html["hashtags"] == ["giraffebruuh"]
    assert html["created_at"] == datetime(2015, 5, 28, 19, 23, 35, 355000, tzinfo=UTC)

    link = imp.post("z13mgtcxivevf3thn04cdvty0sqzuteqpys0k")
    assert link["urls"] == ["https://play.google.com/store/apps/details?id=vn.ibit.AppLocker&hl=en"]
    assert link["domains"] == ["play.google.com"]
    assert link["text"] == (
        "Check out our app to solve all your party/drunk problems!\xa0\n"
        "https://play.google.com/store/apps/details?id=vn.ibit.AppLocker&hl=en"
    )

    # two comments by one author (same AUTHOR), each mentioning the same Google+ profile
    a = imp.post("z13si3qrjn3ae1m0s235g5wpgqqmfpgee")
    b = imp.post("z132wbtj1qazyhruq235g5wpgqqmfpgee")
    assert a["author_key"] == b["author_key"]
    assert len(a["mentions"]) == 1 and a["mentions"] == b["mentions"]
    assert b"JS Scott" not in _raw(imp, a["post_id"])


def test_not_youtube_files_are_not_claimed():
    for p in (SHARED / "crowdtangle-link-shares-pycoornet" / "sample_source_urls.csv",
              SHARED / "crowdtangle-link-shares-pycoornet" / "mediacloud_stories_telesurenglish2017-1000.csv",
              FORMATS / "facebook-crowdtangle-api" / "facebook_scraped_post_comments_ar.json"):
        src, _ = detect(p.read_bytes()[:65536], p.name)
        assert src is None or not src.name.startswith("youtube"), p


def test_spam_csv_bad_rows_are_quarantined_alone(do_import, tmp_path):
    """Hand-written file in the collection's shape: a quoted field over two lines, a row with too
    few fields and a row with bytes that are not UTF-8; the other rows are imported."""
    p = tmp_path / "Youtube99-Test.csv"
    p.write_bytes(
        b"\xef\xbb\xbfCOMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\r\n"
        b'c1,Ann,2015-01-01T00:00:00,"two\r\nlines",0\r\n'
        b"c2,Bob,2015-01-02T00:00:00\r\n"
        b"c3,Cy,2015-01-03T00:00:00,bad \xff byte,1\r\n"
        b"c4,Di,2015-01-04T00:00:00,fine,0\r\n"
    )
    imp = do_import(p)
    (f,) = imp.summary.files
    assert (f.format, f.status, f.read, f.imported, f.quarantined) == ("youtube-spam-csv", "ok", 4, 2, 2)
    assert imp.post("c1")["text"] == "two\r\nlines" and imp.post("c1")["source_locator"] == "line 2"
    assert imp.post("c4")["source_locator"] == "line 6"
    q = imp.store.query("SELECT locator, reason FROM quarantine ORDER BY locator").to_pylist()
    assert q == [{"locator": "line 4", "reason": "expected 5 fields, found 3"},
                 {"locator": "line 5", "reason": "not valid UTF-8 text"}]
