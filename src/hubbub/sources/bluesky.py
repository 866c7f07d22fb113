"""Bluesky / AT Protocol: ``app.bsky.feed.post`` records as the XRPC API and Jetstream give them.

Accepted shapes (one per record: a JSON document, a JSONL line or an HTTP recording body):

- ``com.atproto.repo.getRecord`` (``{uri, cid, value}``) and ``listRecords`` (``{records: [...]}``);
- ``app.bsky.feed.getPostThread`` (``{thread}``: the post, its parents and replies, recursively);
- feeds (``getTimeline``, ``getAuthorFeed``, ``getFeed``...: ``{feed: [{post, reply?, reason?}]}``);
  a ``reasonRepost`` item is a repost by ``reason.by``;
- ``getPosts`` / ``searchPosts`` (``{posts: [...]}``) and bare post views;
- Jetstream events (``{did, time_us, kind: "commit", commit: {operation, collection, rkey,
  record}}``), post creations only.

Likes, follows, DID documents, handle resolutions, other record types and Jetstream identity /
account / delete events hold no post and yield nothing.

Ids: a post's id is its ``at://did/app.bsky.feed.post/rkey`` URI; ``parent_id`` and
``conversation_id`` are the URIs of ``reply.parent`` and ``reply.root`` (a post that replies to
nothing is its own conversation); a quote is a post that embeds another post
(``app.bsky.embed.record`` or ``recordWithMedia``); ``quoted_id`` is the embedded URI. Every
complete post a record carries is imported once: thread parents and replies, a feed item's reply
parent and root, quoted posts shown in an embed view, and a reposted post as well as its repost.
A repost row has the repost record's URI when the feed gives it (``reason.uri``, newer AppViews),
else no id (the pipeline keys it by content). It carries the reposted post's text, links, tags
and mentions, and ``reposted_id`` = the reposted post's URI.

Links, mentions and tags come from the facets (links in the text are shown shortened there, the
facet holds the full URL); a link card (``app.bsky.embed.external``) adds its URL; ``tags`` (post
tags outside the text) add hashtags. Counts come from post views; ``indexedAt`` is when the
AppView indexed the post, not when counts were collected, so ``engagement_at`` stays empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeGuard

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
)

POST = "app.bsky.feed.post"
_REPOST_REASON = "app.bsky.feed.defs#reasonRepost"
_DID = re.compile(r"did:(?:plc:[a-z2-7]{24}|web:[A-Za-z0-9.\-%:]+[A-Za-z0-9])")
_TYPE_SNIFF = re.compile(r'"\$type"\s*:\s*"(?:app\.bsky\.|com\.atproto\.)')
_AT_URI_SNIFF = re.compile(r'"(?:uri|subject)"\s*:\s*"at://')
_DID_SNIFF = re.compile(r'"did"\s*:\s*"did:(?:plc|web):')

Obj = dict[str, Any]
Account = tuple[str | None, str | None, str | None]


class Bluesky(Source):
    name = "bluesky"
    platform = "bluesky"
    description = "Bluesky/AT Protocol posts: XRPC records, threads, feeds, post views, Jetstream events"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if _TYPE_SNIFF.search(s):
            return 0.9
        if '"time_us"' in s and '"kind"' in s and _DID_SNIFF.search(s):
            return 0.9  # Jetstream
        if _AT_URI_SNIFF.search(s):
            return 0.7
        if _DID_SNIFF.search(s):
            return 0.5  # DID documents, resolveHandle, profiles: read, hold no post
        return 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        out = _Out()
        if isinstance(obj, list):
            for i, x in enumerate(obj):
                _dispatch(x, f"[{i}]", out)
        else:
            _dispatch(obj, "", out)
        return iter(out.items)


class _Out:
    """Drafts of one record, each post once."""

    def __init__(self) -> None:
        self.items: list[Draft | Bad] = []
        self.seen: set[str] = set()

    def add(self, make: Any, raw: Any, loc: str, *args: Any) -> None:
        try:
            draft = make(*args)
        except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
            self.items.append(Bad(item_reason(exc), raw, loc))
            return
        if draft is None:
            return
        pid = draft.get("post_id")
        if pid is not None:
            if pid in self.seen:
                return
            self.seen.add(pid)
        draft["locator"] = loc
        self.items.append(draft)


def _sub(loc: str, key: str) -> str:
    return f"{loc}.{key}" if loc and not key.startswith("[") else f"{loc}{key}"


def _dispatch(d: Any, loc: str, out: _Out) -> None:
    if not isinstance(d, dict):
        return
    if isinstance(d.get("thread"), dict):
        _thread(d["thread"], _sub(loc, "thread"), out)
    elif isinstance(d.get("feed"), list):
        for i, item in enumerate(d["feed"]):
            _feed_item(item, _sub(loc, f"feed[{i}]"), out)
    elif isinstance(d.get("posts"), list):
        for i, pv in enumerate(d["posts"]):
            _post_view(pv, _sub(loc, f"posts[{i}]"), out)
    elif isinstance(d.get("records"), list):
        for i, r in enumerate(d["records"]):
            if isinstance(r, dict):
                out.add(_from_record, r, _sub(loc, f"records[{i}]"), r)
    elif "time_us" in d and "kind" in d:
        if d.get("kind") == "commit":
            out.add(_from_jetstream, d, loc, d)
    elif "uri" in d and "value" in d:
        out.add(_from_record, d, loc, d)
    elif _is_post_view(d):
        _post_view(d, loc, out)
    elif isinstance(d.get("post"), dict):
        if str(d.get("$type", "")).endswith("#threadViewPost"):
            _thread(d, loc, out)
        else:
            _feed_item(d, loc, out)


def _is_post_view(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("record"), dict) and "uri" in d and "author" in d


# ---------------------------------------------------------------------------------------------
# Containers


def _thread(node: Obj, loc: str, out: _Out) -> None:
    """A threadViewPost: parents first (nearest last), the post, then replies depth first."""
    chain: list[tuple[Obj, str]] = []
    cur, cur_loc = node.get("parent"), _sub(loc, "parent")
    while isinstance(cur, dict) and len(chain) < 10_000:
        chain.append((cur, cur_loc))
        cur, cur_loc = cur.get("parent"), _sub(cur_loc, "parent")
    for parent, ploc in reversed(chain):
        _post_view(parent.get("post"), ploc, out)
    stack: list[tuple[Any, str]] = [(node, loc)]
    while stack:
        n, nloc = stack.pop()
        if not isinstance(n, dict):
            continue
        _post_view(n.get("post"), nloc, out)
        found = n.get("replies")
        replies: list[Any] = found if isinstance(found, list) else []
        for i in range(len(replies) - 1, -1, -1):
            stack.append((replies[i], _sub(nloc, f"replies[{i}]")))


def _feed_item(item: Any, loc: str, out: _Out) -> None:
    if not isinstance(item, dict) or not _is_post_view(item.get("post")):
        return
    reason = item.get("reason")
    if isinstance(reason, dict) and reason.get("$type") == _REPOST_REASON:
        out.add(_repost, item, _sub(loc, "reason"), item)
    _post_view(item["post"], _sub(loc, "post"), out)
    reply = item.get("reply")
    if isinstance(reply, dict):
        for key in ("root", "parent"):
            _post_view(reply.get(key), _sub(loc, f"reply.{key}"), out)


def _post_view(pv: Any, loc: str, out: _Out, depth: int = 0) -> None:
    """A post view (blocked / not-found placeholders are skipped), then the posts its embed
    view shows."""
    if not _is_post_view(pv):
        if isinstance(pv, dict) and "cid" in pv and "uri" in pv:  # a post view with a broken part
            what = "record" if not isinstance(pv.get("record"), dict) else "author"
            out.items.append(Bad(f"post view whose {what} is not an object", pv, loc))
            if depth < 4:  # the posts it embeds are still whole
                for i, vr in enumerate(_embedded_views(pv.get("embed"))):
                    _view_record(vr, _sub(loc, f"embed[{i}]"), out, depth + 1)
        return
    out.add(_from_view, pv, loc, pv)
    if depth < 4:
        for i, vr in enumerate(_embedded_views(pv.get("embed"))):
            _view_record(vr, _sub(loc, f"embed[{i}]"), out, depth + 1)


def _view_record(vr: Obj, loc: str, out: _Out, depth: int) -> None:
    """``app.bsky.embed.record#viewRecord``: a quoted post as shown, with its own embeds."""
    out.add(_from_view, vr, loc, vr)
    if depth < 4:
        for i, emb in enumerate(vr.get("embeds") or ()):
            for j, sub in enumerate(_embedded_views(emb)):
                _view_record(sub, _sub(loc, f"embeds[{i}][{j}]"), out, depth + 1)


