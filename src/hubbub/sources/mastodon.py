"""Mastodon REST API ``Status`` entities, as saved from the API or a client library.

Accepted shapes (one per record: a JSON document, a JSONL line or an HTTP recording body):
a single Status, an array of Statuses (a timeline page; the importer splits a bare JSON array
into one record per status, a recorded response body stays one record), a Context
(``{ancestors, descendants}``) and a Search v2 result (``{accounts, statuses, hashtags}``).
Anything else the API returns (accounts, instance, nodeinfo, trends, edit history, status
source, polls without their status...) holds no post and yields nothing.

Identifiers. Mastodon's ``id`` is local to the server that answered the request: the same
post has a different ``id`` on every server, and the entity does not say which server that
was. So every post id here is the status ``uri``: the ActivityPub id, the same on every server,
which makes a post fetched through two servers one post (note: a Mastodon ``uri`` holds the
author's username, ``https://server/users/<name>/statuses/<id>``). ``reposted_id`` and ``quoted_id``
are the ``uri`` of the boosted / quoted status. ``in_reply_to_id`` is only a local id, so
``parent_id`` is the parent's ``uri`` when it can be known from the same record:

1. the parent status is in the record (Context, recorded timeline page, boosted or quoted status);
2. else, the replied-to account is a local account of the answering server whose ``uri`` the
   record gives, and the record shows that this server builds status URIs the way Mastodon
   does (a local status whose ``uri`` is ``<account uri>/statuses/<id>``): then the parent is
   ``<account uri>/statuses/<in_reply_to_id>``;
3. else ``parent_id`` stays empty (the post is still a reply; the raw record keeps the id).

``conversation_id`` is the ``uri`` of the thread's first post when the record reaches it
(a post that replies to nothing is its own conversation), else empty.

Accounts: the numeric account ``id`` is local to the answering server too (``43`` on one server
is someone else on another), so an account's id here is its profile ``url`` (the same in Account
and Mention entities, on every server) and its handle is ``user@server`` (the API writes the
answering server's own accounts as bare ``user``). The local id, bare username and display name
are passed as aliases so the pipeline scrubs them from the raw record, as are accounts linked as
mentions in an author's bio and profile fields.

Boosts: a status with ``reblog`` is stored as a ``repost`` row (the booster, the boost time,
the boosted status's text, links, tags and mentions, ``reposted_id`` = the original's uri), and
the boosted status is imported as its own post too. Every complete status a record carries
(boosted or quoted statuses included) is imported once.

Text: ``content`` is HTML; it becomes plain text with paragraph and line breaks kept, mentions
written as ``@user@server`` (unambiguous, so the pipeline can pseudonymise them), links written
as their full address, and Mastodon's ``RE: <link>`` quote fallback left out. A content warning
(``spoiler_text``) is put before the text, followed by an empty line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from hubbub.sources.base import (
    Bad,
    Draft,
    MappingError,
    Source,
    head_json_keys,
    item_reason,
    parse_time,
    str_id,
    to_int,
)

Status = dict[str, Any]


class MastodonApi(Source):
    name = "mastodon-api"
    platform = "mastodon"
    description = "Mastodon REST API statuses: single, timelines, context, search v2 (JSON, JSONL, recordings)"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if '"in_reply_to_account_id"' in s or '"spoiler_text"' in s:
            return 0.9  # Status, StatusEdit, StatusSource: only Mastodon-API servers use these
        if '"reblogs_count"' in s and '"favourites_count"' in s:
            return 0.9
        if '"ancestors"' in s and '"descendants"' in s:
            return 0.8  # Context
        if '"statuses"' in s and '"hashtags"' in s and '"accounts"' in s:
            return 0.7  # Search v2, possibly with nothing found
        if _non_status_api(s):
            return 0.5  # other Mastodon API answers: read, hold no post
        return 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        found: list[tuple[str, Status]] = []
        for x in _statuses(obj):
            if isinstance(x, Bad):
                yield x
            else:
                found.append(x)
        if not found:
            return
        ctx = _Record(found, obj)
        done: set[str] = set()
        for loc, st in found:
            yield from _emit(st, loc, ctx, done)


_API_PATH = re.compile(r'"(?:uri|url)"\s*:\s*"https?://[^"/]+/api/v[12]/(?:instance|statuses|timelines|trends|search'
                       r'|accounts/|tags/|favourites|bookmarks|notifications|conversations|lists)')
_INSTANCE_KEYS = ('"max_toot_chars"', '"characters_reserved_per_url"', '"max_featured_tags"', '"approval_required"')


def _non_status_api(s: str) -> bool:
    """Other Mastodon API answers: accounts, instance, nodeinfo, trends, or an HTTP recording of
    a Mastodon API path."""
    account = '"acct"' in s and '"display_name"' in s and '"followers_count"' in s
    instance = any(k in s for k in _INSTANCE_KEYS)
    trends = '"history"' in s and '"uses"' in s and '"accounts"' in s
    nodeinfo = "nodeinfo.diaspora.software" in s or '"openRegistrations"' in s
    return account or instance or trends or nodeinfo or _API_PATH.search(s) is not None


# ---------------------------------------------------------------------------------------------
# Finding statuses in a record


def _is_status(x: Any) -> TypeGuard[Status]:
    return (isinstance(x, dict) and "content" in x and "created_at" in x and "account" in x
            and ("uri" in x or "url" in x) and "id" in x)


_STATUS_KEYS = ("id", "uri", "created_at", "account", "content")


def _looks_like_status(x: Any) -> bool:
    """A status with something missing: its text and account, and an ``id`` or ``uri`` (an
    edit-history entry has neither)."""
    return isinstance(x, dict) and "content" in x and "account" in x and ("id" in x or "uri" in x or "url" in x)


def _damaged(x: Any, loc: str) -> Bad:
    missing = [k for k in _STATUS_KEYS if k not in x and not (k == "uri" and "url" in x)] if isinstance(x, dict) else []
    why = f"status without {', '.join(missing)}" if missing else "not a status object"
    return Bad(why, x, loc)


def _statuses(obj: Any) -> Iterator[tuple[str, Status] | Bad]:
    """(locator, status) for each top-level status in the record, and a ``Bad`` for each status
    that lacks what a status has (so it is quarantined, not lost). Edit-history entries (no
    ``id``/``uri``) and other entities are not statuses."""
    if isinstance(obj, list):
        for i, x in enumerate(obj):
            if _is_status(x):
                yield f"[{i}]", x
            elif _looks_like_status(x):
                yield _damaged(x, f"[{i}]")
        return
    if not isinstance(obj, dict):
        return
    if _is_status(obj):
        yield "", obj
        return
    if _looks_like_status(obj):
        yield _damaged(obj, "")
        return
    for key in ("ancestors", "descendants", "statuses"):
        items = obj.get(key)
        if isinstance(items, list):
            for i, x in enumerate(items):
                if _is_status(x):
                    yield f"{key}[{i}]", x
                else:  # every item of these lists is a status
                    yield _damaged(x, f"{key}[{i}]")


def _nested(st: Status) -> Iterator[tuple[str, Status]]:
    """The complete statuses inside one status: the boosted one and the quoted one."""
    rb = st.get("reblog")
    if _is_status(rb):
        yield "reblog", rb
    qs = _quoted_status(st)
    if qs is not None:
        yield "quote", qs


def _quoted_status(st: Status) -> Status | None:
    q = st.get("quote")
    if isinstance(q, dict) and _is_status(q.get("quoted_status")):
        return q["quoted_status"]
    return None


def _walk(st: Status, depth: int = 0) -> Iterator[Status]:
    yield st
    if depth < 4:
        for _, sub in _nested(st):
            yield from _walk(sub, depth + 1)


def _uri(st: Status) -> str:
    uri = st.get("uri") or st.get("url")
    if not isinstance(uri, str) or not uri:
        raise MappingError("status without uri")
    return uri


def _is_local(acc: dict[str, Any]) -> bool:
    acct = acc.get("acct")
    return isinstance(acct, str) and bool(acct) and "@" not in acct


class _Record:
    """What one record tells about ids: local id -> uri, local accounts, the server's URI scheme,
    and the conversation root of a Context."""

    def __init__(self, found: list[tuple[str, Status]], obj: Any) -> None:
        self.uris: dict[str, str] = {}
        self.parents: dict[str, str | None] = {}
        self.local_accounts: dict[str, str] = {}  # local account id -> account uri
        self.mastodon_scheme = False
        for _, top in found:
            for st in _walk(top):
                self._learn(st)
        self.context_root = self._context_root(obj)
        self.in_context = {id(st) for _, st in found} if self.context_root else set()

    def _learn(self, st: Status) -> None:
        sid, uri = str_id(st.get("id")), st.get("uri")
        if sid and isinstance(uri, str):
            self.uris[sid] = uri
            self.parents[sid] = str_id(st.get("in_reply_to_id"))
        acc = st.get("account")
        if not isinstance(acc, dict) or not _is_local(acc) or not isinstance(acc.get("uri"), str):
            return
        aid = str_id(acc.get("id"))
        if aid:
            self.local_accounts[aid] = acc["uri"]
        if sid and isinstance(uri, str) and uri.startswith(f"{acc['uri']}/statuses/{sid}"):
            self.mastodon_scheme = True

    def parent(self, st: Status) -> str | None:
        pid = str_id(st.get("in_reply_to_id"))
        if pid is None:
            return None
        if pid in self.uris:
            return self.uris[pid]
        acc_uri = self.local_accounts.get(str_id(st.get("in_reply_to_account_id")) or "")
        if acc_uri and self.mastodon_scheme:
            return f"{acc_uri}/statuses/{pid}"
        return None

    def conversation(self, st: Status) -> str | None:
        """The uri of the thread's first post, when the record reaches it."""
        if id(st) in self.in_context and self.context_root is not None:
            return self.context_root
        uri, pid = _uri(st), str_id(st.get("in_reply_to_id"))
        seen: set[str] = set()
        while pid is not None:
            if pid not in self.uris or pid in seen:
                return None
            seen.add(pid)
            uri, pid = self.uris[pid], self.parents.get(pid)
        return uri

    def _context_root(self, obj: Any) -> str | None:
        if not isinstance(obj, dict) or "ancestors" not in obj or "descendants" not in obj:
            return None
        anc = [s for s in obj.get("ancestors") or () if _is_status(s)]
        if anc:
            first = anc[0]
            return first.get("uri") if first.get("in_reply_to_id") is None else None
        # No ancestors: the status asked about (not in the body) is the thread's first post;
        # the descendants whose parent is not in the body reply to it.
        for s in obj.get("descendants") or ():
            if _is_status(s) and str_id(s.get("in_reply_to_id")) not in self.uris:
                return self.parent(s)
        return None


