"""X/Twitter API v2: response pages (twarc2 JSONL, raw API responses, filtered-stream lines)
and flattened tweets (``twarc2 flatten``). ``includes`` expansions are resolved per tweet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from hubbub.sources.base import (
    Bad,
    Draft,
    MappingError,
    Source,
    head_json_keys,
    item_reason,
    opt_time,
    parse_time,
    to_int,
    unescape,
)
from hubbub.sources.twitter_text import retweet_text

_KIND_ORDER = (("retweeted", "repost"), ("replied_to", "reply"), ("quoted", "quote"))


class TwitterV2(Source):
    name = "twitter-v2"
    platform = "twitter"
    description = "X/Twitter API v2 responses and twarc2 JSONL (pages or flattened tweets)"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        score = 0.0
        if '"data"' in s and ('"author_id"' in s or '"edit_history_tweet_ids"' in s):
            score = 0.9
        elif '"__twarc"' in s and '"author_id"' in s:
            score = 0.9
        elif '"author_id"' in s and '"conversation_id"' in s and '"public_metrics"' in s:
            score = 0.85  # flattened tweets
        if score and '"id_str"' in s and '"screen_name"' in s:
            score = 0.4  # v1.1 shapes mention author_id rarely; let the v1.1 source win
        if not score and ('"__twarc"' in s or ('"data"' in s and ('"tweet_count"' in s or '"member_count"' in s))
                          or ('"action"' in s and '"reason"' in s and '"created_at"' in s)):
            score = 0.5  # twarc/API v2 output without tweets (counts, users, lists, compliance)
        if not score and "api.twitter.com/2/" in s and '"data"' in s:
            score = 0.5  # recorded API v2 responses without tweets (users, followers, spaces)
        return score

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict):
            raise MappingError("expected a JSON object (API v2 page or tweet)")
        data = obj.get("data")
        if data is None and "id" in obj and "text" in obj:
            # flattened tweet: expansions are inline (author, referenced_tweets[].*)
            yield from _flat(obj)
            return
        if data is None:
            if obj.get("errors") and not obj.get("includes"):
                return  # error-only page: nothing to import (counted as skipped)
            return
        includes = obj.get("includes") or {}
        ctx = _Includes(includes)
        collected = opt_time((obj.get("__twarc") or {}).get("retrieved_at"))
        tweets = data if isinstance(data, list) else [data]
        for i, t in enumerate(tweets):
            loc = f"data[{i}]" if isinstance(data, list) else ""
            if not isinstance(t, dict):
                yield Bad("not a tweet object", t, loc)
                continue
            if "text" not in t:
                if "author_id" in t or "conversation_id" in t:
                    yield Bad("tweet without text", t, loc)
                # users, lists, counts and other non-tweet payloads hold no post
                continue
            try:
                yield _tweet(t, ctx, collected, loc)
            except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
                yield Bad(item_reason(exc), t, loc)


class _Includes:
    def __init__(self, inc: dict[str, Any]) -> None:
        self.users = {u.get("id"): u for u in inc.get("users") or () if isinstance(u, dict)}
        self.by_name = {(u.get("username") or "").lower(): u for u in self.users.values()}
        self.tweets = {t.get("id"): t for t in inc.get("tweets") or () if isinstance(t, dict)}
        self.media = {m.get("media_key"): m for m in inc.get("media") or () if isinstance(m, dict)}


def _tweet(t: dict[str, Any], inc: _Includes, collected: Any, loc: str) -> Draft:
    author = inc.users.get(t.get("author_id")) or {}
    refs = [r for r in t.get("referenced_tweets") or () if isinstance(r, dict)]
    ref_tweets = [inc.tweets[r["id"]] for r in refs if r.get("id") in inc.tweets]
    accounts = []
    for rt in ref_tweets:
        u = inc.users.get(rt.get("author_id"))
        accounts.append((rt.get("author_id"), (u or {}).get("username"), (u or {}).get("name")))
        accounts.extend((m.get("id"), m.get("username"), None)
                        for m in (rt.get("entities") or {}).get("mentions") or () if isinstance(m, dict))
    if t.get("in_reply_to_user_id"):
        u = inc.users.get(t["in_reply_to_user_id"]) or {}
        accounts.append((t["in_reply_to_user_id"], u.get("username"), u.get("name")))
    media = [inc.media[k] for k in (t.get("attachments") or {}).get("media_keys") or () if k in inc.media]
    draft = _common(t, collected, loc)
    draft.update(
        author_handle=author.get("username"),
        author_name=author.get("name"),
        mentions=[_mention(m, inc) for m in (t.get("entities") or {}).get("mentions") or ()],
        media_types=[m.get("type") for m in media if m.get("type")],
        accounts=accounts,
        raw={"tweet": t, "author": _account(author), "referenced_tweets": ref_tweets or None,
             "media": media or None},
    )
    _kind(draft, refs)
    original = inc.tweets.get(draft["reposted_id"]) if draft["reposted_id"] else None
    if original is not None:
        o_author = inc.users.get(original.get("author_id")) or {}
        _full_retweet(draft, original, o_author.get("username"),
                      [_mention(m, inc) for m in (original.get("entities") or {}).get("mentions") or ()
                       if isinstance(m, dict)])
    return draft


def _full_retweet(draft: Draft, original: dict[str, Any], handle: Any, mentions: list[tuple[Any, Any]]) -> None:
    """A retweet carries its original's full text and the entities found in it
    (``twitter_text.retweet_text``); the API cuts the retweet's own text."""
    full = _text(original)
    if not full:
        return
    draft["text"] = retweet_text(draft["text"], handle if isinstance(handle, str) else None, full)
    urls, hashtags = _entities(original)
    draft["urls"] = list(dict.fromkeys(draft["urls"] + urls))
    draft["hashtags"] = list(dict.fromkeys(draft["hashtags"] + hashtags))
    seen = {str(h).lower() for _, h in draft["mentions"] if h}
    draft["mentions"] = draft["mentions"] + [m for m in mentions if m[1] and str(m[1]).lower() not in seen]


