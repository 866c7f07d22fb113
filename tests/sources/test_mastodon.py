"""Mastodon REST API statuses (source ``mastodon-api``), on the real recordings in
platform-formats/mastodon-api (see its README)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from conftest import FORMATS

M = FORMATS / "mastodon-api"

# Posts per file, counted independently of the source with jq: every distinct (by uri) Status
# object anywhere in the response bodies, boosted and quoted statuses included:
#   jq '[.[].body | .. | objects | select(has("content") and has("uri") and has("account")
#        and has("id"))] | unique_by(.uri) | length' FILE
# Edit-history entries have no id/uri, so they do not count. Records = responses in the file
# (jq 'length'); a response without a status is skipped.
POSTS = {
    "entity_context.json": 2,
    "entity_mediaattachment.json": 2,
    "entity_poll.json": 1,
    "entity_previewcard.json": 1,  # + /api/v1/instance and /api/v2/instance responses
    "entity_quote.json": 2,  # the quote and the quoted status
    "entity_searchv2.json": 2,  # + 2 instance responses
    "entity_status.json": 2,
}
NO_POSTS = {  # file -> responses (all skipped)
    "entity_account.json": 2,
    "entity_instancev2.json": 1,
    "entity_nodeinfo.json": 2,
    "entity_statusedit.json": 2,  # edit history is not a post
    "entity_statussource.json": 1,
    "entity_tag.json": 3,
    "entity_trendinglinkhistory.json": 1,
}
SKIPPED = {"entity_previewcard.json": 2, "entity_searchv2.json": 2}  # instance responses before the status


def _by_file(imp) -> dict:
    return {Path(f.path).name: f for f in imp.summary.files}


def test_every_file_is_detected_and_counted(do_import):
    imp = do_import(M)  # the whole folder, formats auto-detected
    files = _by_file(imp)
    # entity_taghistory.json is byte-identical to entity_tag.json: seen as already imported
    assert files["entity_taghistory.json"].status == "already-imported"
    del files["entity_taghistory.json"]
    assert set(files) == set(POSTS) | set(NO_POSTS)
    for f in files.values():
        assert f.status == "ok" and f.format == "mastodon-api", f
        assert f.quarantined == 0 and f.duplicate == 0, f
    for name, n in POSTS.items():
        assert files[name].imported == n, name
        assert files[name].skipped == SKIPPED.get(name, 0), name
    for name, n in NO_POSTS.items():
        assert files[name].imported == 0 and files[name].skipped == n == files[name].read, name
    assert imp.count() == sum(POSTS.values()) == 12
    assert imp.count("platform = 'mastodon'") == 12


def test_status_with_content_warning_mention_hashtag_media(do_import):
    imp = do_import(M / "entity_status.json")
    p = imp.post(imp.pid("mastodon", "https://icosahedron.website/users/halcy/statuses/110446222386355655"))
    assert p["created_at"] == datetime(2023, 5, 28, 12, 6, 50, tzinfo=UTC)
    assert p["kind"] == "post" and p["parent_id"] is None and p["reposted_id"] is None
    assert p["conversation_id"] == p["post_id"]  # replies to nothing: its own thread
    me = p["author_key"]
    assert me.startswith("acct_")
    # the username in the status uri is replaced by the author's key: the stored id names no account
    assert p["post_id"] == f"https://icosahedron.website/users/{me}/statuses/110446222386355655"
    assert "halcy" not in p["post_id"].lower()
    # spoiler_text first, paragraphs kept, the self-mention pseudonymised, HTML gone
    assert p["text"] == (
        "test post for mastodon.py stuff\n\n"
        f"@{me} you're a doo-doo head\n\n"
        "edit: editing this to have the maximum amount of fields filled :trans_heart: #ThisIsAHashtag"
    )
    assert p["hashtags"] == ["ThisIsAHashtag"]  # as written, not the lower-cased tags[].name
    assert p["mentions"] == [me]
    assert p["media_types"] == ["gifv"]
    assert p["urls"] == []
    assert p["lang_declared"] == "de"
    assert (p["likes"], p["reposts"], p["replies"], p["quotes"], p["views"]) == (1, 0, 0, 0, None)
    assert p["engagement_at"] is None
    blob = imp.store.query("SELECT raw FROM posts WHERE post_id = ?", [p["post_id"]]).to_pylist()[0]["raw"]
    raw = json.loads(blob)
    # handles gone from the raw record, also of accounts linked in the author's profile (@halcy2)
    assert "halcy" not in blob.lower()
    assert raw["account"]["id"] == me

    q = imp.post(imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110446183735368325"))
    assert q["text"] == "test?" and q["kind"] == "post"
    assert q["created_at"] == datetime(2023, 5, 28, 11, 57, 0, 378000, tzinfo=UTC)
    # halcy on mastodon.social and halcy on icosahedron.website are two accounts
    assert q["author_key"] != me


def test_context_thread_ids(do_import):
    imp = do_import(M / "entity_context.json")
    first = imp.post(imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110446983178245440"))
    last = imp.post(imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110446984249325790"))
    assert first["kind"] == "post" and first["text"] == "first status"
    assert last["kind"] == "reply" and last["text"] == "final status"
    assert last["created_at"] == datetime(2023, 5, 28, 15, 20, 35, 248000, tzinfo=UTC)
    # the parent is the status the context was asked for (local id 110446983926957470, not in
    # the body); a local account of a server that builds Mastodon-style URIs gives its uri
    assert last["parent_id"] == imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110446983926957470")
    assert first["conversation_id"] == last["conversation_id"] == first["post_id"]


def test_keep_handles_keeps_raw_ids(do_import):
    """A dataset that opted in to raw handles keeps the status uris as the server wrote them."""
    imp = do_import(M / "entity_context.json", keep_handles=True)
    first_uri = "https://mastodon.social/users/halcy/statuses/110446983178245440"
    first = imp.post(first_uri)
    last = imp.post("https://mastodon.social/users/halcy/statuses/110446984249325790")
    assert first["author_handle"] == last["author_handle"] == "halcy@mastodon.social"
    assert last["parent_id"] == "https://mastodon.social/users/halcy/statuses/110446983926957470"
    assert first["conversation_id"] == last["conversation_id"] == first["post_id"] == first_uri
    assert first_uri != imp.pid("mastodon", first_uri)  # what a pseudonymising import would store
    assert imp.count("post_id LIKE '%acct_%'") == 0


def test_reply_links_and_counts(do_import):
    imp = do_import(M / "entity_mediaattachment.json", M / "entity_previewcard.json", M / "entity_searchv2.json")
    audio = imp.post(imp.pid("mastodon", "https://icosahedron.website/users/halcy/statuses/110447012380248325"))
    image = imp.post(imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110447003454258227"))
    # the remote reply mentions the *local* halcy (another account than its author)
    assert audio["kind"] == "reply" and audio["media_types"] == ["audio"]
    assert audio["mentions"] == [image["author_key"]] != [audio["author_key"]]
    assert audio["text"] == f"@{image['author_key']} audio post, but remote"
    # its parent (the image post) is in another response: not known from this record
    assert audio["parent_id"] is None
    assert image["parent_id"] == imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110447001287656894")
    assert image["media_types"] == ["image"]

    link = imp.post(imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110447098625216345"))
    assert link["text"] == ("https://soundcloud.com/wakarangirl/popstars-dj-wakaran-girl-khard-bass-flex-1"
                            " link to soundcloud that should generate a card")
    assert link["urls"] == ["https://soundcloud.com/wakarangirl/popstars-dj-wakaran-girl-khard-bass-flex-1"]
    assert link["domains"] == ["soundcloud.com"]

    jo = imp.post(imp.pid("mastodon", "https://social.sublingual.xyz/users/Jo/statuses/116388107097123650"))
    assert jo["created_at"] == datetime(2026, 4, 11, 21, 6, 15, tzinfo=UTC)
    assert jo["kind"] == "reply" and jo["parent_id"] is None  # remote parent, local id only
    assert (jo["likes"], jo["reposts"], jo["replies"], jo["quotes"]) == (4, 1, 0, 0)
    assert jo["text"].endswith(" me when im riding my horse in stop and go traffic")
    greg = imp.post(imp.pid("mastodon", "https://icosahedron.website/users/greg/statuses/116388148912635764"))
    assert greg["urls"] == ["https://www.youtube.com/watch?v=MWCSw_cNxKc"]
    assert greg["urls_canonical"] == ["https://youtube.com/watch?v=MWCSw_cNxKc"]
    assert len(greg["mentions"]) == 2 and greg["text"].count("@acct_") == 2


def test_quote_and_quoted_status(do_import):
    imp = do_import(M / "entity_quote.json")
    assert imp.count() == 2
    # bridged ids embed the Bluesky author's DID: stored with its key instead
    quoting = imp.post(imp.pid("mastodon", "https://bsky.brid.gy/convert/ap/at://did:plc:5syfqzormjkutgo5hi2u2gpr"
                               "/app.bsky.feed.post/3lwlunj3oqs22"))
    assert "did:plc" not in quoting["post_id"] and "/at://acct_" in quoting["post_id"]
    quoted_id = imp.pid(
        "mastodon", "https://bsky.brid.gy/convert/ap/at://did:plc:5syfqzormjkutgo5hi2u2gpr/app.bsky.feed.post/3lwlumdwf522i")
    quoted = imp.post(quoted_id)
    assert quoting["kind"] == "reply"  # a reply that quotes: reply wins, quoted_id still set
    assert quoting["quoted_id"] == quoted_id
    assert quoting["created_at"] == datetime(2025, 8, 17, 12, 20, 44, 88000, tzinfo=UTC)
    # the "RE: <link>" fallback is left out; the shortened link is written in full
    assert quoting["text"].startswith("actual reply that quotes a post that quotes a post https://bsky.app/profile/")
    assert "RE:" not in quoting["text"]
    assert quoting["domains"] == ["bsky.app"] and len(quoting["urls"]) == 1
    assert quoted["text"].startswith("actual reply that quotes a bsky post ")
    assert quoted["quoted_id"] is None  # it quotes a status given by local id only
    assert quoted["created_at"] == datetime(2025, 8, 17, 12, 20, 5, 117000, tzinfo=UTC)


def _status_bodies(name: str) -> list[dict]:
    return [r["body"] for r in json.loads((M / name).read_text())]


def test_recorded_timeline_with_boost(do_import, tmp_path):
    """A recorded timeline response (one record: an array of statuses) built from real statuses:
    the reply and its parent from entity_mediaattachment.json, and a boost of the real 'test?'
    status by the remote halcy account. The boost wrapper is made up around the real statuses
    (no boost was recorded)."""
    audio, image = _status_bodies("entity_mediaattachment.json")
    test_status = _status_bodies("entity_status.json")[1]
    booster = audio["account"]
    boost = {
        "id": "110446300000000000", "created_at": "2023-05-28T12:30:00.000Z",
        "in_reply_to_id": None, "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
        "visibility": "public", "language": None, "uri": booster["uri"] + "/statuses/110446299/activity",
        "url": None, "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "content": "",
        "reblog": test_status, "account": booster, "media_attachments": [], "mentions": [], "tags": [],
    }
    path = tmp_path / "home_timeline.json"
    request = {"method": "GET", "uri": "https://mastodon.social/api/v1/timelines/home"}
    path.write_text(json.dumps([{"request": request, "status": 200, "body": [audio, image, boost]}]))
    imp = do_import(path)
    f = imp.summary.files[0]
    assert f.format == "mastodon-api" and f.imported == 4 and f.read == 4  # 3 statuses + the boosted one

    # in one record, the local in_reply_to_id is resolved to the parent's uri
    a = imp.post(imp.pid("mastodon", "https://icosahedron.website/users/halcy/statuses/110447012380248325"))
    assert a["parent_id"] == imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110447003454258227")
    assert imp.post(a["parent_id"])["media_types"] == ["image"]  # the link still reaches the parent row

    rp = imp.post(imp.pid("mastodon", boost["uri"]))
    assert rp["kind"] == "repost"
    assert rp["reposted_id"] == imp.pid("mastodon", "https://mastodon.social/users/halcy/statuses/110446183735368325")
    assert rp["text"] == "test?"
    assert rp["created_at"] == datetime(2023, 5, 28, 12, 30, tzinfo=UTC)
    assert rp["author_key"] == a["author_key"]
    orig = imp.post(rp["reposted_id"])
    assert orig["kind"] == "post" and orig["text"] == "test?" and orig["author_key"] != rp["author_key"]


def test_jsonl_statuses_and_edit_history(do_import, tmp_path):
    """JSONL: 2 status lines, then 2 edit-history lines (arrays of 2 StatusEdits each, which the
    importer splits into 4 records): 2 posts, 4 records skipped."""
    lines = _status_bodies("entity_status.json") + _status_bodies("entity_statusedit.json")
    path = tmp_path / "statuses.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    imp = do_import(path)
    f = imp.summary.files[0]
    assert (f.format, f.read, f.imported, f.skipped, f.quarantined) == ("mastodon-api", 6, 2, 4, 0)


def test_plain_array_is_split_into_statuses(do_import, tmp_path):
    """A bare JSON array is split by the importer: each status is its own record, so the reply
    whose parent is elsewhere in the array keeps no parent_id (not resolvable from its record)."""
    audio, image = _status_bodies("entity_mediaattachment.json")
    path = tmp_path / "statuses.json"
    path.write_text(json.dumps([audio, image]))
    imp = do_import(path)
    assert imp.summary.files[0].imported == 2
    a = imp.post(imp.pid("mastodon", "https://icosahedron.website/users/halcy/statuses/110447012380248325"))
    assert a["kind"] == "reply" and a["parent_id"] is None