# ---------------------------------------------------------------------------------------------
# Statuses to drafts


def _emit(st: Status, loc: str, ctx: _Record, done: set[str], depth: int = 0) -> Iterator[Draft | Bad]:
    """The status, then the complete statuses inside it (boosted, quoted), each once."""
    try:
        draft = _status(st, ctx, loc)
    except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
        yield Bad(item_reason(exc), st, loc)
    else:
        if draft["post_id"] not in done:
            done.add(draft["post_id"])
            yield draft
    if depth < 4:
        for key, sub in _nested(st):
            yield from _emit(sub, f"{loc}.{key}" if loc else key, ctx, done, depth + 1)


def _status(st: Status, ctx: _Record, loc: str) -> Draft:
    found = st.get("account")
    acc: dict[str, Any] = found if isinstance(found, dict) else {}
    rb = st.get("reblog") if _is_status(st.get("reblog")) else None
    shown = rb or st  # a boost shows the boosted status's content
    text, urls, tags, mentions = _content(shown)
    qs = _quoted_status(shown)
    draft: Draft = {
        "post_id": _uri(st),
        "created_at": parse_time(st.get("created_at"), "created_at"),
        "author_id": _ref(acc) if acc else None,
        "author_handle": _acct(acc),
        "author_name": acc.get("display_name") or None,
        "text": text,
        "lang_declared": shown.get("language") or None,
        "urls": [(u, None) for u in urls],
        "hashtags": tags,
        "mentions": mentions,
        "media_types": [m.get("type") for m in shown.get("media_attachments") or ()
                        if isinstance(m, dict) and m.get("type")],
        "likes": to_int(st.get("favourites_count")),
        "reposts": to_int(st.get("reblogs_count")),
        "replies": to_int(st.get("replies_count")),
        "quotes": to_int(st.get("quotes_count")),
        "views": None,
        "engagement_at": None,  # a Status does not say when it was fetched
        "accounts": _accounts(st),
        "raw": _without_profiles(st),
        "locator": loc,
    }
    if rb:
        draft.update(kind="repost", parent_id=None, conversation_id=draft["post_id"], reposted_id=_uri(rb),
                     quoted_id=None)
        return draft
    draft.update(parent_id=ctx.parent(st), conversation_id=ctx.conversation(st), reposted_id=None,
                 quoted_id=_quoted_id(st, qs, ctx))
    if st.get("in_reply_to_id") is not None:
        draft["kind"] = "reply"
    elif isinstance(st.get("quote"), dict):
        draft["kind"] = "quote"
    else:
        draft["kind"] = "post"
    return draft


