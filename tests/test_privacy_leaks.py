"""Issue 10, must-show 3: nothing that names an account leaves the importer without --keep-handles.

Identities are extracted from the raw samples by this file's own small walker, independently of
Hubbub's code (it imports nothing from hubbub to find them): account ids, handles, display names,
@mentions, profile fields (bios, locations, avatars) and page/channel ids, per platform shape. Then
the samples are imported into one workspace and every byte the workspace and its outputs hold is
searched: the store's files and every table read back as text, exports (CSV, JSON Lines with raw,
Parquet read back), a Parquet snapshot (read back), coordination networks (GEXF, GraphML), the
quarantine listing and the output of every command run (logs).

What is left out of the search, and why:
- handles under 4 characters and numeric ids under 6 digits: they occur by chance everywhere
  (counts, years, words); an id that is also a count or another number of the samples, or that
  stands in their content (a link's query);
- an identity that also stands in the content of the samples as an ordinary word (not as an
  @mention): a handle that is a brand or word (``Twitter``, ``python``), a display name that is a
  page title or a person's name written in a post. Hubbub keeps post text (it pseudonymises only
  @mentions in it), so such a string cannot be told apart from content;
- display names and profile strings under 6 characters, or of one word;
- handles equal to a platform name Hubbub writes itself (an account named ``bluesky``).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import FORMATS, SHARED

# -------------------------------------------------------------------------------------------------
# Independent extraction

ACCOUNT_MARKERS = {"username", "screen_name", "handle", "acct"}
ID_IN_ACCOUNT = {"id", "id_str", "did", "platformId"}
HANDLE_IN_ACCOUNT = {"username", "screen_name", "handle", "acct"}
NAME_IN_ACCOUNT = {"name", "display_name", "displayName"}
PROFILE_IN_ACCOUNT = {"description", "location", "note", "profile_image_url", "profile_image_url_https",
                      "profileImage", "avatar", "profile_banner_url"}
ID_ANYWHERE = {"author_id", "user_id", "in_reply_to_user_id", "in_reply_to_user_id_str", "channel_id", "chat_id",
               "in_reply_to_account_id", "source_user_id", "source_user_id_str", "author_fullname"}
HANDLE_ANYWHERE = {"in_reply_to_screen_name"}
NAME_ANYWHERE = {"authorDisplayName", "channelTitle", "from_name", "post_author"}
PROFILE_ANYWHERE = {"authorProfileImageUrl", "profileImage", "profile_image_url", "profile_image_url_https"}
IDENTITY_KEYS = ID_ANYWHERE | HANDLE_ANYWHERE | NAME_ANYWHERE | PROFILE_ANYWHERE | {"author", "authorChannelId",
                                                                                   "value"}
MENTION = re.compile(r"(?<![A-Za-z0-9_/])@([A-Za-z0-9_]{4,30})")


class Found:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.handles: set[str] = set()
        self.names: set[str] = set()
        self.profile: set[str] = set()
        self.content: list[str] = []  # strings outside account objects and identity fields
        self.numbers: set[str] = set()  # numbers outside identity fields (counts, times, post ids)

    def walk(self, x: Any, in_account: bool = False, key: str = "") -> None:
        if isinstance(x, dict):
            acct = bool(ACCOUNT_MARKERS & x.keys()) or "authorChannelId" in x
            for k, v in x.items():
                last = k.rsplit(".", 1)[-1] if isinstance(k, str) else k
                if isinstance(k, str) and k.startswith("account.") and last in ("id", "platformId"):
                    self._id(v)  # CrowdTangle CSV: flattened account columns
                elif isinstance(k, str) and k.startswith("account.") and last in ("handle", "name"):
                    (self.handles if last == "handle" else self.names).add(str(v))
                self.walk(v, acct, last)
            if acct:
                for k in ID_IN_ACCOUNT & x.keys():
                    self._id(x[k])
                for k in HANDLE_IN_ACCOUNT & x.keys():
                    if isinstance(x[k], str):
                        self.handles.add(x[k].split("@")[0] if k == "acct" else x[k])
                for k in NAME_IN_ACCOUNT & x.keys():
                    if isinstance(x[k], str):
                        self.names.add(x[k])
                for k in PROFILE_IN_ACCOUNT & x.keys():
                    if isinstance(x[k], str):
                        self.profile.add(x[k])
            if isinstance(x.get("authorChannelId"), dict):
                self._id(x["authorChannelId"].get("value"))
            if isinstance(x.get("author"), str):  # Reddit
                self.handles.add(x["author"])
            for k in ID_ANYWHERE & x.keys():
                self._id(x[k])
            for k in HANDLE_ANYWHERE & x.keys():
                if isinstance(x[k], str):
                    self.handles.add(x[k])
            for k in NAME_ANYWHERE & x.keys():
                if isinstance(x[k], str):
                    self.names.add(x[k].lstrip("@"))
            for k in PROFILE_ANYWHERE & x.keys():
                if isinstance(x[k], str):
                    self.profile.add(x[k])
        elif isinstance(x, list):
            for v in x:
                self.walk(v, in_account, key)
        elif isinstance(x, str):
            self.handles.update(MENTION.findall(x))
            for did in re.findall(r"did:plc:[a-z0-9]{10,}", x):
                self.ids.add(did)
            if not in_account and key not in IDENTITY_KEYS:
                self.content.append(x)
        elif isinstance(x, int | float) and not isinstance(x, bool) and key not in IDENTITY_KEYS:
            self.numbers.add(str(int(x)) if isinstance(x, int) or x.is_integer() else str(x))

    def _id(self, v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, dict):
            for w in v.values():
                self._id(w)
            return
        s = str(v)
        if s.startswith("t2_"):
            s = s[3:]
        self.ids.add(s)


def _json_docs(path: Path) -> Iterator[Any]:
    raw = path.read_bytes()
    try:
        yield json.loads(raw)
        return
    except ValueError:
        pass
    for line in raw.splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def extract(json_files: list[Path], csv_files: list[tuple[Path, dict[str, str]]]) -> Found:
    """``csv_files``: (file, {column: what}) with what in handle, id, name, content."""
    f = Found()
    for p in json_files:
        for doc in _json_docs(p):
            f.walk(doc)
        m = re.fullmatch(r"(.+)_(\d{6,})", p.stem)  # Telethon exports: <channel>_<channel id>
        if m:
            f.handles.add(m.group(1))
            f.ids.add(m.group(2))
    csv.field_size_limit(1 << 30)
    for p, cols in csv_files:
        with p.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                f.walk(row)
                for col, what in cols.items():
                    v = row.get(col)
                    if not v or v == "NA":
                        continue
                    if what == "handle":
                        f.handles.add(v)
                    elif what == "id":
                        f._id(v)
                    elif what == "name":
                        f.names.add(v)
                    else:
                        f.content.append(v)
                        f.handles.update(MENTION.findall(v))
    return f


# -------------------------------------------------------------------------------------------------
# The inputs

IRA = SHARED / "ira-troll-tweets-2016-election-window" / "tweets"
CT = SHARED / "crowdtangle-link-shares-pycoornet"
SANDERS = SHARED / "sanders-twitter-corpus" / "full-corpus.csv"
JSON_DIRS = ["twitter-api-v2-twarc2", "twitter-api-tweepy-cassettes", "mastodon-api", "bluesky-xrpc-atproto",
             "facebook-crowdtangle-api", "reddit-api-praw-cassettes", "reddit-pushshift-ndjson",
             "telegram-telethon-messages", "youtube-data-api-v3"]


def _json_inputs() -> list[Path]:
    out = []
    for d in JSON_DIRS:
        out += sorted(p for p in (FORMATS / d).rglob("*") if p.suffix in (".json", ".jsonl", ".ndjson"))
    return out + [CT / "ct_shares.json"]


def _ira_sample(out: Path) -> Path:
    """One IRA week plus every IRA row whose text has a mention after a newline, a non-ASCII letter
    or another '@' (the shapes issue 10 found leaking), as one IRA CSV."""
    csv.field_size_limit(1 << 30)
    odd = re.compile(r"(?:\n|[^\x00-\x7f]|@)@[A-Za-z0-9_]")
    rows: list[list[str]] = []
    header: list[str] = []
    for f in sorted(IRA.glob("*.csv")):
        with f.open(newline="", encoding="utf-8") as fh:
            r = csv.reader(fh)
            header = next(r)
            rows += [row for row in r if f.name.endswith("10-01.csv") or odd.search(row[1])]
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return out


# -------------------------------------------------------------------------------------------------
# The test


def _cli(ws: Path, *args: str) -> bytes:
    r = subprocess.run([sys.executable, "-m", "hubbub.serve.cli", "--workspace", str(ws), *args],
                       capture_output=True, timeout=900)
    assert r.returncode in (0, 3, 4), (args, r.stderr.decode()[-2000:])
    return r.stdout + r.stderr


def _store_dump(ws: Path) -> bytes:
    """Every table of the store as text (DuckDB compresses strings in its file)."""
    import duckdb

    con = duckdb.connect(str(next(ws.glob("*.duckdb"))), read_only=True)
    try:
        out = []
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()  # table names from the catalog
            out.append(json.dumps(rows, default=str, ensure_ascii=False).encode())
        return b"\n".join(out)
    finally:
        con.close()


def _files_bytes(folder: Path) -> bytes:
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":  # compressed: read it back
            out.append(json.dumps(pq.read_table(p).to_pylist(), default=str, ensure_ascii=False).encode())
        else:
            out.append(p.read_bytes())
    return b"\n".join(out)


@pytest.fixture(scope="module")
def leak_world(tmp_path_factory) -> tuple[Found, bytes]:
    tmp = tmp_path_factory.mktemp("leaks")
    ira = _ira_sample(tmp / "ira.csv")
    json_inputs = _json_inputs()
    found = extract(json_inputs, [(ira, {"author_id": "handle", "content": "content"}),
                                  (SANDERS, {"TweetText": "content"}),
                                  (CT / "ct_shares.csv", {"expanded": "content"})])
    ws, out = tmp / "ws", tmp / "out"
    out.mkdir()
    mapping = tmp / "sanders.json"
    mapping.write_text(json.dumps({"format": "csv", "platform": "twitter", "post_id": "TweetId",
                                   "created_at": "TweetDate", "text": "TweetText"}))
    logs = [_cli(ws, "import", *map(str, [FORMATS / d for d in JSON_DIRS]), "--dataset", "formats"),
            _cli(ws, "import", str(CT / "ct_shares.json"), str(CT / "ct_shares.csv"), "--dataset", "ct"),
            _cli(ws, "import", str(ira), "--dataset", "ira"),
            _cli(ws, "import", str(SANDERS), "--dataset", "sanders", "--mapping", str(mapping)),
            _cli(ws, "export", str(out / "all.jsonl"), "--raw"),
            _cli(ws, "export", str(out / "all.csv")),
            _cli(ws, "export", str(out / "all.parquet")),
            _cli(ws, "snapshot", str(out / "snap")),
            _cli(ws, "coordination", "--gexf", str(out / "net.gexf"), "--graphml", str(out / "net.graphml")),
            _cli(ws, "quarantine"),
            _cli(ws, "quarantine", "--json"),
            _cli(ws, "datasets"),
            _cli(ws, "stats")]
    hay = b"\n".join([_files_bytes(ws), _store_dump(ws), _files_bytes(out), *logs])
    return found, hay


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _grams(text: str) -> set[str]:
    """Words and word pairs of a text: a phrase can stand in the text only if all its pairs do
    (then it is checked exactly; a substring search per phrase over the whole haystack is slow)."""
    w = _words(text)
    return set(w) | set(map(" ".join, zip(w, w[1:], strict=False)))


def _maybe_in(phrase: str, grams: set[str]) -> bool:
    w = _words(phrase)
    if len(w) < 2:
        return bool(w) and w[0] in grams
    return all(" ".join(p) in grams for p in zip(w, w[1:], strict=False))


def _content_words(found: Found) -> set[str]:
    """Words of the samples' content, except where they are written as @mentions."""
    words: set[str] = set()
    for t in found.content:
        words.update(w.lower() for w in re.findall(r"(?<![@\w])[\w.\-]+", re.sub(r"@\w+", " ", t)))
        words.update(p.lower() for p in re.findall(r"[a-z0-9]+", t.lower()))  # parts of links and words
    return words


