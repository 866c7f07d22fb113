"""Bluesky / AT Protocol posts (source ``bluesky``), on the real XRPC responses in
platform-formats/bluesky-xrpc-atproto (see its README). Jetstream, feeds and facets have no real
capture there: those tests wrap the real post records and views in the documented shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from conftest import FORMATS

B = FORMATS / "bluesky-xrpc-atproto"
DID = "did:plc:kvwvcn5iqfooopmyzvb4qzba"  # the SDK's test account, author of every sample post

# Posts per file, counted independently of the source with jq: distinct (by uri) objects whose
# record/value has $type app.bsky.feed.post, anywhere in the document:
#   jq '[.. | objects | select(((.record? // .value?) | type == "object")
#        and ((.record? // .value?)["$type"]? == "app.bsky.feed.post") and (.uri|type=="string"))]
#       | unique_by(.uri) | length' FILE
POSTS = {
    "post_record.json": 1,
    "extended_post_record.json": 1,
    "thread_view_post_with_embed_media.json": 2,  # the thread's post and the post it quotes
}
NO_POSTS = [  # one document each, read and skipped
    "custom_record.json",  # $type app.bsky.feed.pythonSdkCustomRecordPost: not a post
    "did_doc.json",
    "extended_like_record.json",
    "feed_record.json",  # a feed generator record
    "get_follows.json",
    "like_record.json",
    "resolve_handle.json",
]


def test_every_file_is_detected_and_counted(do_import):
    imp = do_import(B)  # the whole folder, formats auto-detected
    files = {Path(f.path).name: f for f in imp.summary.files}
    assert set(files) == set(POSTS) | set(NO_POSTS)
    for f in files.values():
        assert f.status == "ok" and f.format == "bluesky", f
        assert f.quarantined == 0 and f.duplicate == 0, f
    for name, n in POSTS.items():
        assert files[name].imported == files[name].read == n, name
    for name in NO_POSTS:
        assert (files[name].read, files[name].imported, files[name].skipped) == (1, 0, 1), name
    assert imp.count() == sum(POSTS.values()) == 4
    assert imp.count("platform = 'bluesky'") == 4


def test_thread_view_post_quote_with_image(do_import):
    imp = do_import(B / "thread_view_post_with_embed_media.json")
    p = imp.post(imp.pid("bluesky", f"at://{DID}/app.bsky.feed.post/3kaheyt6vpc22"))
    # the DID in the uri is replaced by the author's key: the stored id names no account
    assert p["post_id"] == f"at://{p['author_key']}/app.bsky.feed.post/3kaheyt6vpc22"
    assert DID not in p["post_id"] and "did:" not in p["post_id"]
    assert p["created_at"] == datetime(2023, 9, 28, 12, 49, 36, 735000, tzinfo=UTC)
    assert p["text"] == ""
    assert p["kind"] == "quote"
    assert p["quoted_id"] == imp.pid("bluesky", f"at://{DID}/app.bsky.feed.post/3kahesw26il2z")
    assert p["parent_id"] is None and p["conversation_id"] == p["post_id"]
    assert p["media_types"] == ["image"]
    assert p["urls"] == [] and p["lang_declared"] == "en"
    assert (p["likes"], p["reposts"], p["replies"], p["quotes"], p["views"]) == (0, 0, 0, None, None)
    assert p["engagement_at"] is None
    assert p["author_key"].startswith("acct_")
    raw = imp.store.query("SELECT raw FROM posts WHERE post_id = ?", [p["post_id"]]).to_pylist()[0]["raw"]
    assert DID not in raw and "test.marshal.dev" not in raw and "Python SDK" not in raw

    q = imp.post(p["quoted_id"])  # the quoted post, from the embed view
    assert q["text"] == "test" and q["kind"] == "post"
    assert q["created_at"] == datetime(2023, 9, 28, 12, 46, 18, 414000, tzinfo=UTC)
    assert q["author_key"] == p["author_key"]
    assert (q["likes"], q["reposts"], q["replies"]) == (0, 0, 0)


def test_get_record_posts(do_import):
    imp = do_import(B / "post_record.json", B / "extended_post_record.json", B / "custom_record.json")
    p = imp.post(imp.pid("bluesky", f"at://{DID}/app.bsky.feed.post/3k2yihcrp6f2c"))
    assert p["text"] == "new text114" and p["kind"] == "post"
    assert p["created_at"] == datetime(2024, 2, 22, 19, 58, 13, 903293, tzinfo=UTC)
    assert p["lang_declared"] is None and p["urls"] == [] and p["likes"] is None
    e = imp.post(imp.pid("bluesky", f"at://{DID}/app.bsky.feed.post/3k2yinh52ne2x"))
    assert e["text"] == "regress test" and e["lang_declared"] == "en"
    assert e["created_at"] == datetime(2023, 7, 21, 1, 33, 51, 481951, tzinfo=UTC)  # naive = UTC
    assert e["author_key"] == p["author_key"]  # the DID in the uri is the author
    assert imp.count() == 2  # the custom record type with the same uri is not a post


def _record(name: str) -> dict:
    return json.loads((B / name).read_text())


def _jetstream(rec: dict, time_us: int) -> dict:
    """The documented Jetstream commit event around a getRecord answer (same did, rkey, record)."""
    _, _, did, collection, rkey = rec["uri"].split("/")
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": "3l3qo2vutsw2b", "operation": "create", "collection": collection,
                       "rkey": rkey, "record": rec["value"], "cid": rec["cid"]}}


def test_jetstream_events(do_import, tmp_path):
    post, ext, like = _record("post_record.json"), _record("extended_post_record.json"), _record("like_record.json")
    events = [
        _jetstream(post, 1708631893950000),
        _jetstream(ext, 1689903231500000),
        _jetstream(like, 1693054591100000),  # a like: not a post
        {"did": DID, "time_us": 1708631893960000, "kind": "commit",
         "commit": {"rev": "3l3qo2vutsw2c", "operation": "delete", "collection": "app.bsky.feed.post",
                    "rkey": "3k2yihcrp6f2c"}},
        {"did": DID, "time_us": 1708631893970000, "kind": "identity",
         "identity": {"did": DID, "handle": "test.marshal.dev", "seq": 1, "time": "2024-02-22T19:58:14Z"}},
    ]
    path = tmp_path / "jetstream.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    imp = do_import(path)
    f = imp.summary.files[0]
    assert (f.format, f.read, f.imported, f.skipped, f.quarantined) == ("bluesky", 5, 2, 3, 0)
    p = imp.post(imp.pid("bluesky", post["uri"]))
    assert p["text"] == "new text114" and p["kind"] == "post"
    assert p["created_at"] == datetime(2024, 2, 22, 19, 58, 13, 903293, tzinfo=UTC)  # createdAt, not time_us
    assert p["source_locator"] == "line 1"
    e = imp.post(imp.pid("bluesky", ext["uri"]))
    assert e["text"] == "regress test" and e["lang_declared"] == "en" and e["parent_id"] is None


def test_feed_with_repost_and_reply(do_import, tmp_path):
    """A getAuthorFeed-shaped page around the real post views: the thread's post reposted by a
    real profile from get_follows.json (the reason is made up), and a reply to it built from
    the real post_record value."""
    view = _record("thread_view_post_with_embed_media.json")["thread"]["post"]
    why = _record("get_follows.json")["follows"][0]
    reposter = {k: why[k] for k in ("did", "handle", "displayName")}
    reply_rec = dict(_record("post_record.json")["value"])
    root = {"uri": view["uri"], "cid": view["cid"]}
    reply_rec["reply"] = {"root": root, "parent": root}
    reply_view = {"uri": f"at://{DID}/app.bsky.feed.post/3k2yihcrp6f2c", "cid": "bafyreifzi5xyrf3c5jw7cci4",
                  "author": view["author"], "record": reply_rec, "replyCount": 0, "repostCount": 0,
                  "likeCount": 2, "quoteCount": 0, "indexedAt": "2024-02-22T19:58:14.000Z"}
    page = {"feed": [
        {"post": view, "reason": {"$type": "app.bsky.feed.defs#reasonRepost", "by": reposter,
                                  "indexedAt": "2024-03-01T10:00:00.000Z"}},
        {"post": reply_view, "reply": {"root": view, "parent": view}},
    ], "cursor": "2024-02-22T19:58:14.000Z"}
    path = tmp_path / "author_feed.json"
    path.write_text(json.dumps(page))
    imp = do_import(path)
    f = imp.summary.files[0]
    # repost row + reposted post + quoted post (embed) + reply; the reply's root/parent repeat the
    # reposted post (one post, imported once)
    assert (f.format, f.imported, f.read, f.duplicate) == ("bluesky", 4, 4, 0)

    (rp,) = imp.posts("kind = 'repost'")
    assert rp["post_id"].startswith("h:")  # no repost record uri in the reason: keyed by content
    assert rp["reposted_id"] == imp.pid("bluesky", view["uri"])
    assert rp["created_at"] == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert rp["author_key"] != imp.post(imp.pid("bluesky", view["uri"]))["author_key"]
    assert rp["text"] == "" and rp["media_types"] == ["image"] and rp["likes"] is None

    r = imp.post(imp.pid("bluesky", reply_view["uri"]))
    assert r["kind"] == "reply" and r["parent_id"] == r["conversation_id"] == imp.pid("bluesky", view["uri"])
    assert r["likes"] == 2 and r["text"] == "new text114"


def _facet_record() -> dict:
    """Facets as documented (docs.bsky.app, 'Links, mentions, and rich text'), on the real
    post_record (same uri, createdAt); byte offsets count UTF-8 bytes (the emoji is 4)."""
    rec = _record("post_record.json")
    text = "🦋 Go to this site, ask @why.bsky.team #atproto"
    b = text.encode()
    link = (b.index(b"this site"), b.index(b"this site") + len(b"this site"))
    men = (b.index(b"@why"), b.index(b"@why") + len(b"@why.bsky.team"))
    tag = (b.index(b"#atproto"), len(b))
    why = "did:plc:vpkhqolt662uhesyj6nxm7ys"
    rec["value"] = dict(rec["value"], text=text, langs=["en"], tags=["bsky"], facets=[
        {"index": {"byteStart": link[0], "byteEnd": link[1]},
         "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/"}]},
        {"index": {"byteStart": men[0], "byteEnd": men[1]},
         "features": [{"$type": "app.bsky.richtext.facet#mention", "did": why}]},
        {"index": {"byteStart": tag[0], "byteEnd": tag[1]},
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "atproto"}]},
    ], embed={"$type": "app.bsky.embed.external",
              "external": {"uri": "https://atproto.com/guides/overview", "title": "", "description": ""}})
    return rec


def test_facets_links_mentions_tags(do_import, tmp_path):
    rec = _facet_record()
    path = tmp_path / "record.json"
    path.write_text(json.dumps(rec))
    imp = do_import(path)
    p = imp.post(imp.pid("bluesky", rec["uri"]))
    assert p["urls"] == ["https://example.com/", "https://atproto.com/guides/overview"]
    assert p["domains"] == ["example.com", "atproto.com"]
    assert p["hashtags"] == ["atproto", "bsky"]
    (mk,) = p["mentions"]
    assert mk.startswith("acct_")
    assert p["text"].startswith("🦋 Go to this site, ask @acct_") and p["text"].endswith(" #atproto")


def test_dotted_handle_in_text_is_pseudonymised(do_import, tmp_path):
    rec = _facet_record()
    path = tmp_path / "record.json"
    path.write_text(json.dumps(rec))
    imp = do_import(path)
    p = imp.post(imp.pid("bluesky", rec["uri"]))
    (mk,) = p["mentions"]
    assert p["text"] == f"🦋 Go to this site, ask @{mk} #atproto"
