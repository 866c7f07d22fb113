"""Telegram: Telethon ``Message.to_dict()`` JSON lines, and Telegram Desktop "Export chat history"
``result.json`` files.

Message ids are only unique inside one chat, so a post id is ``"<chat id>/<message id>"`` with the
bare chat id (``peer_id.channel_id`` / ``chat_id`` / ``user_id``; the Bot API's ``-100`` prefix is
removed). Both formats give the same ids, so the same message imported from either is one post.

Identities that come with a display name but no account id (channel post signatures, senders who
hide their account in forwards) cannot be pseudonymised by the pipeline, which keys accounts by id
or handle; their names are removed from the stored raw record. Account ids that are JSON numbers
in the record are written as strings in the raw record, so that replacing them by account keys
keeps it valid JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

from hubbub.sources.base import (
    Bad,
    Draft,
    MappingError,
    Record,
    Source,
    head_json_keys,
    item_reason,
    json_records,
    parse_time,
    to_int,
)

PLATFORM = "telegram"
Account = tuple[str | None, str | None, str | None]


def post_id(chat: Any, msg_id: Any) -> str:
    return f"{chat}/{msg_id}"


def bare_chat_id(value: Any) -> str | None:
    """``1488156064``, ``-1001488156064``, ``"channel1488156064"`` -> ``"1488156064"``."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    s = str(value).strip()
    m = _PREFIXED.fullmatch(s)
    if m:
        return m.group(2)
    if s.startswith("-100") and len(s) > 4:
        return s[4:]
    return s.lstrip("-") or None


_PREFIXED = re.compile(r"(user|channel|chat|group|bot)(\d+)")


def doc_media_type(mime: str | None) -> str:
    """The media type of a file from its MIME type."""
    mime = (mime or "").lower()
    if mime.startswith("video/") or mime == "image/gif":
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    return "document"


def _add_url(urls: list[tuple[str, None]], url: Any) -> None:
    if isinstance(url, str) and url and all(u != url for u, _ in urls):
        urls.append((url, None))


def _hashtag(tag: str) -> str | None:
    tag = tag.lstrip("#＃").split("@", 1)[0]
    return tag or None


def _numeric_ids(author: str | None, accounts: list[Account]) -> frozenset[int]:
    ids = {author, *(a[0] for a in accounts)}
    return frozenset(int(i) for i in ids if i and i.isdigit())


def ids_as_text(obj: Any, ids: frozenset[int]) -> Any:
    """``obj`` with every integer in ``ids`` replaced by its decimal string."""
    if not ids:
        return obj
    if isinstance(obj, dict):
        return {k: ids_as_text(v, ids) for k, v in obj.items()}
    if isinstance(obj, list):
        return [ids_as_text(v, ids) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool) and obj in ids:
        return str(obj)
    return obj


# ---------------------------------------------------------------------------------------------
# Telethon


def _peer_id(peer: Any) -> str | None:
    if not isinstance(peer, dict):
        return None
    for k in ("channel_id", "chat_id", "user_id"):
        if peer.get(k) is not None:
            return bare_chat_id(peer[k])
    return None


class TelegramTelethon(Source):
    name = "telegram-telethon"
    platform = PLATFORM
    description = "Telegram messages as Telethon Message.to_dict() JSON, one per line"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if _TELETHON_HEAD.search(s) and '"peer_id"' in s:
            return 0.95
        return 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict) or "_" not in obj:
            raise MappingError("expected a Telethon message object (with '_')")
        typ = obj["_"]
        if typ != "Message":
            if typ in ("MessageService", "MessageEmpty"):
                return  # joins, pins, title changes...: not posts (counted as skipped)
            raise MappingError(f"not a Telethon message: _={typ!r}")
        yield telethon_draft(obj)


_TELETHON_HEAD = re.compile(r'"_"\s*:\s*"Message(Service)?"')


def telethon_draft(m: dict[str, Any]) -> Draft:
    chat = _peer_id(m.get("peer_id"))
    if chat is None or m.get("id") is None:
        raise MappingError("missing peer_id or id")
    author = _peer_id(m.get("from_id")) or chat
    text = m.get("message") or None
    accounts: list[Account] = []
    if author != chat:
        accounts.append((chat, None, None))
    draft: Draft = {
        "platform": PLATFORM,
        "post_id": post_id(chat, m["id"]),
        "created_at": parse_time(m.get("date"), "date"),
        "author_id": author,
        "text": text,
        "kind": "post",
        "parent_id": None,
        "conversation_id": None,
        "reposted_id": None,
        "quoted_id": None,
        "views": to_int(m.get("views")),
        "reposts": to_int(m.get("forwards")),
        "likes": _reaction_total(m.get("reactions")),
        "replies": to_int((m.get("replies") or {}).get("replies")),
        "quotes": None,
        "engagement_at": None,
        "accounts": accounts,
    }
    _telethon_entities(draft, text, m.get("entities"))
    _telethon_media(draft, m.get("media"))
    _telethon_reply(draft, chat, m.get("reply_to"))
    _telethon_forward(draft, m.get("fwd_from"))
    _telethon_other_accounts(accounts, m)
    draft["raw"] = ids_as_text(_telethon_raw(m), _numeric_ids(author, accounts))
    return draft


