"""Reddit official API JSON: Listings (``{"kind": "Listing", "data": {"children": [...]}}``),
thread endpoints (``[post_listing, comment_listing]``, with comment trees nested in ``replies``),
``/api/morechildren`` responses (``{"json": {"data": {"things": [...]}}}``) and HTTP recordings
of those. ``t3`` things (submissions) become posts, ``t1`` things (comments) become comments;
subreddits (``t5``), ``more`` stubs and other kinds are skipped.

The mapping of one thing's fields is shared with the Pushshift source (same field names).

Identifiers (a deliberate choice):
- ``post_id``, ``parent_id`` and ``conversation_id`` are Reddit *fullnames* (``t1_abc``,
  ``t3_xyz``), not bare ids: comment and submission ids are separate counters that overlap (early
  dumps hold both a submission ``c13`` and a comment ``c13``), so a bare id does not name one
  thing. ``parent_id`` is the API's ``parent_id`` as given (``t1_`` when replying to a comment,
  ``t3_`` when replying to the submission) and so equals the parent's ``post_id``;
  ``conversation_id`` is ``link_id`` (the thread's submission); a submission's own
  ``conversation_id`` is itself.
- Accounts are keyed by username (``author_id`` is left empty): Reddit usernames are permanent
  and never reused, and ``author_fullname`` (``t2_...``) is missing from records before 2018 and
  from ``u/name`` mentions, so keying by it would split one account into two keys. The
  ``t2_`` id is still handed to the pipeline (as the author's second identity) so it is scrubbed
  from the stored raw record.
- Text (title, selftext, body) and link URLs are HTML-unescaped for ``&amp; &lt; &gt;``, which
  the API (and dumps made from it) escape unless ``raw_json=1`` was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
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
    urls_in,
)

_API_KIND = re.compile(r'"kind"\s*:\s*"(?:Listing|t[1-6]|more)"')
_RECORDED = re.compile(r'"uri"\s*:\s*"https?://(?:oauth|www|old|api|ssl)\.reddit\.com/')
_MENTION = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})(?![\w-])")
_PREFIXED = re.compile(r"t[1-6]_[0-9a-z]+")
_GONE = ("[deleted]", "[removed]", "")

Account = tuple[Any, Any, Any]


class RedditApi(Source):
    name = "reddit-api"
    platform = "reddit"
    description = "Reddit API JSON: Listings, comment trees, morechildren (and recordings of them)"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if not s.lstrip().startswith(("{", "[")):
            return 0.0
        if _RECORDED.search(s):
            return 0.95
        if _API_KIND.search(s):
            return 0.9
        if '"json"' in s and '"things"' in s:
            return 0.85  # morechildren response
        return 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict | list):
            raise MappingError("expected a JSON object or array (Reddit API response)")
        yield from _walk(obj, "")


def _walk(x: Any, path: str) -> Iterator[Draft | Bad]:
    """Depth-first over Listings, arrays of Listings, morechildren bodies and nested replies."""
    if isinstance(x, list):
        for i, y in enumerate(x):
            yield from _walk(y, f"{path}[{i}]")
        return
    if not isinstance(x, dict):
        return
    kind = x.get("kind")
    data = x.get("data")
    if kind == "Listing" and isinstance(data, dict):
        children = data.get("children")
        if children is None:
            children = []
        if not isinstance(children, list):
            yield Bad("Listing children is not a list", x, path)
            return
        for i, child in enumerate(children):
            bad = _bad_child(child)
            if bad:
                yield Bad(bad, child, f"{path}children[{i}]")
            else:
                yield from _walk(child, path)
    elif kind in ("t1", "t3") and isinstance(data, dict):
        try:
            yield thing(data, kind, None, _loc(data, kind, path))
        except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
            yield Bad(item_reason(exc), data, path)
        replies = data.get("replies")
        if isinstance(replies, dict):
            yield from _walk(replies, path)
    elif kind is None and isinstance(x.get("json"), dict):  # /api/morechildren
        things = (x["json"].get("data") or {}).get("things")
        if isinstance(things, list):
            yield from _walk(things, path)


# Kinds of things a Listing can hold that are not posts (accounts, messages, subreddits, awards,
# "load more" stubs, ...): skipped. A child of any other kind is quarantined.
_NOT_POSTS = {"t2", "t4", "t5", "t6", "more", "Listing", "LabeledMulti", "LiveUpdate", "LiveUpdateEvent",
              "modaction", "wikipage", "wikipagelisting", "UserList", "TrophyList", "KarmaList", "stylesheet",
              "subreddit_settings"}


def _bad_child(child: Any) -> str | None:
    """Why a Listing child is not a thing (None when it is one, of a kind mapped or skipped)."""
    if not isinstance(child, dict):
        return "Listing child is not an object"
    kind = child.get("kind")
    if not isinstance(kind, str) or not kind:
        return "Listing child without kind"
    if kind in ("t1", "t3"):
        return None if isinstance(child.get("data"), dict) else f"{kind} thing whose data is not an object"
    return None if kind in _NOT_POSTS else "Listing child of an unknown kind"


def _loc(data: dict[str, Any], kind: str, path: str) -> str:
    name = data.get("name") or (f"{kind}_{data['id']}" if data.get("id") else None)
    return name or path


# ---------------------------------------------------------------------------------------------
# One thing (shared with the Pushshift source)


def thing(d: dict[str, Any], kind: str, collected: datetime | None, loc: str) -> Draft:
    """Map one ``t1`` (comment) or ``t3`` (submission) data object to a draft."""
    post_id = fullname(d.get("name"), d.get("id"), kind)
    if post_id is None:
        raise MappingError("missing 'id'")
    author = d.get("author")
    if not isinstance(author, str) or author in _GONE:
        author = None
    accounts: list[Account] = []
    if author and d.get("author_fullname"):
        accounts.append((None, author, d["author_fullname"]))  # scrub the t2_ id as the author
    for key in ("link_author", "approved_by", "banned_by", "mod_reason_by"):
        other = d.get(key)
        if isinstance(other, str) and other not in _GONE:
            accounts.append((None, other, None))
    if kind == "t1":
        draft = _comment(d, post_id)
    else:
        draft = _submission(d, post_id, accounts)
    text = draft["text"]
    draft.update(
        post_id=post_id,
        created_at=parse_time(d.get("created_utc"), "created_utc"),
        author_id=None,
        author_handle=author,
        lang_declared=None,
        hashtags=[],
        mentions=[(None, m) for m in dict.fromkeys(_MENTION.findall(text))] if text and "u/" in text else [],
        likes=to_int(d.get("score")),
        engagement_at=collected,
        accounts=accounts,
        locator=loc,
    )
    return draft


def _comment(d: dict[str, Any], post_id: str) -> Draft:
    text = unescape(d.get("body"))
    link = fullname(d.get("link_id"), None, "t3")
    raw = d
    if isinstance(d.get("replies"), dict):  # the replies are posts of their own
        raw = {k: v for k, v in d.items() if k != "replies"}
    return {
        "text": text,
        "kind": "comment",
        "parent_id": _parent(d.get("parent_id"), link),
        "conversation_id": link,
        "reposted_id": None,
        "quoted_id": None,
        "urls": [(u, None) for u in urls_in(text)],
        "media_types": [],
        "reposts": None,
        "replies": None,
        "quotes": None,
        "views": None,
        "raw": raw,
    }


def _submission(d: dict[str, Any], post_id: str, accounts: list[Account]) -> Draft:
    title = unescape(d.get("title")) or ""
    body = unescape(d.get("selftext"))
    text = f"{title}\n\n{body}" if body else title
    urls: list[tuple[str, str | None]] = []
    link = _link(d)
    if link:
        urls.append((link, None))
    urls.extend((u, None) for u in urls_in(body))
    parent = fullname(d.get("crosspost_parent"), None, "t3")
    for xp in d.get("crosspost_parent_list") or ():
        a = xp.get("author") if isinstance(xp, dict) else None
        if isinstance(a, str) and a not in _GONE:
            accounts.append((None, a, xp.get("author_fullname")))
    return {
        "text": text,
        # a crosspost shares another submission (Reddit's repost); its title may be new text
        "kind": "repost" if parent else "post",
        "parent_id": None,
        "conversation_id": post_id,
        "reposted_id": parent,
        "quoted_id": None,
        "urls": urls,
        "media_types": _media(d),
        "reposts": to_int(d.get("num_crossposts")),
        "replies": to_int(d.get("num_comments")),
        "quotes": None,
        "views": to_int(d.get("view_count")),
        "raw": d,
    }


def _link(d: dict[str, Any]) -> str | None:
    """The submitted link; None for self (text) posts, whose ``url`` is their own permalink."""
    is_self = d.get("is_self")
    if is_self is None:
        is_self = str(d.get("domain") or "").startswith("self.")
    if is_self:
        return None
    url = d.get("url_overridden_by_dest") or d.get("url")
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("/"):  # crossposts and old self links are site-relative
        url = "https://www.reddit.com" + url
    return unescape(url)


def _media(d: dict[str, Any]) -> list[str]:
    if d.get("is_gallery") and isinstance(d.get("gallery_data"), dict):
        return ["photo"] * len(d["gallery_data"].get("items") or ()) or ["photo"]
    hint = d.get("post_hint")
    if d.get("is_video") or hint in ("hosted:video", "rich:video"):
        return ["video"]
    if hint == "image":
        return ["photo"]
    return []


def fullname(name: Any, bare_id: Any, kind: str) -> str | None:
    """``t1_abc`` from a fullname or a bare id (Pushshift lines before 2016 lack ``name``)."""
    if isinstance(name, str) and _PREFIXED.fullmatch(name):
        return name
    v = name if isinstance(name, str) and name else bare_id
    if v is None or v == "" or isinstance(v, bool):
        return None
    v = str(v)
    return v if _PREFIXED.fullmatch(v) else f"{kind}_{v}"


def _parent(parent: Any, link: str | None) -> str | None:
    """The replied-to thing as a fullname. Bare ids (some old dumps) are the submission when
    they equal the thread's id, else a comment."""
    if isinstance(parent, str) and _PREFIXED.fullmatch(parent):
        return parent
    if parent is None or parent == "":
        return link
    v = str(parent)
    if link and link[3:] == v:
        return link
    return f"t1_{v}"


SOURCES = [RedditApi()]
