"""The small interface every source implements, and helpers they share.

A source knows one format. It
- ``sniff(head, name)``: says how sure it is (0..1) that a file starts like its format;
- ``records(stream)``: splits the file into records, each with a locator and its raw bytes;
- ``map(obj)``: turns one parsed record into post drafts (``dict`` with ``schema.DRAFT_FIELDS``)
  or ``Bad`` items; raising ``MappingError`` quarantines the whole record.

Sources never touch the store, never pseudonymise and never print: the import pipeline does.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from hubbub.privacy import MENTION_RE


class MappingError(ValueError):
    """A record that parsed but cannot be mapped to a post (missing id, bad time...)."""


def item_reason(exc: BaseException) -> str:
    """Why a record or an item of one is quarantined: a ``MappingError``'s message, or for a shape
    no check foresaw the error's type and the line of Hubbub's code it was raised at (never a
    value from the record)."""
    if isinstance(exc, MappingError):
        return str(exc)
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        mod = tb.tb_frame.f_globals.get("__name__", "")
        if mod.startswith("hubbub."):
            where = f" at {mod.rsplit('.', 1)[-1]}.py:{tb.tb_lineno}"
        tb = tb.tb_next
    what = "nested too deep" if isinstance(exc, RecursionError) else type(exc).__name__
    return f"unexpected record shape ({what}{where})"


@dataclass(slots=True)
class Record:
    locator: str  # "line 12", "item 3", "row 7"
    raw: bytes  # the record's bytes as found (or re-serialised for items inside one document)
    obj: Any = None  # parsed record, None when parsing failed
    error: str | None = None  # why parsing failed


@dataclass(slots=True)
class Bad:
    """One unusable item inside an otherwise readable record."""

    reason: str
    raw: Any
    locator: str = ""


Draft = dict[str, Any]


class Source:
    """Base class: subclasses set ``name``/``platform`` and implement ``sniff`` and ``map``."""

    name: str = ""
    platform: str = "other"
    description: str = ""

    def sniff(self, head: bytes, name: str) -> float:
        return 0.0

    def records(self, stream: IO[bytes]) -> Iterator[Record]:
        return json_records(stream)

    def map(self, obj: Any) -> Iterable[Draft | Bad]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# Record splitting


# The largest record (a line, a CSV row, a JSON document) an import reads; a longer one is
# quarantined as "record over N bytes" without being held in memory. HUBBUB_MAX_RECORD_BYTES tunes it.
DEFAULT_MAX_RECORD_BYTES = 16 << 20
# A whole-file JSON document (a pretty-printed API answer) may be larger: it is split into records.
DEFAULT_MAX_DOCUMENT_BYTES = 1 << 30


def max_record_bytes() -> int:
    return int(os.environ.get("HUBBUB_MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES))


def max_document_bytes() -> int:
    return max(max_record_bytes(), int(os.environ.get("HUBBUB_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES)))


class TooLong(bytes):
    """The first bytes of a line longer than ``max_record_bytes()`` (the rest was skipped unread)."""


def too_long_reason(limit: int | None = None) -> str:
    return f"record over {limit or max_record_bytes()} bytes"


def bounded_lines(stream: IO[bytes], limit: int | None = None) -> Iterator[bytes]:
    """The lines of a stream, as iterating it gives them, except that a line longer than ``limit``
    comes as a ``TooLong`` holding its first 4 KiB: memory stays bounded by ``limit``."""
    limit = limit or max_record_bytes()
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip to the end of the line, a bounded piece at a time
                more = stream.readline(1 << 20)
                if not more or more.endswith(b"\n"):
                    break
            yield TooLong(line[:4096])
            continue
        yield line


def json_records(stream: IO[bytes], unwrap: bool = True) -> Iterator[Record]:
    """JSON Lines, or one JSON document, streamed.

    If the first non-empty line parses on its own, the file is read line by line; otherwise the
    whole file is one (pretty-printed) document. A record that is a list yields one record per
    element; HTTP recordings (``[{request, status, body}]``) yield one record per body."""
    lineno = 0
    first = b""
    lines = bounded_lines(stream)
    for first in lines:
        lineno += 1
        if first.strip():
            break
    else:
        return
    if isinstance(first, TooLong):
        yield from parse_line(lineno, first, unwrap)
        yield from _lines(lines, lineno + 1, unwrap)
        return
    try:
        obj = loads_json(first)
    except orjson.JSONDecodeError:
        limit = max_document_bytes()
        doc_bytes = first + stream.read(limit + 1 - len(first))
        if len(doc_bytes) > limit:
            yield Record("document", doc_bytes[:4096], None, f"document over {limit} bytes")
            return
        try:
            doc = loads_json(doc_bytes)
        except orjson.JSONDecodeError as exc:
            rest = doc_bytes.split(b"\n")
            if _json_lines(rest[1:]):
                # JSON Lines with a broken first line: read line by line so the good ones are kept.
                yield from _lines(rest, lineno, unwrap)
            else:
                # One damaged document: quarantined whole (its lines alone are fragments that no
                # retry could map); `quarantine retry` reads it again as a file of this format.
                yield Record("document", doc_bytes, None, f"invalid JSON document ({exc})")
            return
        yield from _expand("document", doc_bytes, doc, unwrap)
        return
    yield from _expand(f"line {lineno}", first, obj, unwrap)
    yield from _lines(lines, lineno + 1, unwrap)


def _json_lines(lines: list[bytes]) -> bool:
    """Whether most of these lines (the first 20 non-empty ones) are JSON objects or arrays."""
    sample = [ln for ln in lines if ln.strip()][:20]
    if not sample:
        return True  # a single line: quarantined as that line
    ok = 0
    for ln in sample:
        try:
            ok += isinstance(loads_json(ln), dict | list)
        except orjson.JSONDecodeError:
            pass
    return 2 * ok >= len(sample)


# A \uD800-\uDFFF escape that is not half of a pair (an escape, not an escaped backslash before "u")
_SURROGATE_ESCAPE = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|(?<!\\)((?:\\\\)*)\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _replace_lone(m: re.Match[bytes]) -> bytes:
    if m.group(2) is not None:
        return m.group(0) if m.group(3) else m.group(1) + b"\\ufffd"
    return m.group(4) + b"\\ufffd"


def loads_json(data: bytes) -> Any:
    """``orjson.loads``, except that a lone UTF-16 surrogate escape (``"\\ud83d"``, left by tools that
    cut a text between the two halves of an emoji) reads as U+FFFD instead of failing the record."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if b"\\u" not in data:
            raise
        fixed = _SURROGATE_ESCAPE.sub(_replace_lone, data)
        if fixed == data:
            raise
        try:
            return orjson.loads(fixed)
        except orjson.JSONDecodeError:
            pass
        raise


