"""Telegram sources on the real Telethon samples (platform-formats/telegram-telethon-messages).

The Desktop export is tested on a result.json built from the same real messages, converted into
the documented Desktop shape (no real export file is in the shared data).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import FORMATS, shared

from hubbub.ingest.importer import import_paths
from hubbub.store.store import Store
from hubbub.store.workspace import init_workspace

TG = FORMATS / "telegram-telethon-messages"
FILES = sorted(TG.glob("*.ndjson"))

# Derived independently of hubbub, with plain `json` over each file: lines whose "_" is "Message"
# are posts read, their distinct "id"s are imported posts (the other lines are the same message
# collected again: duplicates), lines whose "_" is "MessageService" are skipped. This matches the
# folder README (e.g. onepiecespoilhere: 80 lines = 76 Message + 4 MessageService; each message
# was collected two or three times, 38 distinct ids).
#            file stem                       read imported duplicate skipped
EXPECTED = {
    "Python_1050982793": (14, 11, 3, 0),
    "SpotifyGroup_2606656273": (3, 2, 0, 1),
    "bloomberg_1488156064": (40, 40, 0, 0),
    "britishnewspatriot_1799276919": (20, 20, 0, 0),
    "onepiecespoilhere_1508897975": (80, 38, 38, 4),
}


def raw_record(imp, post_id: str) -> dict:
    """The stored raw record, parsed (it must stay valid JSON after pseudonymisation)."""
    (row,) = imp.store.query("SELECT raw FROM posts WHERE post_id = ?", [post_id]).to_pylist()
    return json.loads(row["raw"])


def test_every_telethon_file_counts(do_import):
    shared("platform-formats/telegram-telethon-messages")
    assert [f.stem for f in FILES] == sorted(EXPECTED)
    imp = do_import(*FILES)
    for f in imp.summary.files:
        stem = Path(f.path).stem
        assert f.format == "telegram-telethon" and f.status == "ok", f
        assert (f.read, f.imported, f.duplicate, f.skipped) == EXPECTED[stem], f
        assert f.quarantined == 0
    assert imp.count() == sum(e[1] for e in EXPECTED.values())
    assert imp.count("platform = 'telegram'") == imp.count()
    for r in imp.store.query("SELECT post_id FROM posts").to_pylist():
        raw = raw_record(imp, r["post_id"])  # numeric account ids were replaced by keys as strings
        assert raw["_"] == "Message"


def test_channel_post_with_utf16_offsets_and_engagement(do_import):
    imp = do_import(TG / "bloomberg_1488156064.ndjson")
    p = imp.post(imp.pid("telegram", "1488156064/3180"))
    assert p["post_id"] == f"{p['author_key']}/3180"  # the channel id is replaced by the channel's key
    assert p["created_at"] == datetime(2025, 9, 22, 12, 7, 10, tzinfo=UTC)
    assert p["text"].startswith("🚨 Happening Now: Trump has just changed the rules of global hiring")
    assert p["kind"] == "post" and p["parent_id"] is None and p["reposted_id"] is None
    # the entity offset counts UTF-16 units: the leading emoji is two of them
    assert p["urls"] == ["https://bloom.bg/3VNWifr"]
    assert p["media_types"] == ["link"]
    assert (p["views"], p["reposts"], p["likes"], p["replies"]) == (22750, 100, 31 + 15 + 14 + 11 + 8 + 5 + 4 + 3, None)
    assert p["author_key"].startswith("acct_")
    # every post of the channel has the channel as author
    assert imp.count("author_key = ?", [p["author_key"]]) == 40


def test_forward_of_channel_post_is_repost(do_import):
    imp = do_import(TG / "britishnewspatriot_1799276919.ndjson")
    p = imp.post(imp.pid("telegram", "1799276919/2473"))
    assert p["kind"] == "repost"
    assert p["reposted_id"] == imp.pid("telegram", "1387912140/3867")
    assert p["created_at"] == datetime(2023, 4, 16, 7, 48, 52, tzinfo=UTC)
    assert p["text"].startswith("Intimidated and Censored\n\nThis amazing woman")
    assert p["media_types"] == ["video"]
    # the @mention (after emoji: UTF-16 offsets) is found and pseudonymised in the text; the URL
    # entity (also after the emoji) is the whole link (whether the pipeline pseudonymises the
    # name in its path is the pipeline's policy, not tested here)
    assert len(p["mentions"]) == 1 and p["mentions"][0].startswith("acct_")
    assert "@awakenedspecies" not in p["text"] and p["text"].endswith("Join @" + p["mentions"][0])
    assert len(p["urls"]) == 1 and p["urls"][0].startswith("https://www.patreon.com/")
    assert p["urls"][0].endswith(("/awakenedspecies", "/" + p["mentions"][0])) and p["domains"] == ["patreon.com"]
    assert (p["views"], p["reposts"], p["replies"], p["likes"]) == (7, 1, 0, None)
    assert imp.count("kind = 'repost'") == 17  # README: 17 of the 20 are forwards

    hidden = imp.post(imp.pid("telegram", "1799276919/2476"))  # forwarded from a user who hides the account
    assert hidden["kind"] == "repost" and hidden["reposted_id"] is None
    assert "Jordan" not in json.dumps(raw_record(imp, imp.pid("telegram", "1799276919/2476")))


def test_group_reply_with_thread_and_user_author(do_import):
    imp = do_import(TG / "Python_1050982793.ndjson")
    p = imp.post(imp.pid("telegram", "1050982793/2004369"))
    assert p["kind"] == "reply"
    assert p["parent_id"] == imp.pid("telegram", "1050982793/2004368")
    assert p["conversation_id"] == imp.pid("telegram", "1050982793/2004364")
    assert p["text"] == "thanks\nhttps://pastebin.com/NW6ynk8D"
    assert p["urls"] == ["https://pastebin.com/NW6ynk8D"]
    assert p["created_at"] == datetime(2024, 1, 25, 15, 42, 20, tzinfo=UTC)
    assert (p["views"], p["reposts"], p["likes"], p["replies"]) == (None, None, None, None)
    # group messages are authored by users (from_id), not by the group
    assert imp.count("author_key = ?", [p["author_key"]]) == 3  # user 338930785 wrote 3 messages
    assert imp.count("kind = 'reply'") == 7  # 9 reply lines, 2 of them repeats of the same message


def test_hashtags_signature_and_service_messages(do_import):
    imp = do_import(TG / "onepiecespoilhere_1508897975.ndjson")
    meme = imp.post(imp.pid("telegram", "1508897975/3869"))
    assert meme["hashtags"] == ["Meme"] and meme["kind"] == "reply"
    assert meme["parent_id"] == imp.pid("telegram", "1508897975/3868")
    assert (meme["views"], meme["reposts"], meme["likes"], meme["replies"]) == (2459, 7, 49, 4)
    sig = imp.post(imp.pid("telegram", "1508897975/3730"))
    assert len(sig["mentions"]) == 2 and "@one_piece_facts" not in sig["text"]
    assert "ハリアクサ" not in json.dumps(raw_record(imp, sig["post_id"]), ensure_ascii=False)  # signature
    titles = [imp.pid("telegram", "1508897975/3751"), imp.pid("telegram", "1508897975/3878")]
    assert imp.count("post_id IN (?, ?)", titles) == 0  # title changes


# ---------------------------------------------------------------------------------------------
# Telegram Desktop export built from the real Telethon messages

_ENTITY_TYPES = {"MessageEntityUrl": "link", "MessageEntityTextUrl": "text_link", "MessageEntityHashtag": "hashtag",
                 "MessageEntityMention": "mention", "MessageEntityBold": "bold", "MessageEntityItalic": "italic"}
_LOCAL = timedelta(hours=2)  # the exporting machine's zone, which "date" is written in


def to_desktop(msg: dict) -> dict:
    """One Telethon message in the shape Telegram Desktop writes into result.json."""
    when = datetime.fromisoformat(msg["date"]).replace(tzinfo=UTC)
    out = {"id": msg["id"], "type": "message" if msg["_"] == "Message" else "service",
           "date": (when + _LOCAL).replace(tzinfo=None).isoformat(), "date_unixtime": str(int(when.timestamp()))}
    peer = msg["peer_id"]["channel_id"]
    sender = msg.get("from_id") or {}
    uid = sender.get("user_id")
    out["from"], out["from_id"] = (f"Member {uid}", f"user{uid}") if uid else (f"Channel {peer}", f"channel{peer}")
    text, u16, parts, at = msg.get("message") or "", (msg.get("message") or "").encode("utf-16-le"), [], 0
    for e in sorted(msg.get("entities") or [], key=lambda e: (e["offset"], "Bold" in e["_"] or "Italic" in e["_"])):
        if e["_"] not in _ENTITY_TYPES or e["offset"] < at:
            continue  # overlapping formatting: keep the first entity
        piece = u16[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        parts += [u16[2 * at : 2 * e["offset"]].decode("utf-16-le"), {"type": _ENTITY_TYPES[e["_"]], "text": piece}]
        if e.get("url"):
            parts[-1]["href"] = e["url"]
        at = e["offset"] + e["length"]
    parts.append(u16[2 * at :].decode("utf-16-le"))
    parts = [p for p in parts if p != ""]
    out["text"] = parts[0] if len(parts) == 1 and isinstance(parts[0], str) else parts if text else ""
    out["text_entities"] = [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts]
    if (msg.get("reply_to") or {}).get("reply_to_msg_id"):
        out["reply_to_message_id"] = msg["reply_to"]["reply_to_msg_id"]
    if msg.get("fwd_from"):
        out["forwarded_from"] = msg["fwd_from"].get("from_name") or "Some channel"
    media = msg.get("media") or {}
    if media.get("_") == "MessageMediaPhoto":
        out["photo"] = "(File not included. Change data exporting settings to download.)"
    elif media.get("_") == "MessageMediaDocument":
        mime = media["document"]["mime_type"]
        out |= {"file": "(File not included. Change data exporting settings to download.)", "mime_type": mime}
        attrs = {a["_"] for a in media["document"]["attributes"]}
        if "DocumentAttributeSticker" in attrs or mime.startswith("video/"):
            out["media_type"] = "sticker" if "DocumentAttributeSticker" in attrs else "video_file"
    elif media.get("_") == "MessageMediaPoll":
        out["poll"] = {"question": "", "closed": False, "total_voters": 0, "answers": []}
    if (msg.get("reactions") or {}).get("results"):
        out["reactions"] = [{"type": "emoji", "count": r["count"], "emoji": r["reaction"].get("emoticon")}
                            for r in msg["reactions"]["results"]]
    return out


def _store_sharing_secret(src: Store, path: Path) -> Store:
    """A second store with the same workspace secret, so account keys compare across stores."""
    path.mkdir(parents=True)
    shutil.copy2(src.ws.secret_path, path / "secret.key")
    ws, _ = init_workspace(path)
    return Store(ws)


def test_desktop_export_matches_telethon_import(do_import, tmp_path):
    shared("platform-formats/telegram-telethon-messages")
    telethon = do_import(*FILES)
    files, services = {}, {}
    varying = set()  # messages collected more than once, with other reaction counts
    for f in FILES:
        msgs = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        first: dict[int, dict] = {}
        for m in msgs:  # an export holds each message once
            if first.setdefault(m["id"], m).get("reactions") != m.get("reactions"):
                varying.add(telethon.pid("telegram", f"{m['peer_id']['channel_id']}/{m['id']}"))
        services[f.stem] = sum(m["_"] == "MessageService" for m in first.values())
        chat_id = msgs[0]["peer_id"]["channel_id"]
        export = {"name": f.stem.rsplit("_", 1)[0], "type": "public_channel", "id": chat_id,
                  "messages": [to_desktop(m) for m in first.values()]}
        for m in export["messages"][::2]:
            del m["text_entities"]  # older exports: entities only inside "text"
        files[f.stem] = tmp_path / "exports" / f.stem / "result.json"
        files[f.stem].parent.mkdir(parents=True)
        files[f.stem].write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")

    other = _store_sharing_secret(telethon.store, tmp_path / "ws-desktop")
    try:
        summary = import_paths(other, list(files.values()), "desktop")
        for f in summary.files:
            assert f.format == "telegram-desktop" and f.status == "ok" and f.adds_up(), f
            stem = Path(f.path).parent.name
            assert (f.imported, f.skipped, f.quarantined) == (EXPECTED[stem][1], services[stem], 0), f
        cols = "post_id, created_at, author_key, text, kind, parent_id, urls, hashtags, mentions"
        desk = {r["post_id"]: r for r in other.query(f"SELECT {cols}, media_types, likes FROM posts").to_pylist()}
    finally:
        other.close()
    tele = {r["post_id"]: r for r in telethon.store.query(f"SELECT {cols}, media_types, likes FROM posts").to_pylist()}
    assert desk.keys() == tele.keys()
    for pid, t in tele.items():
        d = desk[pid]
        for c in cols.split(", "):
            if c == "urls":  # link previews are not exported: only the links written in the text
                assert set(d[c]) <= set(t[c]), pid
            else:
                assert d[c] == t[c], (pid, c)
        assert d["media_types"] == [m for m in t["media_types"] if m != "link"], pid
        if pid not in varying:  # reactions are exported, other counts are not
            assert d["likes"] == (t["likes"] or None), pid
    assert sum(1 for t in tele.values() if t["urls"]) == sum(1 for d in desk.values() if d["urls"]) > 40


def test_full_data_export_with_chat_list(do_import, tmp_path):
    chats = []
    for stem in ("Python_1050982793", "SpotifyGroup_2606656273"):
        msgs = [json.loads(line) for line in (TG / f"{stem}.ndjson").read_text(encoding="utf-8").splitlines()]
        first = {m["id"]: m for m in reversed(msgs)}
        chats.append({"name": stem, "type": "public_supergroup", "id": msgs[0]["peer_id"]["channel_id"],
                      "messages": [to_desktop(m) for m in first.values()]})
    path = tmp_path / "result.json"
    full = {"about": "Here is the data you requested.", "personal_information": {"user_id": 1},
            "chats": {"about": "This page lists all chats from this export.", "list": chats}}
    path.write_text(json.dumps(full, indent=1), encoding="utf-8")
    imp = do_import(path)
    (f,) = imp.summary.files
    assert f.format == "telegram-desktop"
    assert (f.read, f.imported, f.skipped, f.quarantined) == (11 + 3, 11 + 2, 1, 0)
    loc = imp.store.query("SELECT source_locator FROM posts WHERE post_id = ?",
                          [imp.pid("telegram", "2606656273/5")]).to_pylist()
    assert loc[0]["source_locator"].startswith("document chats[1] messages[")
