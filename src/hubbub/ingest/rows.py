"""Turn source drafts into stored post rows: pseudonymise, scrub, canonicalise, compress."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from hubbub.langcodes import declared_lang
from hubbub.privacy import (
    MENTION_RE,
    REDDIT_USER_RE,
    SEP,
    Pseudonymiser,
    handles_in_links,
    ids_in_links,
    lowered_idents,
    pseudonymise_post_id,
    put_strings,
    record_strings,
    scrub_lowered,
    scrub_mentions,
)
from hubbub.schema import KINDS, POST_COLUMNS, POST_SCHEMA
from hubbub.sources.base import Draft, MappingError, shape
from hubbub.urls import canonical_url


def content_key(platform: str, author_ref: str | None, created_at: datetime, text: str | None) -> str:
    """Key for posts whose source gives no id (documented in docs/schema.md)."""
    msg = "\x1f".join([platform, author_ref or "", created_at.isoformat(), text or ""])
    return "h:" + hashlib.sha256(msg.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class RowBuilder:
    """Collects rows column by column; ``take()`` returns them as an Arrow table."""

    def __init__(
        self,
        pseudo: Pseudonymiser,
        dataset: str,
        source_file: str,
        import_id: str,
        keep_handles: bool,
        default_platform: str,
    ) -> None:
        self.pseudo = pseudo
        self.dataset = dataset
        self.source_file = source_file
        self.import_id = import_id
        self.keep_handles = keep_handles
        self.default_platform = default_platform
        self.cols: dict[str, list[Any]] = {c: [] for c in POST_COLUMNS}

    def __len__(self) -> int:
        return len(self.cols["post_id"])

    def add(self, d: Draft, locator: str) -> None:
        """Append one draft as a row; a draft that cannot be a row raises ``MappingError`` (naming
        the field) before anything is appended, so the columns always stay aligned."""
        check_draft(d)
        platform = d.get("platform") or self.default_platform
        created = d.get("created_at")
        kind = d.get("kind") or "post"
        if kind not in KINDS:
            raise MappingError(f"unknown kind ({shape(kind)})")
        key = self.pseudo.key
        author_id = d.get("author_id")
        handle = d.get("author_handle")
        author_key = key(platform, author_id, handle)
        post_id = d.get("post_id")
        text = d.get("text")
        if post_id is None or post_id == "":
            assert isinstance(created, datetime), "check_draft lets no draft without a time through"
            post_id = content_key(platform, author_key, created, text)

        # Every account reference in this record, as identity string -> key.
        repl: dict[str, str] = {}
        refs: dict[str, str] = {}  # account ids only
        mention_keys: dict[str, str] = {}
        if author_key:
            _ident(repl, author_key, author_id, handle, d.get("author_name"), refs)
            if handle:
                mention_keys[handle.lstrip("@").lower()] = author_key
        for acc_id, acc_handle, acc_name in d.get("accounts") or ():
            k = key(platform, acc_id, acc_handle)
            if k:
                _ident(repl, k, acc_id, acc_handle, acc_name, refs)
                if acc_handle:
                    mention_keys.setdefault(acc_handle.lstrip("@").lower(), k)
        mentions: list[str] = []
        for m_id, m_handle in d.get("mentions") or ():
            k = key(platform, m_id, m_handle)
            if k:
                mentions.append(k)
                _ident(repl, k, m_id, m_handle, None, refs)
                if m_handle:
                    mention_keys.setdefault(m_handle.lstrip("@").lower(), k)

        def key_for(h: str) -> str | None:
            hl = h.lower()
            k = mention_keys.get(hl)
            if k is None:
                k = key(platform, None, h)
                mention_keys[hl] = k  # type: ignore[assignment]
            return k

        pairs = [(u, expanded) for u, expanded in d.get("urls") or () if expanded or u]
        raw_obj = d.get("raw")
        ids = [str(post_id), _s(d.get("parent_id")), _s(d.get("conversation_id")), _s(d.get("reposted_id")),
               _s(d.get("quoted_id"))]
        if self.keep_handles:
            raw = _raw_json(raw_obj) if raw_obj is not None else "null"
            urls, canon, domains = _links(pairs, [], None)
        else:
            stored_ids = self._pseudonymise_ids(platform, ids)
            text = scrub_mentions(text, key_for)
            if platform == "reddit" and text and "u/" in text:
                text = REDDIT_USER_RE.sub(lambda m: m.group(1) + (key_for(m.group(2)) or m.group(2)), text)
            # Links keep their domain and path, except an account named in a profile/status path.
            in_links: list[tuple[str, str | None, str | None]] = [
                (plat, h, None) for u, expanded in pairs for plat, h in handles_in_links(expanded or u)]
            in_links += [(plat, None, i) for u, expanded in pairs for plat, i in ids_in_links(expanded or u)]
            url_idents = lowered_idents({h or i: key(plat, i, h) for plat, h, i in in_links})  # type: ignore[misc]
            raw = self._scrub_raw(platform, raw_obj, repl, in_links, key_for, dict(zip(ids, stored_ids, strict=True)))
            # links lose the accounts they name: in a profile/status path, as an id of this
            # record's accounts anywhere in them, as an @mention glued to them
            idents = url_idents + lowered_idents(refs) if pairs else []
            urls, canon, domains = _links(pairs, idents, lambda u: scrub_mentions(u, key_for) or u)
            ids = stored_ids

        c = self.cols
        c["platform"].append(platform)
        c["post_id"].append(ids[0])
        c["created_at"].append(created)
        c["author_key"].append(author_key)
        c["author_handle"].append(handle.lstrip("@") if (self.keep_handles and handle) else None)
        c["text"].append(text)
        c["lang_declared"].append(declared_lang(d.get("lang_declared")))
        c["kind"].append(kind)
        c["parent_id"].append(ids[1])
        c["conversation_id"].append(ids[2])
        c["reposted_id"].append(ids[3])
        c["quoted_id"].append(ids[4])
        c["urls"].append(urls)
        c["urls_canonical"].append(canon)
        c["domains"].append(domains)
        c["hashtags"].append([h.lstrip("#＃") for h in d.get("hashtags") or () if h])
        c["mentions"].append(mentions)
        c["media_types"].append(list(d.get("media_types") or ()))
        for f in ("likes", "reposts", "replies", "quotes", "views"):
            c[f].append(d.get(f))
        c["engagement_at"].append(d.get("engagement_at"))
        c["dataset"].append(self.dataset)
        c["source_file"].append(self.source_file)
        sub = d.get("locator")
        c["source_locator"].append(f"{locator} {sub}" if sub else locator)
        c["import_run"].append(self.import_id)
        c["raw"].append(raw)

    def _scrub_raw(self, platform: str, obj: Any, repl: dict[str, str], in_links: list[tuple[str, Any, Any]],
                   key_for: Callable[[str], str | None], ids: dict[str | None, str | None]) -> str:
        """The raw record as stored: walked (``privacy.record_strings``), profile fields dropped,
        every identity replaced by its key (as a whole value, as a word in a string, as an
        @mention, as an account named in a link), post ids as stored; then serialised."""
        if obj is None:
            return "null"
        key = self.pseudo.key
        keys: dict[Any, Any] = {}  # dict keys that are identities (e.g. users keyed by id)
        for ident, k in repl.items():
            keys[ident] = k
        for raw_id, stored in ids.items():
            if raw_id and stored and raw_id != stored:
                repl[raw_id] = keys[raw_id] = stored  # a post id that embeds an account, as stored
        numbers = {int(i): k for i, k in repl.items() if i.isdigit() and len(i) <= 30}
        trimmed, strings, slots = record_strings(obj, keys, numbers, lambda i: key(platform, i, None),
                                                 lambda h: key(platform, None, h))
        blob = SEP.join(strings)
        for plat, h, i in in_links:
            repl.setdefault(h or i, key(plat, i, h))  # type: ignore[arg-type]
        for plat, h in handles_in_links(blob):
            repl.setdefault(h, key(plat, None, h))  # type: ignore[arg-type]
        for plat, i in ids_in_links(blob):
            repl.setdefault(i, key(plat, i, None))  # type: ignore[arg-type]
        if "@" in blob:  # @handles inside the record (a referenced post's text, a bio quoted...)
            for h in MENTION_RE.findall(blob):
                if h not in repl:
                    repl[h] = key_for(h)  # type: ignore[assignment]
        # identities first (a display name may hold an @mention), then every remaining @mention
        new = scrub_lowered(blob, lowered_idents(repl), fields=True)
        if "@" in new:
            new = scrub_mentions(new, key_for) or new
        if new != blob:
            parts = new.split(SEP)
            if len(parts) != len(strings):  # a string held SEP itself: scrub string by string
                idents = lowered_idents(repl)
                parts = [scrub_mentions(scrub_lowered(x, idents, fields=True), key_for) or x for x in strings]
            trimmed = put_strings(trimmed, obj, strings, slots, parts)
        elif isinstance(obj, str):
            trimmed = obj
        return _raw_json(trimmed)

    def _pseudonymise_ids(self, platform: str, ids: list[str | None]) -> list[str | None]:
        """Post ids that embed an account carry its key (privacy.pseudonymise_post_id)."""
        key = self.pseudo.key

        def ref_key(ref: str) -> str | None:
            return key(platform, ref, None)

        def did_key(did: str) -> str | None:
            return key("bluesky", did, None)

        return [pseudonymise_post_id(platform, i, ref_key, did_key) if i else i for i in ids]

    def take(self) -> pa.Table:
        table = pa.table(self.cols, schema=POST_SCHEMA)
        self.cols = {c: [] for c in POST_COLUMNS}
        return table


# -- what a draft's fields may hold ------------------------------------------------------------
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# Times a post can have: none is older than Unix time 0 (the oldest archived Usenet posts are from
# 1981), and a time from 2100 on is a placeholder or damage.
TIME_MIN, TIME_MAX = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
_TEXT_FIELDS = ("platform", "author_handle", "author_name", "text", "lang_declared", "kind")
_ID_FIELDS = ("post_id", "author_id", "parent_id", "conversation_id", "reposted_id", "quoted_id")
_COUNT_FIELDS = ("likes", "reposts", "replies", "quotes", "views")
_TIME_FIELDS = ("created_at", "engagement_at")


def _raw_json(obj: Any) -> str:
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError as exc:  # nested too deep, or an integer beyond 64 bits
        raise MappingError(f"raw record cannot be stored as JSON ({exc})") from None


def check_draft(d: Draft) -> None:
    """The one rule for what a source's draft may hold (docs/schema.md, *Bad records*): text fields
    are text, ids text or integers, counts integers within int64, times aware datetimes, list
    fields lists of text (or of text pairs/triples). Anything else raises ``MappingError`` naming
    the field and the problem (never the value), so the record is quarantined, not the batch lost."""
    if d.get("created_at") is None:
        raise MappingError("missing creation time")
    for f in _TEXT_FIELDS:
        _want_text(f, d.get(f))
    for f in _ID_FIELDS:
        v = d.get(f)
        if v is not None and (isinstance(v, bool) or not isinstance(v, str | int)):
            raise MappingError(f"{f}: expected an id (text or integer), got {_kind(v)}")
    for f in _COUNT_FIELDS:
        v = d.get(f)
        if v is None:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise MappingError(f"{f}: count out of range (not a finite number)")
        if isinstance(v, bool) or not isinstance(v, int):
            raise MappingError(f"{f}: expected a count (integer), got {_kind(v)}")
        if not INT64_MIN <= v <= INT64_MAX:
            raise MappingError(f"{f}: count out of range (not a 64-bit integer)")
    for f in _TIME_FIELDS:
        v = d.get(f)
        if v is None:
            continue
        if not isinstance(v, datetime) or v.tzinfo is None:
            raise MappingError(f"{f}: expected a time with a zone, got {_kind(v)}")
        if not TIME_MIN <= v < TIME_MAX:
            raise MappingError(f"{f}: time out of range (before {TIME_MIN.year} or from {TIME_MAX.year})")
    for f in ("hashtags", "media_types"):
        for x in _want_list(f, d.get(f)):
            _want_text(f, x)
    for f, width in (("urls", 2), ("mentions", 2), ("accounts", 3)):
        for x in _want_list(f, d.get(f)):
            if not isinstance(x, tuple | list) or len(x) != width:
                raise MappingError(f"{f}: expected {width} values per item, got {_kind(x)}")
            if f == "urls":
                _want_text(f, x[0])
                _want_text(f, x[1])
                continue
            acc_id, handle = x[0], x[1]
            if acc_id is not None and (isinstance(acc_id, bool) or not isinstance(acc_id, str | int)):
                raise MappingError(f"{f}: account id: expected text or an integer, got {_kind(acc_id)}")
            _want_text(f"{f}: handle", handle)
            if width == 3:
                _want_text(f"{f}: name", x[2])


def _want_text(f: str, v: Any) -> None:
    if v is not None and not isinstance(v, str):
        raise MappingError(f"{f}: expected text, got {_kind(v)}")


def _want_list(f: str, v: Any) -> list[Any] | tuple[Any, ...]:
    if v is None:
        return ()
    if not isinstance(v, list | tuple):
        raise MappingError(f"{f}: expected a list, got {_kind(v)}")
    return v


def _kind(v: Any) -> str:
    """A value's JSON type in words (a reason names the type, never the value)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list | tuple):
        return "a list"
    return type(v).__name__