def _flat(t: dict[str, Any]) -> Iterator[Draft]:
    author = t.get("author") or {}
    refs = [r for r in t.get("referenced_tweets") or () if isinstance(r, dict)]
    accounts = []
    for r in refs:
        a = r.get("author") or {}
        accounts.append((r.get("author_id") or a.get("id"), a.get("username"), a.get("name")))
    if isinstance(t.get("in_reply_to_user"), dict):
        u = t["in_reply_to_user"]
        accounts.append((u.get("id"), u.get("username"), u.get("name")))
    collected = opt_time((t.get("__twarc") or {}).get("retrieved_at"))
    draft = _common(t, collected, "")
    draft.update(
        author_handle=author.get("username"),
        author_name=author.get("name"),
        mentions=[(m.get("id"), m.get("username")) for m in (t.get("entities") or {}).get("mentions") or ()],
        media_types=[m.get("type") for m in (t.get("attachments") or {}).get("media") or ()
                     if isinstance(m, dict) and m.get("type")],
        accounts=accounts,
        raw=_flat_raw(t),
    )
    _kind(draft, refs)
    original = next((r for r in refs if r.get("type") == "retweeted"), None)
    if original is not None:
        _full_retweet(draft, original, (original.get("author") or {}).get("username"),
                      [(m.get("id"), m.get("username")) for m in (original.get("entities") or {}).get("mentions") or ()
                       if isinstance(m, dict)])
    yield draft


# Account fields kept in the raw record: enough to re-map the post. Profile fields (bio,
# location, avatar, website, pinned post) are dropped: Hubbub keeps no per-person profiles.
_ACCOUNT_KEEP = ("id", "username", "name", "verified", "verified_type", "protected", "created_at", "public_metrics")


def _account(u: dict[str, Any]) -> dict[str, Any] | None:
    return {k: u[k] for k in _ACCOUNT_KEEP if k in u} or None


_MENTION_KEEP = ("start", "end", "username", "id")