def _reaction_total(reactions: Any) -> int | None:
    if not isinstance(reactions, dict):
        return None
    results = reactions.get("results")
    if not isinstance(results, list):
        return None
    return int(sum(to_int(r.get("count")) or 0 for r in results if isinstance(r, dict)))


def _telethon_entities(draft: Draft, text: str | None, entities: Any) -> None:
    urls: list[tuple[str, None]] = []
    hashtags: list[str] = []
    mentions: list[tuple[str | None, str | None]] = []
    if text and isinstance(entities, list) and entities:
        u16 = text.encode("utf-16-le", "surrogatepass")  # entity offsets count UTF-16 code units
        for e in entities:
            if not isinstance(e, dict):
                continue
            typ = e.get("_")
            if typ == "MessageEntityTextUrl":
                _add_url(urls, e.get("url"))
                continue
            if typ not in _SLICED:
                continue
            off, length = to_int(e.get("offset")), to_int(e.get("length"))
            if off is None or length is None or off < 0 or length <= 0:
                continue
            part = u16[2 * int(off) : 2 * int(off + length)].decode("utf-16-le", "replace")
            if typ == "MessageEntityUrl":
                _add_url(urls, part)
            elif typ == "MessageEntityHashtag":
                tag = _hashtag(part)
                if tag:
                    hashtags.append(tag)
            elif typ == "MessageEntityMention":
                mentions.append((None, part.lstrip("@")))
            elif typ == "MessageEntityMentionName":
                uid = str(e["user_id"]) if e.get("user_id") is not None else None
                mentions.append((uid, None))
                draft["accounts"].append((uid, None, part))
    draft["urls"] = urls
    draft["hashtags"] = hashtags
    draft["mentions"] = mentions


_SLICED = {"MessageEntityUrl", "MessageEntityHashtag", "MessageEntityMention", "MessageEntityMentionName"}


def _telethon_media(draft: Draft, media: Any) -> None:
    types: list[str] = []
    if isinstance(media, dict):
        typ = media.get("_") or ""
        if typ == "MessageMediaPhoto":
            types.append("photo")
        elif typ == "MessageMediaDocument":
            doc = media.get("document") or {}
            attrs = {a.get("_") for a in doc.get("attributes") or () if isinstance(a, dict)}
            types.append("sticker" if "DocumentAttributeSticker" in attrs else doc_media_type(doc.get("mime_type")))
        elif typ == "MessageMediaWebPage":
            types.append("link")
            _add_url(draft["urls"], (media.get("webpage") or {}).get("url"))
        elif typ.startswith("MessageMedia") and typ not in ("MessageMediaEmpty", "MessageMediaUnsupported"):
            types.append(typ[len("MessageMedia"):].lower())  # poll, geo, contact, dice, ...
    draft["media_types"] = types


def _telethon_reply(draft: Draft, chat: str, reply: Any) -> None:
    if not isinstance(reply, dict) or reply.get("reply_to_msg_id") is None:
        return
    where = _peer_id(reply.get("reply_to_peer_id")) or chat
    draft["kind"] = "reply"
    draft["parent_id"] = post_id(where, reply["reply_to_msg_id"])
    if reply.get("reply_to_top_id") is not None:
        draft["conversation_id"] = post_id(where, reply["reply_to_top_id"])
    if where != chat:
        draft["accounts"].append((where, None, None))


def _telethon_forward(draft: Draft, fwd: Any) -> None:
    if not isinstance(fwd, dict):
        return
    draft["kind"] = "repost"
    origin = _peer_id(fwd.get("from_id"))
    if origin is not None:
        draft["accounts"].append((origin, None, None))
        chan = (fwd.get("from_id") or {}).get("channel_id")
        if chan is not None and fwd.get("channel_post") is not None:
            draft["reposted_id"] = post_id(bare_chat_id(chan), fwd["channel_post"])
    saved = _peer_id(fwd.get("saved_from_peer"))
    if saved is not None:
        draft["accounts"].append((saved, None, None))