# Account fields kept in the raw record: enough to re-map the post. Profile fields (bio, links,
# avatar, header, custom fields) are dropped: Hubbub keeps no per-person profiles.
_ACCOUNT_KEEP = ("id", "username", "acct", "display_name", "url", "uri", "bot", "group", "created_at",
                 "followers_count", "following_count", "statuses_count")


def _without_profiles(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: ({f: v[f] for f in _ACCOUNT_KEEP if f in v} if k == "account" and isinstance(v, dict)
                    else _without_profiles(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [_without_profiles(v) for v in x]
    return x


def _quoted_id(st: Status, qs: Status | None, ctx: _Record) -> str | None:
    if qs is not None:
        return qs.get("uri") or qs.get("url")
    q = st.get("quote")
    if isinstance(q, dict):
        return ctx.uris.get(str_id(q.get("quoted_status_id")) or "")
    return None


def _acct(acc: dict[str, Any]) -> str | None:
    """``user@server`` for every account. The API writes local accounts of the answering server
    as bare ``user``; their server is the host of their profile URL."""
    acct = acc.get("acct") or acc.get("username")
    if not isinstance(acct, str) or not acct:
        return None
    if "@" not in acct:
        host = urlsplit(str(acc.get("url") or acc.get("uri") or "")).hostname
        if host:
            acct = f"{acct}@{host}"
    return acct


def _ref(acc: dict[str, Any]) -> str | None:
    """The account's stable, global id: its profile URL (Account ``url`` = Mention ``url``, the
    same on every server; the numeric ``id`` is local to the answering server)."""
    ref = acc.get("url") or acc.get("uri")
    return ref if isinstance(ref, str) and ref else str_id(acc.get("id"))


Account = tuple[str | None, str | None, str | None]


def _accounts(st: Status) -> list[Account]:
    """Every account identity in the raw status (author aliases included), for scrubbing."""
    out: list[Account] = []
    local: dict[str, str | None] = {}  # local id -> ref
    reply_to: list[str] = []
    for s in _walk(st):
        accs = [s.get("account")] + list(s.get("mentions") or ())
        found = s.get("card")
        card: dict[str, Any] = found if isinstance(found, dict) else {}
        accs += [a.get("account") for a in card.get("authors") or () if isinstance(a, dict)]
        for acc in accs:
            if isinstance(acc, dict):
                _add_account(out, acc)
                local.setdefault(str_id(acc.get("id")) or "", _ref(acc))
        if isinstance(s.get("account"), dict):
            out.extend(_profile_mentions(s["account"]))
        if s.get("in_reply_to_account_id"):
            reply_to.append(str(s["in_reply_to_account_id"]))
    for lid in reply_to:
        if lid not in local:
            out.append((lid, None, None))
    return out


_ANCHOR = re.compile(r"<a\s[^>]*>", re.IGNORECASE)
_HREF = re.compile(r'href="([^"]+)"')
_CLASS = re.compile(r'class="([^"]*)"')
_PROFILE = re.compile(r"^https?://([^/]+)/@([A-Za-z0-9_.\-]+)/?$")


def _profile_mentions(acc: dict[str, Any]) -> list[Account]:
    """Accounts linked as mentions in a profile's bio and fields (HTML), keyed like any account
    by their profile URL, so the raw record loses their handles too."""
    parts = [acc.get("note")] + [f.get("value") for f in acc.get("fields") or () if isinstance(f, dict)]
    out: list[Account] = []
    for html in parts:
        if not isinstance(html, str) or "mention" not in html:
            continue
        for tag in _ANCHOR.findall(html):
            href, cls = _HREF.search(tag), _CLASS.search(tag)
            if not href or not cls or "mention" not in cls.group(1).split() or "hashtag" in cls.group(1):
                continue
            m = _PROFILE.match(href.group(1))
            out.append((href.group(1), f"{m.group(2)}@{m.group(1)}" if m else None, None))
            if m:
                out.append((href.group(1), m.group(2), None))
    return out


def _add_account(out: list[Account], acc: dict[str, Any]) -> None:
    ref, acct = _ref(acc), _acct(acc)
    out.append((ref, acct, acc.get("display_name") or None))
    # aliases under the same key, so the raw record loses them too: the API's ``acct``, the
    # bare username (in profile URLs) and the server-local numeric id
    for alias in dict.fromkeys((acc.get("acct"), acc.get("username"), str_id(acc.get("id")))):
        if alias and alias != acct and alias != ref:
            out.append((ref, alias, None))


# ---------------------------------------------------------------------------------------------
# HTML content to plain text


def _content(st: Status) -> tuple[str, list[str], list[str], list[tuple[str | None, str | None]]]:
    """Plain text, link URLs, hashtags (case as written) and mentions (id, acct) of a status."""
    mentions = [m for m in st.get("mentions") or () if isinstance(m, dict)]
    by_url = {m["url"]: a for m in mentions if m.get("url") and (a := _acct(m))}
    html = st.get("content") or ""
    p = _Html(by_url)
    if "<" in html or "&" in html:
        p.feed(html)
        p.close()
        text = "".join(p.out).strip()
    else:
        text = html.strip()
    spoiler = (st.get("spoiler_text") or "").strip()
    if spoiler:
        text = f"{spoiler}\n\n{text}" if text else spoiler
    tags = p.tags
    seen = {t.lower() for t in tags}
    for t in st.get("tags") or ():
        name = t.get("name") if isinstance(t, dict) else None
        if name and name.lower() not in seen:
            seen.add(name.lower())
            tags.append(name)
    return text, p.urls, tags, [(_ref(m), _acct(m)) for m in mentions]


class _Html(HTMLParser):
    """Mastodon status HTML to text. Collects links and hashtags on the way."""

    def __init__(self, mention_urls: dict[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.mention_urls = mention_urls
        self.out: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._a: tuple[str, str] | None = None  # (kind, href) of the open link
        self._a_text: list[str] = []
        self._skip = 0  # depth inside the quote fallback

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self._skip:
            if tag == "span":
                self._skip += 1
            return
        if tag == "span" and "quote-inline" in classes:
            self._skip = 1
        elif tag == "br":
            self._write("\n")
        elif tag == "p":
            self._paragraph()
        elif tag == "a" and self._a is None:
            href = a.get("href") or ""
            kind = "hashtag" if "hashtag" in classes else "mention" if href in self.mention_urls else "link"
            self._a, self._a_text = (kind, href), []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self._skip:
            self._write("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == "span":
                self._skip -= 1
            return
        if tag == "p":
            self._paragraph()
        elif tag == "a" and self._a is not None:
            self._close_link()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._a is not None:
            self._a_text.append(data)
        else:
            self.out.append(data)

    def _write(self, s: str) -> None:
        if self._a is not None:
            self._a_text.append(s)
        else:
            self.out.append(s)

    def _paragraph(self) -> None:
        if not self.out:
            return
        tail = "".join(self.out[-3:])
        have = len(tail) - len(tail.rstrip("\n"))
        if have < 2:
            self.out.append("\n" * (2 - have))

    def _close_link(self) -> None:
        assert self._a is not None
        kind, href = self._a
        shown = "".join(self._a_text)
        self._a, self._a_text = None, []
        if kind == "mention":
            self.out.append("@" + self.mention_urls[href])
            return
        if kind == "hashtag":
            tag = shown.strip().lstrip("#＃")
            if tag:
                self.tags.append(tag)
            self.out.append(shown)
            return
        if href.startswith(("http://", "https://")):
            self.urls.append(href)
            self.out.append(href if _shows_url(shown, href) else shown)
        else:
            self.out.append(shown)

    def close(self) -> None:
        super().close()
        if self._a is not None:
            self._close_link()


def _shows_url(shown: str, href: str) -> bool:
    """Whether a link's visible text is its address, perhaps shortened ("example.com/ab…")."""
    s = shown.strip().rstrip("…").rstrip(".")
    if not s:
        return False
    bare_href = href.split("://", 1)[-1]
    bare = s.split("://", 1)[-1]
    return bare_href.startswith(bare) or bare_href.startswith("www." + bare)


SOURCES = [MastodonApi()]