def _embedded_views(embed: Any) -> list[Obj]:
    """The viewRecords inside an embed view (``record#view`` or ``recordWithMedia#view``)."""
    if not isinstance(embed, dict):
        return []
    rec = embed.get("record")
    if isinstance(rec, dict) and isinstance(rec.get("record"), dict):  # recordWithMedia#view
        rec = rec["record"]
    if isinstance(rec, dict) and isinstance(rec.get("value"), dict) and isinstance(rec.get("author"), dict):
        return [rec]
    return []


# ---------------------------------------------------------------------------------------------
# Posts to drafts


def _from_record(r: Obj) -> Draft | None:
    """``{uri, cid, value}`` from getRecord / listRecords."""
    uri = r.get("uri")
    if not isinstance(uri, str) or not _is_post(r.get("value"), uri):
        return None
    return _draft(uri, r["value"], _uri_author(uri), None, r)


def _from_view(v: Obj) -> Draft | None:
    """A postView (``record``) or an embed viewRecord (``value``)."""
    uri = v.get("uri")
    rec = v.get("record") if isinstance(v.get("record"), dict) else v.get("value")
    if not isinstance(uri, str) or not uri:
        raise MappingError("uri: missing or not text")
    if not _is_post(rec, uri):
        return None
    found = v.get("author")
    author: Obj = found if isinstance(found, dict) else _uri_author(uri)
    return _draft(uri, rec, author, v, v)


