"""X/Twitter API v1.1 status objects: one status per line (twarc 1, streaming), a JSON array of
statuses (timelines, ``statuses/retweets``), search responses (``{statuses, search_metadata}``)
and HTTP recordings of those endpoints.

Only the statuses a response is about become posts; statuses embedded in them
(``retweeted_status``, ``quoted_status``) are kept in the raw record, as the v2 source keeps
``includes.tweets``. Users, list members, geo places and error bodies hold no post and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from hubbub.sources.base import (
    Bad,
    Draft,
    MappingError,
    Source,
    head_json_keys,
    item_reason,
    parse_time,
    to_int,
    unescape,
)
from hubbub.sources.twitter_text import retweet_text

_V11_URL = re.compile(r"api\.twitter\.com/1\.1/|api\.x\.com/1\.1/")

Account = tuple[Any, Any, Any]


class TwitterV1(Source):
    name = "twitter-v1"
    platform = "twitter"
    description = "X/Twitter API v1.1 statuses: JSONL, JSON arrays, search responses, recordings"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if not s.lstrip().startswith(("{", "[")):
            return 0.0
        if _V11_URL.search(s):
            return 0.95  # HTTP recording of a v1.1 endpoint
        if '"id_str"' in s and '"screen_name"' in s:
            if '"created_at"' in s and ('"text"' in s or '"full_text"' in s):
                return 0.9  # statuses (v2 has neither id_str nor screen_name)
            return 0.6  # v1.1 user objects (users/lookup, list members): nothing to import
        if '"place_type"' in s and '"contained_within"' in s:
            return 0.5  # v1.1 geo places
        return 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if isinstance(obj, list):  # a recorded response body: timeline or retweets page
            yield from _statuses(obj, "[{}]")
        elif isinstance(obj, dict):
            statuses = obj.get("statuses")
            if isinstance(statuses, list):  # search/tweets.json
                yield from _statuses(statuses, "statuses[{}]")
            elif _is_status(obj):
                yield _status(obj, "")
        else:
            raise MappingError("expected a JSON object or array (API v1.1 status)")


def _statuses(items: list[Any], loc_fmt: str) -> Iterator[Draft | Bad]:
    for i, st in enumerate(items):
        if not _is_status(st):
            continue  # user objects and other payloads hold no post
        loc = loc_fmt.format(i)
        try:
            yield _status(st, loc)
        except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
            yield Bad(item_reason(exc), st, loc)


def _is_status(x: Any) -> bool:
    return isinstance(x, dict) and ("text" in x or "full_text" in x) and ("id_str" in x or "id" in x)


def _status(st: dict[str, Any], loc: str) -> Draft:
    post_id = st.get("id_str") or st.get("id")
    if post_id is None or post_id == "":
        raise MappingError("missing 'id_str'")
    text, ent, ext_ent = _full(st)
    user = st.get("user") or {}
    rt = st.get("retweeted_status")
    rt = rt if isinstance(rt, dict) else None
    mentions = [(_id(m, "id"), m.get("screen_name")) for m in ent.get("user_mentions") or () if isinstance(m, dict)]
    urls = _urls(ent)
    hashtags = [h["text"] for h in ent.get("hashtags") or () if isinstance(h, dict) and h.get("text")]
    if rt is not None:
        # the retweet's own text is cut: take the original's whole text and its entities
        rt_text, rt_ent, _ = _full(rt)
        if rt_text and (_extended(rt) or not rt.get("truncated")):
            found = rt.get("user")
            rt_user: dict[str, Any] = found if isinstance(found, dict) else {}
            handle = rt_user.get("screen_name")
            text = retweet_text(text, handle if isinstance(handle, str) else None, rt_text)
            urls = list(dict.fromkeys(urls + _urls(rt_ent)))
            hashtags = list(dict.fromkeys(hashtags + [h["text"] for h in rt_ent.get("hashtags") or ()
                                                      if isinstance(h, dict) and h.get("text")]))
            seen = {str(h).lower() for _, h in mentions if h}
            mentions += [(_id(m, "id"), m.get("screen_name")) for m in rt_ent.get("user_mentions") or ()
                         if isinstance(m, dict) and m.get("screen_name")
                         and str(m["screen_name"]).lower() not in seen]
    reply_to = _id(st, "in_reply_to_status_id")
    # a retweet of a quote carries the quoted id of the tweet it retweets: not its own quote
    quoted = None if rt else _id(st, "quoted_status_id") or _id(st.get("quoted_status") or {}, "id")
    kind = "repost" if rt else "reply" if reply_to else "quote" if quoted else "post"
    accounts: list[Account] = []
    _accounts_in(st, accounts, top=True)
    return {
        "post_id": str(post_id),
        "created_at": parse_time(st.get("created_at"), "created_at"),
        "author_id": _id(user, "id"),
        "author_handle": user.get("screen_name"),
        "author_name": user.get("name"),
        "text": text,
        "lang_declared": st.get("lang"),  # mapped to ISO 639 by the pipeline (langcodes)
        "kind": kind,
        "parent_id": reply_to,
        "conversation_id": None,  # v1.1 does not give it
        "reposted_id": _id(rt, "id") if rt else None,
        "quoted_id": quoted,
        "urls": urls,
        "hashtags": hashtags,
        "mentions": mentions,
        "media_types": [m["type"] for m in (ext_ent.get("media") or ent.get("media") or ())
                        if isinstance(m, dict) and m.get("type")],
        "likes": to_int(st.get("favorite_count")),
        "reposts": to_int(st.get("retweet_count")),
        "replies": to_int(st.get("reply_count")),
        "quotes": to_int(st.get("quote_count")),
        "views": None,
        "engagement_at": None,  # a status does not say when its counts were read
        "accounts": accounts,
        "raw": _quoted_ids(st),
        "locator": loc,
    }


def _extended(st: dict[str, Any]) -> bool:
    """Does the status hold its whole text (``extended_tweet`` or ``tweet_mode=extended``)?"""
    return isinstance(st.get("extended_tweet"), dict) or "full_text" in st


def _full(st: dict[str, Any]) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """(whole text, entities, extended entities) of a status; the API escapes & < >."""
    ext = st.get("extended_tweet")
    ext = ext if isinstance(ext, dict) else {}
    text = unescape(ext.get("full_text") or st.get("full_text") or st.get("text"))
    ent = ext.get("entities") or st.get("entities") or {}
    ext_ent = ext.get("extended_entities") or st.get("extended_entities") or {}
    return text, ent if isinstance(ent, dict) else {}, ext_ent if isinstance(ext_ent, dict) else {}


def _id(obj: dict[str, Any], key: str) -> str | None:
    """``<key>_str`` when present (exact), else the numeric ``<key>`` as text."""
    v = obj.get(key + "_str")
    if v:
        return str(v)
    v = obj.get(key)
    if v is None or v == "" or isinstance(v, bool):
        return None
    return str(v)


def _urls(ent: dict[str, Any]) -> list[tuple[str, str | None]]:
    out = []
    for group in ("urls", "media"):
        for u in ent.get(group) or ():
            if isinstance(u, dict) and (first := u.get("url") or u.get("expanded_url")):
                out.append((first, u.get("expanded_url")))
    return out


def _accounts_in(st: dict[str, Any], out: list[Account], top: bool = False) -> None:
    """Every account other than the author whose identity appears in this status record:
    repliers-to, mentioned users, authors of embedded statuses (and theirs, recursively)."""
    if not top:
        user = st.get("user")
        if isinstance(user, dict):
            out.append((_id(user, "id"), user.get("screen_name"), user.get("name")))
    if st.get("in_reply_to_user_id") or st.get("in_reply_to_screen_name"):
        out.append((_id(st, "in_reply_to_user_id"), st.get("in_reply_to_screen_name"), None))
    for holder in (st, st.get("extended_tweet")):
        if not isinstance(holder, dict):
            continue
        for group in ("entities", "extended_entities"):
            ent = holder.get(group)
            if not isinstance(ent, dict):
                continue
            for m in ent.get("user_mentions") or ():
                if isinstance(m, dict):
                    out.append((_id(m, "id"), m.get("screen_name"), m.get("name")))
            for m in ent.get("media") or ():
                if not isinstance(m, dict):
                    continue
                src = (m.get("additional_media_info") or {}).get("source_user")
                if isinstance(src, dict):
                    out.append((_id(src, "id"), src.get("screen_name"), src.get("name")))
                elif m.get("source_user_id_str"):
                    out.append((m["source_user_id_str"], None, None))
    for key in ("retweeted_status", "quoted_status"):
        inner = st.get(key)
        if isinstance(inner, dict):
            _accounts_in(inner, out)


# Work-around: the pipeline replaces account ids in the raw record by their key in place, which
# turns a JSON number (``"id": 783214``) into invalid JSON. Until it quotes bare numbers, the raw
# record is stored with its numeric account ids written as strings (the ``*_str`` values).
_ID_KEYS = ("in_reply_to_user_id", "source_user_id")


def _quoted_ids(st: dict[str, Any]) -> dict[str, Any]:
    out = dict(st)
    _quote_keys(out, _ID_KEYS)
    user = out.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), int):
        out["user"] = {**user, "id": _id(user, "id")}
    for key in ("entities", "extended_entities"):
        if isinstance(out.get(key), dict):
            out[key] = _quoted_entities(out[key])
    ext = out.get("extended_tweet")
    if isinstance(ext, dict):
        out["extended_tweet"] = ext = dict(ext)
        for key in ("entities", "extended_entities"):
            if isinstance(ext.get(key), dict):
                ext[key] = _quoted_entities(ext[key])
    for key in ("retweeted_status", "quoted_status"):
        if isinstance(out.get(key), dict):
            out[key] = _quoted_ids(out[key])
    return out


def _quoted_entities(ent: dict[str, Any]) -> dict[str, Any]:
    out = dict(ent)
    mentions = out.get("user_mentions")
    if isinstance(mentions, list):
        out["user_mentions"] = [_quote_keys(dict(m), ("id",)) if isinstance(m, dict) else m for m in mentions]
    media = out.get("media")
    if isinstance(media, list):
        out["media"] = [_quoted_media(m) if isinstance(m, dict) else m for m in media]
    return out


def _quoted_media(m: dict[str, Any]) -> dict[str, Any]:
    out = _quote_keys(dict(m), _ID_KEYS)
    info = out.get("additional_media_info")
    if isinstance(info, dict) and isinstance(info.get("source_user"), dict):
        out["additional_media_info"] = {**info, "source_user": _quote_keys(dict(info["source_user"]), ("id",))}
    return out


def _quote_keys(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for k in keys:
        if isinstance(d.get(k), int) and not isinstance(d[k], bool):
            d[k] = _id(d, k)
    return d


SOURCES = [TwitterV1()]