def _flat_raw(t: dict[str, Any]) -> dict[str, Any]:
    """A flattened tweet as kept: twarc expands every account in it (author, replied-to user,
    mentioned users, authors of referenced tweets) to a whole profile; only ``_ACCOUNT_KEEP`` of
    the author-like ones and the reference of a mention stay."""
    out = dict(t)
    for key in ("author", "in_reply_to_user"):
        if isinstance(out.get(key), dict):
            out[key] = _account(out[key])
    ent = out.get("entities")
    if isinstance(ent, dict) and isinstance(ent.get("mentions"), list):
        out["entities"] = {**ent, "mentions": [{k: m[k] for k in _MENTION_KEEP if k in m} if isinstance(m, dict)
                                               else m for m in ent["mentions"]]}
    refs = out.get("referenced_tweets")
    if isinstance(refs, list):
        out["referenced_tweets"] = [_flat_raw(r) if isinstance(r, dict) else r for r in refs]
    return out


def _text(t: dict[str, Any]) -> str | None:
    """A tweet's whole text: the long-post text when there is one; the API escapes & < >."""
    note = t.get("note_tweet")
    return unescape((note.get("text") if isinstance(note, dict) else None) or t.get("text"))


def _entities(t: dict[str, Any]) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """(links as (short, expanded), hashtags) of a tweet's entities."""
    ent = t.get("entities") or {}
    if not isinstance(ent, dict):
        return [], []
    urls = [(u.get("url"), u.get("unwound_url") or u.get("expanded_url"))
            for u in ent.get("urls") or () if isinstance(u, dict)]
    hashtags = [h.get("tag") for h in ent.get("hashtags") or () if isinstance(h, dict) and h.get("tag")]
    return urls, hashtags


def _common(t: dict[str, Any], collected: Any, loc: str) -> Draft:
    pm = t.get("public_metrics") or {}
    urls, hashtags = _entities(t)
    return {
        "post_id": str(t["id"]),
        "created_at": _created(t),
        "author_id": t.get("author_id"),
        "text": _text(t),
        "lang_declared": t.get("lang"),  # mapped to ISO 639 by the pipeline (langcodes)
        "conversation_id": t.get("conversation_id"),
        "urls": urls,
        "hashtags": hashtags,
        "likes": to_int(pm.get("like_count")),
        "reposts": to_int(pm.get("retweet_count")),
        "replies": to_int(pm.get("reply_count")),
        "quotes": to_int(pm.get("quote_count")),
        "views": to_int(pm.get("impression_count")),
        "engagement_at": collected,
        "locator": loc,
    }


def snowflake_time(tweet_id: Any) -> datetime | None:
    """Creation time encoded in an X snowflake id (ids from late 2010 on)."""
    try:
        n = int(tweet_id)
    except (TypeError, ValueError):
        return None
    if n < 1 << 40:  # pre-snowflake id: no time inside
        return None
    return datetime.fromtimestamp(((n >> 22) + 1288834974657) / 1000, tz=UTC)


def _created(t: dict[str, Any]) -> datetime:
    """``created_at`` when the response has it (it is not a default field), else the id's time."""
    if t.get("created_at"):
        return parse_time(t["created_at"], "created_at")
    dt = snowflake_time(t.get("id"))
    if dt is None:
        raise MappingError("missing created_at and the id carries no time")
    return dt


def _mention(m: dict[str, Any], inc: _Includes) -> tuple[str | None, str | None]:
    name = m.get("username")
    uid = m.get("id") or (inc.by_name.get((name or "").lower()) or {}).get("id")
    return uid, name


def _kind(draft: Draft, refs: list[dict[str, Any]]) -> None:
    by_type = {r.get("type"): r.get("id") for r in refs}
    draft["kind"] = "post"
    for typ, kind in _KIND_ORDER:
        if typ in by_type:
            draft["kind"] = kind
            break
    draft["reposted_id"] = by_type.get("retweeted")
    draft["parent_id"] = by_type.get("replied_to")
    draft["quoted_id"] = by_type.get("quoted")


SOURCES = [TwitterV2()]