def _from_jetstream(ev: Obj) -> Draft | None:
    c = ev.get("commit")
    if not isinstance(c, dict) or c.get("operation") not in ("create", "update"):
        return None
    if c.get("collection") != POST or not isinstance(c.get("record"), dict):
        return None
    did, rkey = ev.get("did"), c.get("rkey")
    if not did or not rkey:
        raise MappingError("Jetstream commit without did or rkey")
    uri = f"at://{did}/{POST}/{rkey}"
    if not _is_post(c["record"], uri):
        return None
    draft = _draft(uri, c["record"], {"did": did}, None, ev)
    if draft["created_at"] is None:
        draft["created_at"] = _from_us(ev.get("time_us"))
    return draft


def _repost(item: Obj) -> Draft:
    reason, post = item["reason"], item["post"]
    by = reason.get("by") if isinstance(reason.get("by"), dict) else {}
    orig = _from_view(post)
    if orig is None:
        raise MappingError("repost of something that is not a post")
    rid = reason.get("uri") if isinstance(reason.get("uri"), str) else None
    orig.update(
        post_id=rid,
        created_at=parse_time(reason.get("indexedAt"), "reason.indexedAt"),
        author_id=by.get("did"),
        author_handle=_handle(by),
        author_name=by.get("displayName") or None,
        kind="repost",
        parent_id=None,
        conversation_id=rid,
        reposted_id=post["uri"],
        quoted_id=None,
        likes=None, reposts=None, replies=None, quotes=None, views=None,
        accounts=_accounts(item),
        raw=item,
    )
    return orig


def _draft(uri: str, rec: Obj, author: Obj, view: Obj | None, raw: Any) -> Draft:
    found = rec.get("text")
    text = found if isinstance(found, str) else ""
    urls, mentions, tags = _facets(rec, text)
    media, quoted, card = _embed(rec.get("embed"))
    if card and card not in urls:
        urls.append(card)
    found = rec.get("reply")
    reply: Obj = found if isinstance(found, dict) else {}
    parent = _ref_uri(reply.get("parent"))
    root = _ref_uri(reply.get("root"))
    langs = rec.get("langs")
    created = opt_time(rec.get("createdAt")) or opt_time((view or {}).get("indexedAt"))
    v = view or {}
    return {
        "post_id": uri,
        "created_at": created,
        "author_id": author.get("did") or _did_of(uri),
        "author_handle": _handle(author),
        "author_name": author.get("displayName") or None,
        "text": text,
        "lang_declared": langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None,
        "kind": "reply" if parent else "quote" if quoted else "post",
        "parent_id": parent,
        "conversation_id": (root or parent) if reply else uri,
        "reposted_id": None,
        "quoted_id": quoted,
        "urls": [(u, None) for u in urls],
        "hashtags": tags,
        "mentions": mentions,
        "media_types": media,
        "likes": to_int(v.get("likeCount")),
        "reposts": to_int(v.get("repostCount")),
        "replies": to_int(v.get("replyCount")),
        "quotes": to_int(v.get("quoteCount")),
        "views": None,
        "engagement_at": None,
        "accounts": _accounts(raw),
        "raw": raw,
    }


def _is_post(rec: Any, uri: str) -> TypeGuard[Obj]:
    if not isinstance(rec, dict):
        return False
    typ = rec.get("$type")
    return typ == POST if typ is not None else f"/{POST}/" in uri


def _did_of(uri: str) -> str | None:
    """The DID an at:// URI names (None when it names a handle instead)."""
    if uri.startswith("at://did:"):
        return uri[5:].split("/", 1)[0]
    return None


