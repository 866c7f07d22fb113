"""Turn source drafts into stored post rows: pseudonymise, scrub, canonicalise, compress."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
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
from hubbub.sources.base import Draft, MappingError
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
        platform = d.get("platform") or self.default_platform
        created = d.get("created_at")
        if created is None:
            raise MappingError("missing creation time")
        kind = d.get("kind") or "post"
        if kind not in KINDS:
            raise MappingError(f"unknown kind {kind!r}")
        key = self.pseudo.key
        author_id = d.get("author_id")
        handle = d.get("author_handle")
        author_key = key(platform, author_id, handle)
        post_id = d.get("post_id")
        text = d.get("text")
        if post_id is None or post_id == "":
            post_id = content_key(platform, author_key, created, text)

        # Every account reference in this record, as identity string -> key.
        repl: dict[str, str] = {}
        mention_keys: dict[str, str] = {}
        if author_key:
            _ident(repl, author_key, author_id, handle, d.get("author_name"))
            if handle:
                mention_keys[handle.lstrip("@").lower()] = author_key
        for acc_id, acc_handle, acc_name in d.get("accounts") or ():
            k = key(platform, acc_id, acc_handle)
            if k:
                _ident(repl, k, acc_id, acc_handle, acc_name)
                if acc_handle:
                    mention_keys.setdefault(acc_handle.lstrip("@").lower(), k)
        mentions: list[str] = []
        for m_id, m_handle in d.get("mentions") or ():
            k = key(platform, m_id, m_handle)
            if k:
                mentions.append(k)
                _ident(repl, k, m_id, m_handle, None)
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
            raw = orjson.dumps(raw_obj, option=orjson.OPT_NON_STR_KEYS).decode() if raw_obj is not None else "null"
            urls, canon, domains = _links(pairs, [], None)
        else:
            stored_ids = self._pseudonymise_ids(platform, ids)
            text = scrub_mentions(text, key_for)
            if platform == "reddit" and text and "u/" in text:
                text = REDDIT_USER_RE.sub(lambda m: m.group(1) + (key_for(m.group(2)) or m.group(2)), text)
            # Links keep their domain and path, except an account named in a profile/status path.
            in_links = [(plat, h, None) for u, expanded in pairs for plat, h in handles_in_links(expanded or u)]
            in_links += [(plat, None, i) for u, expanded in pairs for plat, i in ids_in_links(expanded or u)]
            url_idents = lowered_idents({h or i: key(plat, i, h) for plat, h, i in in_links})  # type: ignore[misc]
            urls, canon, domains = _links(pairs, url_idents, lambda u: scrub_mentions(u, key_for) or u)
            raw = self._scrub_raw(platform, raw_obj, repl, in_links, key_for, dict(zip(ids, stored_ids, strict=True)))
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
        trimmed, strings, slots = record_strings(obj, keys, numbers)
        blob = SEP.join(strings)
        for plat, h, i in in_links:
            repl.setdefault(h or i, key(plat, i, h))  # type: ignore[arg-type]
        for plat, h in handles_in_links(blob):
            repl.setdefault(h, key(plat, None, h))  # type: ignore[arg-type]
        for plat, i in ids_in_links(blob):
            repl.setdefault(i, key(plat, i, None))  # type: ignore[arg-type]
        new = blob
        if "@" in blob:  # @handles inside the record (a referenced post's text, a bio quoted...)
            for h in MENTION_RE.findall(blob):
                if h not in repl:
                    repl[h] = key_for(h)  # type: ignore[assignment]
            new = scrub_mentions(blob, key_for) or blob
        new = scrub_lowered(new, lowered_idents(repl), fields=True)
        if new != blob:
            parts = new.split(SEP)
            if len(parts) != len(strings):  # a string held SEP itself: scrub string by string
                idents = lowered_idents(repl)
                parts = [scrub_lowered(scrub_mentions(x, key_for) or x, idents, fields=True) for x in strings]
            trimmed = put_strings(trimmed, obj, strings, slots, parts)
        elif isinstance(obj, str):
            trimmed = obj
        return orjson.dumps(trimmed, option=orjson.OPT_NON_STR_KEYS).decode()

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


def _ident(repl: dict[str, str], k: str, acc_id: Any, handle: str | None, name: str | None) -> None:
    for v in (acc_id, handle, name):
        if v is None:
            continue
        v = str(v).strip().lstrip("@")
        if len(v) >= 2 and v not in repl:
            repl[v] = k


def _s(v: Any) -> str | None:
    if v is None or v == "":
        return None
    return str(v)
