"""Pseudonymisation of account references (DEVELOPERS.md, boundaries).

Account keys are ``HMAC-SHA256(workspace secret, platform NUL account-ref)``, truncated to 96 bits
and written ``acct_<24 hex>``. ``account-ref`` is the platform's stable account id when the record
gives one, else ``@`` + the handle in lower case. The platform is part of the message, so the same
account name on two platforms gets unrelated keys.

Raw handles, display names and account ids are replaced by their key everywhere they appear in a
stored post: text, mentions, links and the raw record. Text is scrubbed of @mentions
(``MENTION_PATTERN``, the one mention rule of the code base); the raw record is scrubbed by walking
the parsed record (``record_strings`` / ``put_strings``), never by matching its JSON text, and
loses the profile fields of the accounts in it. Only a dataset imported with the explicit
``keep_handles`` opt-in keeps the author handle (column ``author_handle``) and the raw record as
found. docs/schema.md (Pseudonymisation) states the rules.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

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

    def file_name(self, rel: str) -> str:
        """The stored name of an input file (``source_file``; see ``stored_file_name``)."""
        return stored_file_name(rel, self._file_key)

    def _file_key(self, stem: str) -> str:
        return "f_" + hmac.new(self._secret, b"file\x00" + stem.encode("utf-8", "surrogatepass"),
                               hashlib.sha256).hexdigest()[:16]


# A file-name part that names an account: a run of 6+ digits (Telethon writes <username>_<id>,
# twarc timelines are named by user id). Such a name's whole stem is pseudonymised.
_ID_IN_NAME = re.compile(r"\d{6,}")


def stored_file_name(rel: str, key: Callable[[str], str]) -> str:
    """``rel`` (a path relative to the import root, ``archive.zip!member`` for zip members) with
    every segment whose stem holds an account-like id (``bloomberg_1488156064.ndjson``)
    replaced by a keyed hash of the stem (``f_<16 hex>.ndjson``); other names are kept. Datasets
    with ``keep_handles`` keep the names as they are."""
    if not _ID_IN_NAME.search(rel):
        return rel
    out = []
    for part in re.split(r"([/!])", rel):
        if part in ("/", "!") or not _ID_IN_NAME.search(part):
            out.append(part)
            continue
        stem, dot, ext = part.partition(".")
        out.append(key(stem) + dot + ext if _ID_IN_NAME.search(stem) else part)
    return "".join(out)


# THE mention pattern: every module that finds, strips or keys @mentions uses it (text scrubbing,
# raw-record scrubbing, mention lists of sources without entities, tokens, keyphrases, entities,
# language id, near-duplicates). It finds a mention wherever the platform would link one
# (twitter-text's rule): after anything but an ASCII letter, digit or "_" (so after a space, a
# newline, punctuation, another "@" as in "@@name", or a non-ASCII letter as in "#Оборона@name"),
# or right after a lone "RT" ("RT@name"); never inside an e-mail address ("bob@example.com") or a
# path ("/@name", a profile link, which ``handles_in_links`` handles). The handle is ASCII letters,
# digits and "_", with dots and dashes inside (Bluesky handles are domain names; Mastodon adds
# "@instance"), never at the end ("@name." ends a sentence); a non-ASCII letter ends it
# ("@name713Мне" is "name713"). The literal "@" comes first so the regex engine can skip ahead to
# it; the lookbehinds then check the characters before it.
MENTION_PATTERN = (
    r"@(?:(?<![A-Za-z0-9_/]@)|(?<=(?<![A-Za-z0-9_])[Rr][Tt]@))"
    r"([A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,252}[A-Za-z0-9_])?(?:@[A-Za-z0-9_.\-]*[A-Za-z0-9_])?)"
)
MENTION_RE = re.compile(MENTION_PATTERN)


# Reddit names users as u/name or /u/name.
REDDIT_USER_RE = re.compile(r"(?<![\w/])(/?u/)([A-Za-z0-9_\-]{3,20})(?![\w\-])")


def scrub_mentions(text: str | None, key_for: Callable[[str], str | None]) -> str | None:
    """Replace every ``@handle`` (and ``@user@instance``) in a post text by ``@<account key>``."""
    if not text or "@" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        h = m.group(1)
        if h.startswith(KEY_PREFIX) and len(h) == len(KEY_PREFIX) + 24:
            return m.group(0)  # already a key
        k = key_for(h)
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


def scrub_lowered(text: str, idents: list[tuple[str, str, str]], json: bool = False, fields: bool = False) -> str:
    """scrub_text with the identity strings prepared by ``lowered_idents``. With ``json``, a
    numeric id standing as a JSON number is replaced by a quoted key, so the JSON stays valid.
    With ``fields``, ``text`` is a record's strings joined by ``SEP``: a short numeric id is
    replaced where it is a whole string. An identity in ASCII (a handle, an id) ends where an
    ASCII letter, digit or "_" does not follow (``name713Мне`` holds ``name713``)."""
    if not text or not idents:
        return text
    low = text.lower()
    if len(low) != len(text):  # a few Unicode letters change length when lower-cased
        return _scrub_regex(text, {orig: key for orig, _, key in idents})
    spans: list[tuple[int, int, str]] = []
    n = len(low)
    for _, il, key in idents:
        numeric = il.isdigit()
        isword = _isword_ascii if il.isascii() else _isword
        start = low.find(il)
        while start != -1:
            end = start + len(il)
            if (start == 0 or not isword(low[start - 1])) and (end == n or not isword(low[end])):
                if ((not numeric or _numeric_ok(text, start, end, len(il), json, fields))
                        and not _in_host(low, start, end)):
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
        if json and text[start:end].isdigit() and _json_number(text, start, end):
            key = f'"{key}"'
        out.append(key)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _in_host(low: str, start: int, end: int) -> bool:
    """Is low[start:end] a label of a link's host name (``www.<name>.co.uk``)? Site names are
    content, not account references, and links must stay intact."""
    if low[end:end + 1] != "." and low[start - 1:start] != ".":
        return False
    head = low[max(0, start - 80):start]
    cut = head.rfind("//")
    if cut == -1:
        return False
    between = head[cut + 2:]
    return not any(c in between for c in '/ "\'\n@\x00')


def _json_number(text: str, start: int, end: int) -> bool:
    """Is text[start:end] a JSON number value (not part of a string)?"""
    before = text[max(0, start - 16):start].rstrip()[-1:]
    after = text[end:end + 16].lstrip()[:1]
    return before in (":", "[", ",") and after in (",", "}", "]", "")


def _numeric_ok(text: str, start: int, end: int, length: int, json: bool, fields: bool = False) -> bool:
    """Long numeric ids are replaced wherever they stand alone; short ones (years, counts look
    the same) only where they are a whole JSON value (or a whole string of a record)."""
    if length >= 6:
        return True
    if fields:
        return text[start - 1:start] in ("", SEP) and text[end:end + 1] in ("", SEP)
    if not json:
        return False
    if _json_number(text, start, end):
        return True
    return text[start - 1:start] == '"' and text[end:end + 1] == '"'


def _isword(c: str) -> bool:
    return c.isalnum() or c == "_"


def _isword_ascii(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _scrub_regex(text: str, replacements: dict[str, str]) -> str:
    alts = [re.escape(s) for s in sorted(replacements, key=len, reverse=True) if len(s) >= 2]
    if not alts:
        return text
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(alts) + r")(?![\w])", re.IGNORECASE)
    lowered = {k.lower(): v for k, v in replacements.items()}
    return pattern.sub(lambda m: lowered.get(m.group(0).lower(), m.group(0)), text)


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
_H = r"(?=[/?\"\s]|$)"  # end of the path segment
_NOT_A_HANDLE = r"(?!i/|search|hashtag/|intent/|home|share|explore|status/)"
# Every pattern starts with a literal so the regex engine can skip ahead to it; they run on
# lower-cased text (case-insensitive patterns are much slower in Python's re).
class _Link:
    """A profile-link pattern over lower-cased text, with a literal that must be present."""

    def __init__(self, prefix: str, pattern: str) -> None:
        self.prefix = prefix
        self.regex = re.compile(pattern)


_PROFILE_URLS = [
    ("twitter", _Link("twitter.com/", r"twitter\.com/" + _NOT_A_HANDLE + r"([a-z0-9_]{2,15})" + _H)),
    ("twitter", _Link("x.com/", r"x\.com/(?<![\w.\-]x\.com/)" + _NOT_A_HANDLE + r"([a-z0-9_]{2,15})" + _H)),
    ("reddit", _Link("reddit.com/u", r"reddit\.com/u(?:ser)?/([a-z0-9_\-]{3,20})")),
    ("facebook", _Link("facebook.com/", r"facebook\.com/(?<![\w\-]facebook\.com/)(?!groups/|pages/|photo|watch|events/"
                       r"|story\.php|permalink\.php|profile\.php|sharer|share|hashtag/|login|help|notes/|media/"
                       r"|plugins/|dialog/|l\.php|video\.php|gaming/|marketplace/)([a-z0-9.]{5,50})" + _H)),
    ("youtube", _Link("youtube.com/@", r"youtube\.com/@([a-z0-9_.\-]{3,30})")),
    ("telegram", _Link("t.me/", r"t\.me/(?<![\w.\-]t\.me/)(?!s/|joinchat|\+)([a-z0-9_]{5,32})")),
    ("bluesky", _Link("bsky.app/profile/", r"bsky\.app/profile/([a-z0-9_.:\-]{3,253})")),
    ("mastodon", _Link("/@", r"/@([a-z0-9_]{1,30})" + _H)),
]


def handles_in_links(text: str) -> list[tuple[str, str]]:
    """(platform, handle) of accounts named in links' paths anywhere in ``text``
    (e.g. ``x.com/<handle>/status/1``)."""
    low = text.lower()
    if len(low) != len(text):
        low = text  # rare: case-changing letters alter lengths; scan the text as it is
    out: list[tuple[str, str]] = []
    for platform, pat in _PROFILE_URLS:
        if pat.prefix in low:
            out.extend((platform, text[m.start(1):m.end(1)]) for m in pat.regex.finditer(low))
    return out


# Links that name an account by its numeric id in the query: (platform, pattern over lower-cased text).
_ID_URLS = [
    ("facebook", _Link("facebook.com/",
                       r"facebook\.com/(?:story|permalink|profile)\.php\?(?:[^\s\"\x00#]*&)?id=(\d+)")),
]


def ids_in_links(text: str) -> list[tuple[str, str]]:
    """(platform, account id) of accounts named by id in links (``facebook.com/story.php?story_fbid=1&id=<id>``)."""
    low = text.lower()
    out: list[tuple[str, str]] = []
    for platform, pat in _ID_URLS:
        if pat.prefix in low:
            out.extend((platform, m.group(1)) for m in pat.regex.finditer(low))
    return out


# Post ids that embed the author's account: (platform, pattern with groups (head, account, tail),
# how the account part is written as the account reference the source keys authors by).
_ID_ACCOUNT = {
    # https://host/users/<name>/statuses/<id> and https://host/@<name>/<id>: author ref is https://host/@<name>
    "mastodon": (re.compile(r"^(https?://([^/]+)/(?:users/|@))([^/]+)(/.*)$"),
                 lambda m: f"https://{m.group(2)}/@{m.group(3)}"),
    # at://<did or handle>/app.bsky.feed.post/<rkey>: author ref is the DID (or the handle)
    "bluesky": (re.compile(r"^(at://)([^/]+)(/.*)$"), lambda m: m.group(2)),
    # <chat id>/<message id>: the channel or group
    "telegram": (re.compile(r"^()(-?\d+)(/\d+)$"), lambda m: m.group(2)),
    # <page id>_<post id>
    "facebook": (re.compile(r"^()(\d+)(_\d+)$"), lambda m: m.group(2)),
}


_DID = re.compile(r"did:(?:plc|web):[A-Za-z0-9._:%\-]+")


def pseudonymise_post_id(platform: str, pid: str, key_for_ref: Callable[[str], str | None],
                         key_for_did: Callable[[str], str | None] | None = None) -> str:
    """Replace the account a post id embeds (Mastodon status URIs name the author, Bluesky URIs
    hold the author's DID, Telegram and Facebook ids start with the channel or page id) by its key.
    Deterministic, so replies, reposts and quotes still point at the right post."""
    if not pid:
        return pid
    if "did:" in pid and not pid.startswith("at://"):  # bridged ids (e.g. Bridgy Fed) embed a Bluesky DID
        pid = _DID.sub(lambda m: key_for_did(m.group(0)) or m.group(0), pid) if key_for_did else pid
    rule = _ID_ACCOUNT.get(platform)
    if rule is None:
        return pid
    pat, ref = rule
    m = pat.match(pid)
    if m is None:
        return pid
    k = key_for_ref(ref(m))
    if not k:
        return pid
    head = m.group(1)
    if platform == "mastodon":
        return f"{head}{k}{m.group(4)}"
    return f"{head}{k}{m.group(3)}"


# ---------------------------------------------------------------------------------------------
# The raw record, scrubbed by walking it (never by matching its JSON text, whose escapes hide
# where a word starts: "\n@name" is "n@name" in JSON).

# Profile fields: dropped from every account object in a raw record (a dict naming an account by
# one of ``_ACCOUNT_MARKERS``: a tweet's author, a mentioned user as twarc expands it, a
# CrowdTangle page, a Bluesky author ...), and the image fields wherever they stand (also as
# flattened ``account.profileImage`` keys). Hubbub keeps no per-person profiles.
PROFILE_ANYWHERE = frozenset({
    "profile_image_url", "profile_image_url_https", "profile_banner_url", "profile_background_image_url",
    "profile_background_image_url_https", "profileImage", "authorProfileImageUrl", "avatar", "avatar_static",
})
PROFILE_IN_ACCOUNT = PROFILE_ANYWHERE | frozenset({
    "description", "location", "note", "fields", "header", "header_static", "pinned_tweet_id", "pinned_tweet",
    "entities", "bio",
})
_ACCOUNT_MARKERS = ("username", "screen_name", "handle", "acct")
SEP = "\x00"  # joins a record's strings into one text for C-speed searches; never inside a word


_MARKERS = frozenset(_ACCOUNT_MARKERS)
# Subtrees that never hold an account identity (counters, edit ids): kept as they are
# without walking them, which keeps the import fast.
_NO_IDENTITY = frozenset({"public_metrics", "non_public_metrics", "organic_metrics", "edit_history_tweet_ids",
                          "edit_controls"})


# Keys whose value is an account id wherever they stand (and ``id`` in an account object): the
# value is replaced by the account's key even when the record names the account nowhere else.
ACCOUNT_ID_KEYS = frozenset({"author_id", "in_reply_to_user_id", "in_reply_to_user_id_str", "user_id",
                             "source_user_id", "source_user_id_str", "in_reply_to_account_id", "pinned_tweet_id"})
_ID_IN_ACCOUNT = ("id_str", "id", "did", "platformId")
_NAME_IN_ACCOUNT = ("name", "display_name", "displayName")
# Fields of an account object replaced by the account's key (its id, handles, display names).
_ACCOUNT_FIELDS = frozenset(_ID_IN_ACCOUNT + _ACCOUNT_MARKERS + _NAME_IN_ACCOUNT)


def record_strings(obj: Any, keys: dict[Any, Any], numbers: dict[int, str],
                   id_key: Callable[[str], str | None] | None = None,
                   handle_key: Callable[[str], str | None] | None = None,
                   ) -> tuple[Any, list[str], list[tuple[Any, Any]]]:
    """Walk a parsed record: a copy of it without profile fields, with every key that *is* an
    identity (``keys``: value -> replacement), every integer that is a numeric account id
    (``numbers``), every value of an account-id field (``ACCOUNT_ID_KEYS``: ``id_key(value)``) and
    the id, handle and display name of every account object (by the account's key: the one
    ``keys`` gives for any of them, else by its id, else by its handle) replaced; its string values
    in walk order, and where each stands (container, key or index) so ``put_strings`` can replace
    them in the copy."""
    strings: list[str] = []
    slots: list[tuple[Any, Any]] = []
    add, slot = strings.append, slots.append
    kget = keys.get
    anywhere, in_account, markers, skip = PROFILE_ANYWHERE, PROFILE_IN_ACCOUNT, _MARKERS, _NO_IDENTITY
    id_keys = ACCOUNT_ID_KEYS if id_key is not None else frozenset()

    def account_id(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, str | int) or v == "" or not id_key:
            return v
        s = str(v)
        if s.startswith(KEY_PREFIX):
            return v
        k = keys.get(s)
        return k if k is not None else (id_key(s) or v)

    def key_of_account(x: dict[Any, Any]) -> str | None:
        first_id = first_handle = None
        for f in _ID_IN_ACCOUNT + _ACCOUNT_MARKERS:
            v = x.get(f)
            if v is None or v == "" or not (type(v) is str or type(v) is int):
                continue
            v = str(v)
            k = kget(v) or kget(v.lower())
            if k is not None:
                return k
            if f in _ACCOUNT_MARKERS:
                first_handle = first_handle or (v.split("@")[0] if f == "acct" else v)
            else:
                first_id = first_id or v
        if first_id is not None and id_key is not None:
            return id_key(first_id)
        if first_handle is not None and handle_key is not None:
            return handle_key(first_handle)
        return None

    special_plain = anywhere | skip | id_keys
    special_acct = in_account | skip | id_keys | _ACCOUNT_FIELDS

    def value(v: Any) -> Any:
        """A value inside a container (strings are collected by the caller)."""
        t = type(v)
        if t is dict or t is list or isinstance(v, dict | list | tuple):
            return walk(v)
        if t is int and v in numbers:
            return numbers[v]
        return v

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            acct = not markers.isdisjoint(x)
            if acct:
                drop, special, own = in_account, special_acct, key_of_account(x)
            else:
                drop, special, own = anywhere, special_plain, None
            out: dict[Any, Any] = {}
            named = not keys.keys().isdisjoint(x)  # a key of this dict is an identity
            for k, v in x.items():
                if k in special:
                    if k in drop:
                        continue
                    if k in skip:
                        out[k] = v
                        continue
                    if own is not None and k in _ACCOUNT_FIELDS:
                        if (type(v) is str or type(v) is int) and v != "":
                            v = own
                    elif k in id_keys:
                        v = account_id(v)
                elif type(k) is str:
                    if "." in k and k.rpartition(".")[2] in drop:
                        continue
                    if named:
                        k = kget(k, k)
                if type(v) is str:
                    out[k] = v
                    add(v)
                    slot((out, k))
                else:
                    out[k] = value(v)
            return out
        if isinstance(x, list | tuple):
            lst: list[Any] = []
            for v in x:
                if type(v) is str:
                    slot((lst, len(lst)))
                    add(v)
                    lst.append(v)
                else:
                    lst.append(value(v))
            return lst
        if isinstance(x, str):
            box = [x]
            add(x)
            slot((box, 0))
            return box
        if type(x) is int:
            return numbers.get(x, x)
        return x

    top = walk(obj)
    return top, strings, slots


def put_strings(top: Any, obj: Any, strings: list[str], slots: list[tuple[Any, Any]], new: list[str]) -> Any:
    """The copy from ``record_strings`` with its strings replaced by ``new`` (same order)."""
    for i, (old, s) in enumerate(zip(strings, new, strict=True)):
        if s != old:
            c, k = slots[i]
            c[k] = s
    return top[0] if isinstance(obj, str) else top