def _telethon_other_accounts(accounts: list[Account], m: dict[str, Any]) -> None:
    if m.get("via_bot_id") is not None:
        accounts.append((str(m["via_bot_id"]), None, None))
    replies = m.get("replies") or {}
    if replies.get("channel_id") is not None:
        accounts.append((bare_chat_id(replies["channel_id"]), None, None))
    for p in replies.get("recent_repliers") or ():
        pid = _peer_id(p)
        if pid:
            accounts.append((pid, None, None))
    for r in (m.get("reactions") or {}).get("recent_reactions") or ():
        pid = _peer_id((r or {}).get("peer_id"))
        if pid:
            accounts.append((pid, None, None))


def _telethon_raw(m: dict[str, Any]) -> dict[str, Any]:
    """The message without name-only identities (see the module docstring)."""
    raw = m
    if m.get("post_author"):
        raw = dict(m, post_author=None)
    fwd = m.get("fwd_from")
    if isinstance(fwd, dict) and any(fwd.get(k) for k in _FWD_NAMES):
        raw = dict(raw, fwd_from=dict(fwd, **dict.fromkeys(_FWD_NAMES)))
    return raw


_FWD_NAMES = ("from_name", "post_author", "saved_from_name")


# ---------------------------------------------------------------------------------------------
# Telegram Desktop export


class TelegramDesktop(Source):
    name = "telegram-desktop"
    platform = PLATFORM
    description = "Telegram Desktop 'Export chat history' result.json (one chat, or a full data export)"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if '"messages"' in s and ('"date_unixtime"' in s or '"text_entities"' in s):
            return 0.9
        if '"chats"' in s and '"list"' in s and ('"personal_information"' in s or '"about"' in s):
            return 0.7  # full data export: the chats start far into the file
        return 0.0

    def records(self, stream: IO[bytes]) -> Iterator[Record]:
        """One record per message (``{"chat": {...}, "message": {...}}``), so that one bad message
        is quarantined alone and every message is counted."""
        for rec in json_records(stream, unwrap=False):
            if rec.obj is None or not isinstance(rec.obj, dict):
                yield rec
                continue
            n = 0
            for loc, chat, msg in _desktop_messages(rec.obj):
                n += 1
                obj = {"chat": chat, "message": msg}
                yield Record(f"{rec.locator} {loc}".strip(), orjson.dumps(obj), obj)
            if n == 0:
                yield rec  # not an export (or no messages): map() decides

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict):
            raise MappingError("expected a Telegram Desktop export object")
        if "message" in obj and "chat" in obj:
            msg = obj["message"]
            if not isinstance(msg, dict):
                raise MappingError("message is not an object")
            if msg.get("type", "message") == "message":
                yield desktop_draft(obj["chat"] or {}, msg)
            return  # service messages are not posts
        found = False
        for loc, chat, msg in _desktop_messages(obj):
            found = True
            if msg.get("type", "message") != "message":
                continue
            try:
                d = desktop_draft(chat, msg)
            except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
                yield Bad(item_reason(exc), msg, loc)
                continue
            d["locator"] = loc
            yield d
        if not found and "messages" not in obj and "chats" not in obj:
            raise MappingError("not a Telegram Desktop export (no messages)")