def _lines(lines: Iterable[bytes], start: int, unwrap: bool) -> Iterator[Record]:
    for i, line in enumerate(lines, start=start):
        if line.strip():
            yield from parse_line(i, line, unwrap)


def parse_line(lineno: int, line: bytes, unwrap: bool = True) -> Iterator[Record]:
    """Records of one JSON line (several when the line holds a list or HTTP recordings)."""
    loc = f"line {lineno}"
    if isinstance(line, TooLong):
        yield Record(loc, bytes(line), None, too_long_reason())
        return
    try:
        obj = loads_json(line)
    except orjson.JSONDecodeError as exc:
        yield Record(loc, line.rstrip(b"\r\n"), None, f"invalid JSON ({exc})")
        return
    yield from _expand(loc, line, obj, unwrap)


def _expand(loc: str, raw: bytes, obj: Any, unwrap: bool) -> Iterator[Record]:
    if unwrap and isinstance(obj, list) and obj:
        if all(_is_recording(x) for x in obj):
            for i, item in enumerate(obj):
                body = item.get("body")
                where = f"{loc} response {i}"
                if isinstance(body, dict | list):
                    yield Record(where, _item_bytes(body, raw), body)
                else:  # a response recorded without its body: counted and quarantined, not lost
                    yield Record(where, orjson.dumps(item), None, "recorded response without a JSON body")
            return
        for i, item in enumerate(obj):
            yield Record(f"{loc} item {i}", _item_bytes(item, raw), item)
        return
    yield Record(loc, raw.rstrip(b"\r\n"), obj)


