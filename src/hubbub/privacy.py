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
from functools import lru_cache

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
    """Replace each identity string (whole words, case-insensitive) by its key."""
    if not text or not replacements:
        return text
    pattern = _pattern(tuple(sorted(replacements, key=len, reverse=True)))
    if pattern is None:
        return text
    lowered = {k.lower(): v for k, v in replacements.items()}
    return pattern.sub(lambda m: lowered.get(m.group(0).lower(), m.group(0)), text)


def scrub_bytes(data: bytes, replacements: dict[str, str]) -> bytes:
    """Same as scrub_text on UTF-8 JSON bytes. Identity strings are matched as words and as JSON
    values, so numeric ids are replaced only where they stand alone."""
    if not replacements:
        return data
    text = data.decode("utf-8", "surrogatepass")
    return scrub_text(text, replacements).encode("utf-8", "surrogatepass")


@lru_cache(maxsize=65536)
def _pattern(idents: tuple[str, ...]) -> re.Pattern[str] | None:
    alts = [re.escape(s) for s in idents if s and len(s) >= 2]
    if not alts:
        return None
    # Not preceded/followed by a word character: "@name", "/name/", "\"name\"" all match.
    return re.compile(r"(?<![\w])(?:" + "|".join(alts) + r")(?![\w])", re.IGNORECASE)


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