def _desktop_messages(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(locator, chat header, message) for a single-chat export or a full data export."""
    if isinstance(doc.get("messages"), list):
        chats: list[tuple[str, Any]] = [("", doc)]
    else:
        chats = []
        for key in ("chats", "left_chats"):
            lst = (doc.get(key) or {}).get("list") if isinstance(doc.get(key), dict) else None
            chats.extend((f"{key}[{i}] ", c) for i, c in enumerate(lst or ()))
    for prefix, c in chats:
        if not isinstance(c, dict):
            continue
        head = {k: c.get(k) for k in ("name", "type", "id")}
        for i, msg in enumerate(c.get("messages") or ()):
            if isinstance(msg, dict):
                yield f"{prefix}messages[{i}]", head, msg


def desktop_draft(chat: dict[str, Any], m: dict[str, Any]) -> Draft:
    chat_id = bare_chat_id(chat.get("id"))
    if chat_id is None or m.get("id") is None:
        raise MappingError("missing chat id or message id")
    accounts: list[Account] = []
    author = _desktop_peer(m.get("from_id"), m.get("from"), accounts) or chat_id
    if author != chat_id:
        accounts.append((chat_id, None, None))  # the group (its name is not in the raw record)
    text, parts = _desktop_text(m)
    draft: Draft = {
        "platform": PLATFORM,
        "post_id": post_id(chat_id, m["id"]),
        "created_at": parse_time(m.get("date_unixtime") or m.get("date"), "date"),
        "author_id": author,
        "author_name": m.get("from") if isinstance(m.get("from"), str) else None,
        "text": text or None,
        "kind": "post",
        "parent_id": None,
        "conversation_id": None,
        "reposted_id": None,
        "quoted_id": None,
        "likes": _desktop_reactions(m.get("reactions"), accounts),
        "reposts": None,
        "replies": None,
        "quotes": None,
        "views": None,
        "engagement_at": None,
        "accounts": accounts,
    }
    _desktop_entities(draft, parts)
    draft["media_types"] = _desktop_media(m)
    if m.get("reply_to_message_id") is not None:
        where = bare_chat_id(m.get("reply_to_peer_id")) or chat_id
        draft["kind"] = "reply"
        draft["parent_id"] = post_id(where, m["reply_to_message_id"])
    if m.get("forwarded_from") is not None or m.get("forwarded_from_id") is not None:
        draft["kind"] = "repost"  # the export names the origin but gives no message id
        _desktop_peer(m.get("forwarded_from_id"), m.get("forwarded_from"), accounts)
    if m.get("via_bot"):
        accounts.append((None, str(m["via_bot"]).lstrip("@"), None))
    draft["raw"] = ids_as_text(_desktop_raw(m), _numeric_ids(author, accounts))
    return draft


def _desktop_peer(ref: Any, name: Any, accounts: list[Account]) -> str | None:
    """``"user123"`` -> ``"123"``; records the account (with its prefixed form as an alias, so the
    pipeline also finds ``"user123"`` in the raw record)."""
    if ref is None or ref == "":
        return None
    bare = bare_chat_id(ref)
    alias = str(ref) if str(ref) != bare else None
    accounts.append((bare, alias, name if isinstance(name, str) else None))
    return bare


def _desktop_text(m: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    ents = m.get("text_entities")
    if isinstance(ents, list):
        parts = [e for e in ents if isinstance(e, dict)]
        return "".join(str(e.get("text") or "") for e in parts), parts
    text = m.get("text")
    if isinstance(text, str):
        return text, []
    if isinstance(text, list):
        parts = [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in text]
        return "".join(str(p.get("text") or "") for p in parts), [p for p in parts if isinstance(p, dict)]
    return "", []


def _desktop_entities(draft: Draft, parts: list[dict[str, Any]]) -> None:
    urls: list[tuple[str, None]] = []
    hashtags: list[str] = []
    mentions: list[tuple[str | None, str | None]] = []
    for p in parts:
        typ, txt = p.get("type"), str(p.get("text") or "")
        if typ == "link":
            _add_url(urls, txt)
        elif typ == "text_link":
            _add_url(urls, p.get("href"))
        elif typ == "hashtag":
            tag = _hashtag(txt)
            if tag:
                hashtags.append(tag)
        elif typ == "mention":
            mentions.append((None, txt.lstrip("@")))
        elif typ == "mention_name":
            uid = bare_chat_id(p.get("user_id"))
            mentions.append((uid, None))
            draft["accounts"].append((uid, None, txt))
    draft["urls"] = urls
    draft["hashtags"] = hashtags
    draft["mentions"] = mentions


_DESKTOP_MEDIA = {
    "sticker": "sticker",
    "video_file": "video",
    "video_message": "video",
    "animation": "video",
    "voice_message": "audio",
    "audio_file": "audio",
}


def _desktop_media(m: dict[str, Any]) -> list[str]:
    types: list[str] = []
    if m.get("photo"):
        types.append("photo")
    if m.get("file") or m.get("media_type"):
        mt = str(m.get("media_type") or "")
        types.append(_DESKTOP_MEDIA.get(mt) or (doc_media_type(m.get("mime_type")) if m.get("mime_type") else
                                                 "document"))
    for key in ("poll", "location_information", "contact_information", "game_title", "invoice_information"):
        if m.get(key):
            types.append(_DESKTOP_OTHER[key])
    return types


_DESKTOP_OTHER = {
    "poll": "poll",
    "location_information": "geo",
    "contact_information": "contact",
    "game_title": "game",
    "invoice_information": "invoice",
}


def _desktop_reactions(reactions: Any, accounts: list[Account]) -> int | None:
    if not isinstance(reactions, list):
        return None
    total = 0
    for r in reactions:
        if not isinstance(r, dict):
            continue
        total += int(to_int(r.get("count")) or 0)
        for who in r.get("recent") or ():
            if isinstance(who, dict):
                _desktop_peer(who.get("from_id"), who.get("from"), accounts)
    return total


def _desktop_raw(m: dict[str, Any]) -> dict[str, Any]:
    """The message without name-only identities (see the module docstring)."""
    drop = {k: None for k in ("author", "saved_from") if m.get(k)}
    if m.get("forwarded_from") and not m.get("forwarded_from_id"):
        drop["forwarded_from"] = None
    return dict(m, **drop) if drop else m


SOURCES = [TelegramTelethon(), TelegramDesktop()]