def _item_bytes(item: Any, whole: bytes) -> bytes:
    """An item's bytes for the quarantine; the whole record's when the item cannot be written as
    JSON (nested too deep to write, an integer beyond 64 bits): its mapping then quarantines only
    the part that is too deep, and the rest of the item is still read."""
    try:
        return orjson.dumps(item)
    except orjson.JSONEncodeError:
        return whole.rstrip(b"\r\n")


def _is_recording(x: Any) -> bool:
    return isinstance(x, dict) and "body" in x and ("request" in x or "status" in x)


def head_json_keys(head: bytes) -> str:
    """The first bytes as text, for cheap key sniffing."""
    return head.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Field helpers


def shape(value: Any) -> str:
    """What a bad value looks like, without the value: quarantine reasons are stored and printed in
    clear, and a value in the wrong field can be anything (a misaligned CSV row puts a place or a
    name where the time should be). ``'Julius NM'`` is "text of 9 characters"."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_time(value: Any, what: str = "time") -> datetime:
    """Parse the time shapes found in real exports into an aware UTC datetime.

    Accepts ISO 8601 (with Z or offset; naive means UTC), Unix seconds/milliseconds as int,
    float or numeric string, the X v1.1 shape ``Sat Jul 13 02:27:51 +0000 2019`` and
    ``YYYY-MM-DD HH:MM[:SS[.ffffff]]`` (UTC)."""
    if value is None or value == "":
        raise MappingError(f"missing {what}")
    if isinstance(value, bool):
        raise MappingError(f"bad {what}: {shape(value)}")
    if isinstance(value, int | float):
        return _from_epoch(float(value), what)
    if isinstance(value, str):
        s = value.strip()
        if _NUM.fullmatch(s):
            return _from_epoch(float(s), what)
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        except ValueError:
            try:
                dt = datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y")
            except ValueError:
                raise MappingError(f"bad {what}: {shape(value)}, not a time") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    raise MappingError(f"bad {what}: {shape(value)}")


_NUM = re.compile(r"-?\d+(\.\d+)?")


# Unix times by magnitude (docs/schema.md, *Bad records*): seconds below 1e11, milliseconds from
# 1e12 (2001-09-09), microseconds from 1e14, nanoseconds from 1e17. Between 1e11 and 1e12 a number
# is seconds after the year 5138 or milliseconds before 2001: no post time, so it is refused.
_EPOCH_UNITS = ((1e11, 1.0), (1e12, None), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9))


def _from_epoch(x: float, what: str) -> datetime:
    per_second = next((unit for below, unit in _EPOCH_UNITS if abs(x) < below), 0.0)
    if per_second == 0.0:
        raise MappingError(f"bad {what}: number too large for a time")
    if per_second is None:
        raise MappingError(f"bad {what}: number between 1e11 and 1e12 is neither seconds nor milliseconds "
                           "of a plausible time")
    x /= per_second
    try:
        return datetime.fromtimestamp(x, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError(f"bad {what}: a number out of range") from None


def opt_time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except MappingError:
        return None


def to_int(value: Any) -> int | float | None:
    """A count as an integer; None for no value or one that is not a number. An infinite number
    is returned as it is, and a huge one as a huge integer: the pipeline quarantines the record,
    naming the field (``ingest.rows.check_draft``), instead of storing a wrong count."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(x):
        return None
    if math.isinf(x):
        return x
    return int(x)


def need(obj: dict, key: str) -> Any:
    v = obj.get(key)
    if v is None or v == "":
        raise MappingError(f"missing {key!r}")
    return v


def str_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


_HASHTAG = re.compile(r"(?<![\w&])[#＃](\w+)", re.UNICODE)
_URL = re.compile(r"https?://[^\s<>\"'\u3000]+", re.IGNORECASE)


def hashtags_in(text: str | None) -> list[str]:
    return _HASHTAG.findall(text) if text else []


def mentions_in(text: str | None) -> list[str]:
    # the pattern the pipeline pseudonymises text with, so a mention and its key in the text agree
    return MENTION_RE.findall(text) if text else []


def urls_in(text: str | None) -> list[str]:
    if not text:
        return []
    return [u.rstrip(".,;:!?)]}'\"") for u in _URL.findall(text)]


def unescape(s: Any) -> str | None:
    """Undo the ``&amp; &lt; &gt;`` escaping of the X and Reddit APIs (only those three are escaped there)."""
    if not isinstance(s, str):
        return None if s is None else str(s)
    if "&" not in s:
        return s
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
