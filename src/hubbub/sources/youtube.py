"""YouTube: Data API v3 responses (comment threads, comments, videos, search results) and the
labelled comment CSVs of the YouTube Spam Collection (UCI).

Mapping decisions (API):
- a top-level comment is kind ``comment`` with ``parent_id`` None and ``conversation_id`` = the
  video id; a reply is kind ``reply`` with ``parent_id`` = ``snippet.parentId`` (the top-level
  comment) and the same ``conversation_id``; a video is kind ``post`` with ``conversation_id`` =
  its own id (a comment thread on a channel, not a video, has no conversation id);
- comment text is ``textOriginal``; where the API withholds it, ``textDisplay`` with its HTML
  removed. Video text is the title, a blank line and the description. Search results carry
  HTML-escaped titles and descriptions (an API quirk), which are unescaped;
- engagement: comment ``likeCount`` -> likes, thread ``totalReplyCount`` -> replies (top-level
  comments); video ``statistics`` likeCount/commentCount/viewCount -> likes/replies/views. The
  API response does not say when it was fetched, so ``engagement_at`` stays None;
- author: ``authorChannelId.value`` + ``authorDisplayName`` (comments), ``channelId`` +
  ``channelTitle`` (videos). Since 2024 ``authorDisplayName`` is the ``@handle``; it is then
  also the author handle. The video owner's channel (``snippet.channelId`` of a comment) is
  another account in the record;
- channel lists and non-video search results (channels, playlists) hold no post: skipped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import IO, Any

from hubbub.sources._csvrows import csv_records, first_line_fields
from hubbub.sources.base import (
    Bad,
    Draft,
    MappingError,
    Record,
    Source,
    hashtags_in,
    head_json_keys,
    item_reason,
    mentions_in,
    parse_time,
    str_id,
    to_int,
    urls_in,
)

_KIND = re.compile(r'"kind"\s*:\s*"youtube#(\w+)"')
_KNOWN = {
    "commentThreadListResponse", "commentListResponse", "videoListResponse", "searchListResponse",
    "channelListResponse", "commentThread", "comment", "video", "searchResult", "channel",
}


class YouTubeApi(Source):
    name = "youtube-api"
    platform = "youtube"
    description = "YouTube Data API v3 responses: commentThreads, comments, videos and search lists"

    def sniff(self, head: bytes, name: str) -> float:
        m = _KIND.search(head_json_keys(head))
        return 0.9 if m and m.group(1) in _KNOWN else 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict):
            raise MappingError("expected a JSON object (YouTube Data API response or resource)")
        kind = str(obj.get("kind") or "")
        if kind.endswith("ListResponse"):
            for i, item in enumerate(obj.get("items") or ()):
                yield from _item(item, f"items[{i}]")
            return
        if not kind.startswith("youtube#"):
            raise MappingError("not a YouTube Data API object (no 'kind': 'youtube#...')")
        yield from _item(obj, "")


def _item(item: Any, loc: str) -> Iterator[Draft | Bad]:
    if not isinstance(item, dict):
        yield Bad("not a YouTube resource object", item, loc)
        return
    kind = item.get("kind")
    try:
        if kind == "youtube#commentThread":
            yield from _thread(item, loc)
        elif kind == "youtube#comment":
            yield _comment(item, loc)
        elif kind == "youtube#video":
            yield _video(item, item.get("id"), item.get("statistics") or {}, False, loc)
        elif kind == "youtube#searchResult":
            ident = item.get("id") or {}
            if isinstance(ident, dict) and ident.get("kind") == "youtube#video":
                yield _video(item, ident.get("videoId"), {}, True, loc)
            # channel and playlist results hold no post
        elif kind == "youtube#channel":
            return
        else:
            yield Bad(f"unsupported YouTube resource kind {kind!r}", item, loc)
    except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
        yield Bad(item_reason(exc), item, loc)


def _thread(t: dict[str, Any], loc: str) -> Iterator[Draft | Bad]:
    snip = t.get("snippet") or {}
    top = snip.get("topLevelComment")
    if not isinstance(top, dict):
        raise MappingError("comment thread without topLevelComment")
    draft = _comment(top, loc, video_id=snip.get("videoId"))
    draft["replies"] = to_int(snip.get("totalReplyCount"))
    draft["raw"] = {k: v for k, v in t.items() if k != "replies"}
    yield draft
    for j, c in enumerate((t.get("replies") or {}).get("comments") or ()):
        sub = f"{loc}.replies[{j}]".lstrip(".")
        try:
            yield _comment(c, sub, video_id=snip.get("videoId"), parent=top.get("id"))
        except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
            yield Bad(item_reason(exc), c, sub)


def _comment(c: dict[str, Any], loc: str, video_id: Any = None, parent: Any = None) -> Draft:
    s = c.get("snippet") or {}
    cid = str_id(c.get("id"))
    if not cid:
        raise MappingError("comment without id")
    display = s.get("textDisplay")
    text = s.get("textOriginal")
    if text is None and isinstance(display, str):
        text = html_text(display)
    parent_id = s.get("parentId") or parent
    author_id, handle, name = _author((s.get("authorChannelId") or {}).get("value"), s.get("authorDisplayName"))
    owner = s.get("channelId")
    return {
        "post_id": cid,
        "created_at": parse_time(s.get("publishedAt"), "publishedAt"),
        "author_id": author_id,
        "author_handle": handle,
        "author_name": name,
        "text": text,
        "kind": "reply" if parent_id else "comment",
        "parent_id": parent_id,
        "conversation_id": s.get("videoId") or video_id,
        "urls": [(u, None) for u in urls_in(text)],
        "hashtags": hashtags_in(text),
        "mentions": _mentions(text, display),
        "likes": to_int(s.get("likeCount")),
        "accounts": [(owner, None, None)] if owner and owner != author_id else [],
        "raw": c,
        "locator": loc,
    }


def _video(v: dict[str, Any], vid: Any, stats: dict[str, Any], escaped: bool, loc: str) -> Draft:
    s = v.get("snippet") or {}
    vid = str_id(vid)
    if not vid:
        raise MappingError("video without id")
    title, desc = s.get("title") or "", s.get("description") or ""
    if escaped:
        title, desc = html.unescape(title), html.unescape(desc)
    text = f"{title}\n\n{desc}" if title and desc else (title or desc or None)
    author_id, handle, name = _author(s.get("channelId"), s.get("channelTitle"))
    return {
        "post_id": vid,
        "created_at": parse_time(s.get("publishedAt"), "publishedAt"),
        "author_id": author_id,
        "author_handle": handle,
        "author_name": name,
        "text": text,
        "lang_declared": s.get("defaultLanguage"),
        "kind": "post",
        "conversation_id": vid,
        "urls": [(u, None) for u in urls_in(desc)],
        "hashtags": list(dict.fromkeys(hashtags_in(text))),
        "mentions": [(None, h) for h in mentions_in(text)],
        "media_types": ["video"],
        "likes": to_int(stats.get("likeCount")),
        "replies": to_int(stats.get("commentCount")),
        "views": to_int(stats.get("viewCount")),
        "raw": v,
        "locator": loc,
    }


def _author(channel_id: Any, display: Any) -> tuple[str | None, str | None, str | None]:
    """(id, handle, display name). A display name that starts with '@' is the handle; with
    neither id nor handle the display name stands in as handle, so the author still gets a key
    and is scrubbed from the stored record."""
    cid = str_id(channel_id)
    name = display if isinstance(display, str) and display.strip() else None
    handle = name[1:] if name and name.startswith("@") else None
    if cid is None and handle is None:
        handle = name
    return cid, handle, name


_CHANNEL_LINK = re.compile(r'<a [^>]*href="https?://(?:www\.)?youtube\.com/channel/([\w-]+)"[^>]*>@?([^<]+)</a>')


def _mentions(text: str | None, display: Any) -> list[tuple[str | None, str | None]]:
    """@mentions: linked ones (channel id + handle) from the HTML text, the rest from the text."""
    out: list[tuple[str | None, str | None]] = []
    seen: set[str] = set()
    if isinstance(display, str) and "/channel/" in display:
        for cid, handle in _CHANNEL_LINK.findall(display):
            out.append((cid, handle.strip()))
            seen.add(handle.strip().lower())
    for h in mentions_in(text):
        if h.lower() not in seen:
            seen.add(h.lower())
            out.append((None, h))
    return out


_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def html_text(s: str) -> str:
    """YouTube's HTML comment text as plain text: ``<br />`` -> newline, tags dropped (a link
    keeps its visible text), entities unescaped, zero-width no-break spaces removed."""
    if "<" in s:
        s = _TAG.sub("", _BR.sub("\n", s))
    if "&" in s:
        s = html.unescape(s)
    return s.replace("\ufeff", "")


# ---------------------------------------------------------------------------------------------
# YouTube Spam Collection CSV


_SPAM_HEADER = ["COMMENT_ID", "AUTHOR", "DATE", "CONTENT"]
_PROFLINK = re.compile(r'<a [^>]*class="proflink"[^>]*oid="(\d+)"[^>]*>([^<]+)</a>')


class YouTubeSpamCsv(Source):
    """Comments scraped from five music videos (Alberto, Lochter & Almeida 2015), one CSV per
    video: ``COMMENT_ID, AUTHOR, DATE, CONTENT, CLASS`` (1 spam, 0 ham).

    Each row is a ``comment``. The video is named only in the file name, so ``conversation_id``
    stays None. ``AUTHOR`` is a display name and the only account reference: it is used as the
    handle so the author gets a key and is scrubbed from the stored record. ``CONTENT`` is
    YouTube's HTML text (``<br />``, links, entities): stored as plain text. Rows without
    ``DATE`` (245 in the Eminem file) are quarantined as missing their creation time. The label
    stays in the raw record."""

    name = "youtube-spam-csv"
    platform = "youtube"
    description = "YouTube Spam Collection CSV (COMMENT_ID, AUTHOR, DATE, CONTENT, CLASS)"

    def sniff(self, head: bytes, name: str) -> float:
        fields = [f.upper() for f in first_line_fields(head)]
        return 0.95 if fields[:4] == _SPAM_HEADER and len(fields) <= 5 else 0.0

    def records(self, stream: IO[bytes]) -> Iterator[Record]:
        return csv_records(stream)

    def map(self, obj: Any) -> Iterator[Draft]:
        if not isinstance(obj, dict):
            raise MappingError("expected a CSV row (object)")
        row = {k.upper(): v for k, v in obj.items()}
        cid = (row.get("COMMENT_ID") or "").strip()
        if not cid:
            raise MappingError("missing COMMENT_ID")
        content = row.get("CONTENT") or ""
        text = html_text(content)
        date = (row.get("DATE") or "").strip()
        author = (row.get("AUTHOR") or "").strip() or None
        yield {
            "post_id": cid,
            "created_at": parse_time(date, "DATE") if date else None,  # None: quarantined by the pipeline
            "author_handle": author,
            "author_name": author,
            "text": text,
            "kind": "comment",
            "urls": [(u, None) for u in urls_in(text)],
            "hashtags": hashtags_in(text),
            "mentions": [(oid, name.strip()) for oid, name in _PROFLINK.findall(content)]
            + [(None, h) for h in mentions_in(text)],
            "raw": obj,
        }


SOURCES = [YouTubeApi(), YouTubeSpamCsv()]