def _uri_author(uri: str) -> Obj:
    """Author as far as the URI tells: its DID, or the handle some URIs carry instead."""
    did = _did_of(uri)
    if did or not uri.startswith("at://"):
        return {"did": did}
    return {"handle": uri[5:].split("/", 1)[0] or None}


def _handle(author: Obj) -> str | None:
    h = author.get("handle")
    return h if isinstance(h, str) and h and h != "handle.invalid" else None


def _ref_uri(ref: Any) -> str | None:
    if isinstance(ref, dict) and isinstance(ref.get("uri"), str) and ref["uri"]:
        return ref["uri"]
    return None


def _from_us(value: Any) -> datetime | None:
    n = to_int(value)
    if n is None:
        return None
    try:
        return datetime.fromtimestamp(n / 1_000_000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _facets(rec: Obj, text: str) -> tuple[list[str], list[tuple[str | None, str | None]], list[str]]:
    """Links, mentions (did, handle as written) and tags from rich-text facets and ``tags``."""
    urls: list[str] = []
    mentions: list[tuple[str | None, str | None]] = []
    tags: list[str] = []
    data = text.encode("utf-8")
    for f in rec.get("facets") or ():
        if not isinstance(f, dict):
            continue
        for feat in f.get("features") or ():
            if not isinstance(feat, dict):
                continue
            typ = feat.get("$type", "")
            if typ.endswith("#link") and isinstance(feat.get("uri"), str):
                if feat["uri"] not in urls:
                    urls.append(feat["uri"])
            elif typ.endswith("#mention") and feat.get("did"):
                mentions.append((feat["did"], _span(data, f.get("index")).lstrip("@") or None))
            elif typ.endswith("#tag") and isinstance(feat.get("tag"), str) and feat["tag"]:
                tags.append(feat["tag"].lstrip("#＃"))
    for t in rec.get("tags") or ():
        if isinstance(t, str) and t and t not in tags:
            tags.append(t.lstrip("#＃"))
    return urls, mentions, tags


def _span(data: bytes, index: Any) -> str:
    if not isinstance(index, dict):
        return ""
    start, end = to_int(index.get("byteStart")), to_int(index.get("byteEnd"))
    if start is None or end is None or not 0 <= start < end <= len(data):
        return ""
    return data[int(start):int(end)].decode("utf-8", "replace").strip()


def _embed(embed: Any) -> tuple[list[str], str | None, str | None]:
    """(media types, quoted post URI, link card URL) of a post record's embed."""
    if not isinstance(embed, dict):
        return [], None, None
    typ = embed.get("$type", "")
    media: list[str] = []
    quoted = card = None
    if typ == "app.bsky.embed.recordWithMedia":
        media, _, card = _embed(embed.get("media"))
        quoted = _quoted((embed.get("record") or {}).get("record"))
    elif typ == "app.bsky.embed.record":
        quoted = _quoted(embed.get("record"))
    elif typ == "app.bsky.embed.images":
        media = ["image" for _ in embed.get("images") or ()]
    elif typ == "app.bsky.embed.video":
        media = ["video"]
    elif typ == "app.bsky.embed.external":
        ext = embed.get("external")
        if isinstance(ext, dict) and isinstance(ext.get("uri"), str) and ext["uri"]:
            card = ext["uri"]
    return media, quoted, card


def _quoted(ref: Any) -> str | None:
    """An embedded record is a quote when it is a post (not a feed, list or starter pack)."""
    uri = _ref_uri(ref)
    return uri if uri and f"/{POST}/" in uri else None


def _accounts(raw: Any) -> list[Account]:
    """Every account identity in the raw record: profiles (did, handle, display name) and DIDs
    inside strings (at:// URIs of replied-to, quoted and liked posts)."""
    out: dict[str, Account] = {}
    stack: list[tuple[Any, int]] = [(raw, 0)]
    while stack:
        x, depth = stack.pop()
        if isinstance(x, dict):
            did = x.get("did")
            if isinstance(did, str) and did.startswith("did:") and (x.get("handle") or did not in out):
                out[did] = (did, _handle(x), x.get("displayName") or None)
            if depth < 40:
                stack.extend((v, depth + 1) for v in x.values() if not isinstance(v, str | int | float | bool))
                for v in x.values():
                    if isinstance(v, str) and "did:" in v:
                        for d in _DID.findall(v):
                            out.setdefault(d, (d, None, None))
        elif isinstance(x, list) and depth < 40:
            for v in x:
                if isinstance(v, str):
                    for d in _DID.findall(v):
                        out.setdefault(d, (d, None, None))
                else:
                    stack.append((v, depth + 1))
    return list(out.values())


SOURCES = [Bluesky()]
