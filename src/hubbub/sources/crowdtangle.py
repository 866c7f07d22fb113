"""Facebook (and Instagram) posts via CrowdTangle (shut down in August 2024).

``crowdtangle-api``: post objects of the CrowdTangle API (``/posts``, ``/posts/search``,
``/links``: ``{status, result: {posts: [...], pagination}}``), JSON lists or lines of post
objects, and the same posts flattened with dotted keys (``statistics.actual.likeCount``, JSON) or
underscore keys (``statistics_actual_likeCount``, CSV), as PyCooRnet writes them.

``crowdtangle-csv``: the CooRnet/PyCooRnet link-share table ``ct_shares.csv`` (``id, is_orig,
expanded, date, account.*``): one row per (post, shared URL); consecutive rows of one post are
read as one record, so a post is one post with all its URLs.

Mapping decisions:
- ``post_id`` is ``platformId`` (Facebook's ``<page id>_<post id>``). The link-share table has
  only CrowdTangle's own numeric post id: it is stored as ``ct:<id>`` so it cannot be mistaken
  for a platform id (the same post imported from both shapes is therefore two rows);
- ``date`` and ``updated`` are ``YYYY-MM-DD HH:MM:SS`` in UTC (the API's default; a request made
  with ``timezone=...`` would shift them and the response does not say so). ``updated`` (when
  CrowdTangle last refreshed the counts) is ``engagement_at``. A flattened export without
  ``date`` (PyCooRnet's ``sample_ct_out.csv``) cannot be imported: its rows are quarantined;
- ``text`` is ``message``, the poster's own words; ``title``/``description`` belong to the linked
  page or video and stay in the raw record;
- likes = the sum of all reactions (like, love, wow, haha, sad, angry, thankful, care), which is
  what Facebook counts as reactions; reposts = shares; replies = comments;
- urls are ``expandedLinks`` (original, expanded), else ``link`` (+ ``expanded``), plus links in
  the message not already listed; media types come from ``media`` except for link and status
  posts, whose media is the link preview;
- author = ``account.platformId`` (else ``account.id``), ``account.handle``, ``account.name``.
  CrowdTangle's own numeric account id (``account.id``) is passed as an alias of the author (same
  key), so the raw record loses it too (the scrubber replaces it where it is a whole value or a
  long number in a string, never a count that merely equals it in another field);
- platform = ``account.platform`` / ``platform`` lower-cased (``facebook``, ``instagram``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

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
    json_records,
    mentions_in,
    opt_time,
    parse_time,
    str_id,
    to_int,
    urls_in,
)

_REACTIONS = ("like", "love", "wow", "haha", "sad", "angry", "thankful", "care")
_NO_MEDIA_TYPES = {"link", "status"}
_JSON_HINTS = ('"postUrl"', '"subscriberCount"', '"statistics', '"account', '"expandedLinks"')
_MEDIA_TYPE = re.compile(r"""['"]type['"]\s*:\s*['"](\w+)['"]""")


def _keys(*path: str) -> tuple[tuple[str, ...], str, str]:
    return path, ".".join(path), "_".join(path)


_K_REACTIONS = [_keys("statistics", "actual", f"{r}Count") for r in _REACTIONS]
_K_SHARES = _keys("statistics", "actual", "shareCount")
_K_COMMENTS = _keys("statistics", "actual", "commentCount")
_K_ACC_PID = _keys("account", "platformId")
_K_ACC_ID = _keys("account", "id")
_K_ACC_HANDLE = _keys("account", "handle")
_K_ACC_NAME = _keys("account", "name")
_K_ACC_PLATFORM = _keys("account", "platform")


def _get(post: dict[str, Any], keys: tuple[tuple[str, ...], str, str]) -> Any:
    """A value by path in a nested post, or under its dotted or underscore flattened key."""
    path, dotted, under = keys
    cur: Any = post
    for k in path:
        cur = cur.get(k) if isinstance(cur, dict) else None
        if cur is None:
            break
    if cur is None:
        cur = post.get(dotted)
        if cur is None:
            cur = post.get(under)
    return _na(cur)


def _na(v: Any) -> Any:
    """CSV missing values (empty, R's NA) as None."""
    if isinstance(v, str) and (v == "" or v == "NA"):
        return None
    return v


def _text(v: Any) -> str | None:
    v = _na(v)
    return v if isinstance(v, str) and v.strip() else None


def _account(post: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(author id, handle, display name)."""
    pid = str_id(_get(post, _K_ACC_PID)) or str_id(_get(post, _K_ACC_ID))
    return pid, _text(_get(post, _K_ACC_HANDLE)), _text(_get(post, _K_ACC_NAME))


def _aliases(post: dict[str, Any], author_id: str | None) -> list[tuple[str | None, str | None, None]]:
    """CrowdTangle's own account id, under the author's key (see the module doc)."""
    ct = str_id(_get(post, _K_ACC_ID))
    return [(author_id, ct, None)] if author_id and ct and ct != author_id else []


def _platform(post: dict[str, Any]) -> str:
    p = _text(_get(post, _K_ACC_PLATFORM)) or _text(post.get("platform")) or "facebook"
    return p.strip().lower()


class CrowdTangleApi(Source):
    name = "crowdtangle-api"
    platform = "facebook"
    description = "CrowdTangle API posts (JSON responses, or flattened with dotted/underscore keys, JSON or CSV)"

    def sniff(self, head: bytes, name: str) -> float:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if start in (b"{", b"["):
            s = head_json_keys(head)
            if '"platformId"' in s and sum(k in s for k in _JSON_HINTS) >= 2:
                return 0.9
            return 0.0
        fields = set(first_line_fields(head))
        if "platformId" in fields and fields & {"statistics_actual_likeCount", "statistics.actual.likeCount"}:
            return 0.9
        return 0.0

    def records(self, stream: IO[bytes]) -> Iterator[Record]:
        first = stream.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] if hasattr(stream, "peek") else b"{"
        if first in (b"{", b"[") or not first:
            return json_records(stream)
        return csv_records(stream)

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict):
            raise MappingError("expected a JSON object (CrowdTangle response or post)")
        result = obj.get("result")
        if isinstance(result, dict) or ("status" in obj and "platformId" not in obj):
            posts = (result or {}).get("posts")
            if posts is None:
                return  # an error response, or another endpoint's result (lists, leaderboard): no posts
        elif "posts" in obj:
            posts = obj["posts"]
        else:
            yield _api_post(obj, "")
            return
        if not isinstance(posts, list):
            raise MappingError("'posts' is not a list")
        for i, p in enumerate(posts):
            loc = f"posts[{i}]"
            if not isinstance(p, dict):
                yield Bad("not a post object", p, loc)
                continue
            try:
                yield _api_post(p, loc)
            except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
                yield Bad(item_reason(exc), p, loc)


def _api_post(p: dict[str, Any], loc: str) -> Draft:
    post_id = str_id(_na(p.get("platformId")))
    if post_id is None:
        ct = str_id(_na(p.get("id"))) or str_id(_na(p.get("legacyId") or p.get("legacyid")))
        if ct is None:
            raise MappingError("missing 'platformId'")
        post_id = f"ct:{ct}"
    date = _na(p.get("date"))
    if date is None:
        raise MappingError("missing 'date' (the post's creation time; this export has none)")
    author_id, handle, name = _account(p)
    message = _text(p.get("message"))
    reactions = [to_int(_get(p, k)) for k in _K_REACTIONS]
    present = [r for r in reactions if r is not None]
    ptype = _text(p.get("type"))
    return {
        "platform": _platform(p),
        "post_id": post_id,
        "created_at": parse_time(date, "date"),
        "author_id": author_id,
        "author_handle": handle,
        "author_name": name,
        "text": message,
        "lang_declared": _text(p.get("languageCode")),
        "kind": "post",
        "urls": _urls(p, message),
        "hashtags": hashtags_in(message),
        "mentions": [(None, h) for h in mentions_in(message)],
        "media_types": [] if ptype in _NO_MEDIA_TYPES else _media_types(p.get("media")),
        "likes": sum(present) if present else None,
        "reposts": to_int(_get(p, _K_SHARES)),
        "replies": to_int(_get(p, _K_COMMENTS)),
        "engagement_at": opt_time(_na(p.get("updated"))),
        "accounts": _aliases(p, author_id),
        "raw": p,
        "locator": loc,
    }


def _urls(p: dict[str, Any], message: str | None) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for e in p.get("expandedLinks") or ():
        if isinstance(e, dict) and (orig := _text(e.get("original") or e.get("expanded"))):
            out.append((orig, _text(e.get("expanded"))))
            seen.update(x for x in (orig, e.get("expanded")) if x)
    link, expanded = _text(p.get("link")), _text(p.get("expanded"))
    first = link or expanded
    if not out and first:
        out.append((first, expanded))
        seen.update(x for x in (link, expanded) if x)
    for u in urls_in(message):
        if u not in seen:
            seen.add(u)
            out.append((u, None))
    return out


def _media_types(media: Any) -> list[str]:
    if isinstance(media, str):  # flattened CSV: a Python-literal list of dicts
        types = _MEDIA_TYPE.findall(media)
    elif isinstance(media, list):
        types = [m.get("type") for m in media if isinstance(m, dict) and isinstance(m.get("type"), str)]
    else:
        return []
    return list(dict.fromkeys(types))


# ---------------------------------------------------------------------------------------------
# CooRnet / PyCooRnet link-share table


_SHARES_NEEDS = {"id", "expanded", "date", "account.platformId"}


class CrowdTangleCsv(Source):
    name = "crowdtangle-csv"
    platform = "facebook"
    description = "CooRnet/PyCooRnet CrowdTangle link shares CSV (id, is_orig, expanded, date, account.*)"

    def sniff(self, head: bytes, name: str) -> float:
        fields = set(first_line_fields(head))
        if _SHARES_NEEDS <= fields and "platformId" not in fields and "message" not in fields:
            return 0.9
        return 0.0

    def records(self, stream: IO[bytes]) -> Iterator[Record]:
        return _grouped(csv_records(stream))

    def map(self, obj: Any) -> Iterator[Draft]:
        rows = obj if isinstance(obj, list) else [obj]
        if not rows or not all(isinstance(r, dict) for r in rows):
            raise MappingError("expected a CSV row (object) or a list of rows of one post")
        first = rows[0]
        ct = str_id(_na(first.get("id")))
        if ct is None:
            raise MappingError("missing 'id'")
        author_id, handle, name = _account(first)
        urls = list(dict.fromkeys(u for u in (_text(r.get("expanded")) for r in rows) if u))
        yield {
            "platform": _platform(first),
            "post_id": f"ct:{ct}",
            "created_at": parse_time(_na(first.get("date")), "date"),
            "author_id": author_id,
            "author_handle": handle,
            "author_name": name,
            "text": None,
            "kind": "post",
            "urls": [(u, None) for u in urls],
            "accounts": _aliases(first, author_id),
            "raw": obj,
        }


def _grouped(records: Iterator[Record]) -> Iterator[Record]:
    """Consecutive rows with the same ``id`` as one record (``obj`` a list of rows, located at the
    first row); a single row stays a row."""
    group: list[Record] = []
    for rec in records:
        if group and (rec.obj is None or not _same_post(group[0].obj, rec.obj)):
            yield _merge(group)
            group = []
        if rec.obj is None:
            yield rec
        else:
            group.append(rec)
    if group:
        yield _merge(group)


def _same_post(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(_na(a.get("id"))) and a.get("id") == b.get("id")


def _merge(group: list[Record]) -> Record:
    if len(group) == 1:
        return group[0]
    objs = [r.obj for r in group]
    return Record(group[0].locator, orjson.dumps(objs), objs)


SOURCES = [CrowdTangleApi(), CrowdTangleCsv()]