def _links(pairs: list[tuple[str, str | None]], url_idents: list[tuple[str, str, str]],
           scrub: Callable[[str], str] | None) -> tuple[list[str], list[str], list[str]]:
    """(links as given or expanded, canonical links, distinct domains), accounts named in paths
    and @mentions glued to links (``https://t.co/x…@name``) replaced by ``scrub``."""
    urls: list[str] = []
    canon: list[str] = []
    domains: list[str] = []
    for u, expanded in pairs:
        full = expanded or u
        c, dom = canonical_url(full)
        if url_idents:
            full = scrub_lowered(full, url_idents)
            c = scrub_lowered(c, url_idents)
        if scrub is not None and "@" in full:
            full, c = scrub(full), scrub(c)
        urls.append(full)
        canon.append(c)
        if dom and dom not in domains:
            domains.append(dom)
    return urls, canon, domains


def _ident(repl: dict[str, str], k: str, acc_id: Any, handle: str | None, name: str | None,
           refs: dict[str, str]) -> None:
    """Record an account's id, handle and display name (``repl``); ids also in ``refs``, what links
    are scrubbed of (a page's handle or name is often a word of its own site's links)."""
    for what, v in (("id", acc_id), ("handle", handle), ("name", name)):
        if v is None:
            continue
        v = str(v).strip().lstrip("@")
        if len(v) >= 2 and v not in repl:
            repl[v] = k
            if what == "id" and (not v.isdigit() or len(v) >= 6):
                refs[v] = k


def _s(v: Any) -> str | None:
    if v is None or v == "":
        return None
    return str(v)
