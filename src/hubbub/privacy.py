"""Pseudonymisation of account references (DEVELOPERS.md, boundaries).

Account keys are ``HMAC-SHA256(workspace secret, platform NUL account-ref)``, truncated to 96 bits
and written ``acct_<24 hex>``. ``account-ref`` is the platform's stable account id when the record
gives one, else ``@`` + the handle in lower case. The platform is part of the message, so the same
account name on two platforms gets unrelated keys.

Raw handles, display names and account ids are replaced by their key everywhere they appear in a
stored post: text, mentions and the raw record. Only a dataset imported with the explicit
``keep_handles`` opt-in keeps the author handle (column ``author_handle``) and the raw record as
found.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable

KEY_PREFIX = "acct_"


class Pseudonymiser:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("workspace secret too short")
        self._secret = secret
        self._cache: dict[tuple[str, str], str] = {}

    def key(self, platform: str, account_id: str | None, handle: str | None) -> str | None:
        """Key for an account: by stable id when given, else by handle. None when neither."""
        if account_id:
            ref = str(account_id)
        elif handle:
            ref = "@" + handle.lstrip("@").lower()
        else:
            return None
        ck = (platform, ref)
        k = self._cache.get(ck)
        if k is None:
            if len(self._cache) > 500_000:
                self._cache.clear()
            digest = hmac.new(self._secret, f"{platform}\x00{ref}".encode(), hashlib.sha256).hexdigest()
            k = KEY_PREFIX + digest[:24]
            self._cache[ck] = k
        return k


MENTION_RE = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{1,50}(?:@[A-Za-z0-9_.\-]*[A-Za-z0-9_])?)")


def scrub_mentions(text: str | None, key_for: Callable[[str], str | None]) -> str | None:
    """Replace every ``@handle`` (and ``@user@instance``) in a post text by ``@<account key>``."""
    if not text or "@" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        k = key_for(m.group(1))
        return "@" + k if k else m.group(0)

    return MENTION_RE.sub(sub, text)


def scrub_text(text: str, replacements: dict[str, str]) -> str:
    """Replace each identity string by its key where it stands as a whole word (not preceded or
    followed by a letter, digit or ``_``), case-insensitively.

    Runs in C-speed substring searches (``str.find``) rather than a regex compiled per record:
    the identity set differs for every record, and compiling a pattern per record costs ~0.5 ms."""
    if not text or not replacements:
        return text
    return scrub_lowered(text, lowered_idents(replacements))


def lowered_idents(replacements: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(k, k.lower(), v) for k, v in replacements.items() if len(k) >= 2]


def scrub_lowered(text: str, idents: list[tuple[str, str, str]]) -> str:
    """scrub_text with the identity strings prepared by ``lowered_idents``."""
    if not text or not idents:
        return text
    low = text.lower()
    if len(low) != len(text):  # a few Unicode letters change length when lower-cased
        return _scrub_regex(text, {orig: key for orig, _, key in idents})
    spans: list[tuple[int, int, str]] = []
    n = len(low)
    for _, il, key in idents:
        start = low.find(il)
        while start != -1:
            end = start + len(il)
            if (start == 0 or not _isword(low[start - 1])) and (end == n or not _isword(low[end])):
                spans.append((start, end, key))
            start = low.find(il, start + 1)
    if not spans:
        return text
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[str] = []
    pos = 0
    for start, end, key in spans:
        if start < pos:  # overlaps a longer identity already replaced
            continue
        out.append(text[pos:start])
        out.append(key)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _isword(c: str) -> bool:
    return c.isalnum() or c == "_"


def _scrub_regex(text: str, replacements: dict[str, str]) -> str:
    alts = [re.escape(s) for s in sorted(replacements, key=len, reverse=True) if len(s) >= 2]
    if not alts:
        return text
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(alts) + r")(?![\w])", re.IGNORECASE)
    lowered = {k.lower(): v for k, v in replacements.items()}
    return pattern.sub(lambda m: lowered.get(m.group(0).lower(), m.group(0)), text)


def scrub_bytes(data: bytes, replacements: dict[str, str]) -> bytes:
    """scrub_text on UTF-8 (JSON) bytes."""
    if not replacements:
        return data
    text = data.decode("utf-8", "surrogatepass")
    return scrub_text(text, replacements).encode("utf-8", "surrogatepass")


def identity_strings(values: Iterable[str | None]) -> list[str]:
    out = []
    for v in values:
        if v:
            v = str(v).strip()
            if v.startswith("@"):
                v = v[1:]
            if len(v) >= 2:
                out.append(v)
    return out


class Sealer:
    """Encrypts bytes that could not be pseudonymised (quarantined records) with a key derived
    from the workspace secret (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``)."""

    def __init__(self, secret: bytes) -> None:
        import base64

        from cryptography.fernet import Fernet

        key = hmac.new(secret, b"hubbub quarantine v1", hashlib.sha256).digest()
        self._f = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, data: bytes) -> bytes:
        return self._f.encrypt(data)

    def open(self, token: bytes) -> bytes:
        return self._f.decrypt(token)


# Links that name an account in their path: (platform, pattern). The handle is pseudonymised
# wherever it appears in the post, like any other account reference.
_PROFILE_URLS = [
    ("twitter", re.compile(r"(?:^|//|\.|\b)(?:twitter|x)\.com/(?!i/|search|hashtag/|intent/|home|share|explore)"
                           r"([A-Za-z0-9_]{2,15})(?=[/?\"\s]|$)", re.IGNORECASE)),
    ("reddit", re.compile(r"reddit\.com/(?:u|user)/([A-Za-z0-9_\-]{3,20})", re.IGNORECASE)),
    ("youtube", re.compile(r"youtube\.com/@([A-Za-z0-9_.\-]{3,30})", re.IGNORECASE)),
    ("telegram", re.compile(r"(?:^|//)t\.me/(?!s/|joinchat|\+)([A-Za-z0-9_]{5,32})", re.IGNORECASE)),
    ("bluesky", re.compile(r"bsky\.app/profile/([A-Za-z0-9_.:\-]{3,253})", re.IGNORECASE)),
    ("mastodon", re.compile(r"https?://[^/\s\"]+/@([A-Za-z0-9_]{1,30})(?=[/?\"\s]|$)", re.IGNORECASE)),
]


_PREFILTER = ("twitter.com/", "x.com/", "reddit.com/u", "youtube.com/@", "t.me/", "bsky.app/profile/", "/@")


def handles_in_links(text: str) -> list[tuple[str, str]]:
    """(platform, handle) of accounts named in links' paths anywhere in ``text``
    (e.g. ``x.com/<handle>/status/1``)."""
    low = text.lower()
    if not any(p in low for p in _PREFILTER):
        return []
    out = []
    for platform, pat in _PROFILE_URLS:
        out.extend((platform, m.group(1)) for m in pat.finditer(text))
    return out