# Hubbub's own values: a handle equal to one (an account named "bluesky") cannot be told apart.
PLATFORM_WORDS = {"twitter", "reddit", "mastodon", "bluesky", "youtube", "facebook", "telegram", "other"}


@pytest.mark.slow
def test_no_account_identity_in_anything_the_workspace_writes(leak_world):
    found, hay = leak_world
    content = _content_words(found)
    content_text = "\n".join(found.content).lower()
    content_grams = _grams(content_text)
    low = hay.decode("utf-8", "replace").lower()
    tokens = set(re.findall(r"[a-z0-9_]+", low))
    hay_grams = _grams("\n".join(set(low.split("\n"))))  # each distinct line once

    def in_content(s: str) -> bool:
        return _maybe_in(s, content_grams) and s.lower() in content_text

    def in_hay(s: str) -> bool:
        return _maybe_in(s, hay_grams) and s.lower() in low

    handles = {h for h in found.handles if len(h) >= 4 and re.fullmatch(r"\w+", h, re.ASCII)
               and h.lower() not in content and h.lower() not in PLATFORM_WORDS}
    ids = {i for i in found.ids if ((i.isdigit() and len(i) >= 6) or i.startswith(("did:", "UC")))
           and i not in found.numbers and i.lower() not in content}
    names = {n for n in found.names if len(n) >= 6 and " " in n.strip() and _words(n) and not in_content(n)}
    profile = {p for p in found.profile if len(p) >= 12 and _words(p) and not in_content(p)}
    assert len(handles) > 1000 and len(ids) > 1000 and len(names) > 300 and len(profile) > 100, (
        len(handles), len(ids), len(names), len(profile))

    leaked_handles = sorted(h for h in handles if h.lower() in tokens)
    leaked_ids = sorted(i for i in ids if (i.lower() in tokens if i.isdigit() or i.startswith("UC")
                                           else i.lower() in low))
    leaked_names = sorted(n for n in names if in_hay(n))
    leaked_profile = sorted(p for p in profile if in_hay(p))
    assert (leaked_handles, leaked_ids, leaked_names, leaked_profile) == ([], [], [], [])
