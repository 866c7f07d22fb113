"""CSV and JSON Lines files mapped to posts by a column mapping (docs/mapping.md), and presets
for known tabular formats that are detected by their exact header:

- ``ira-csv``: the IRA troll-tweet CSVs (per-author re-split of the FiveThirtyEight data);
- ``qut-csv``: the 8-column CSV of the QUT coordination-network-toolkit.

The generic source never claims a file by itself (``sniff`` is 0): it is used with an explicit
mapping, ``import_paths(..., source=mapped_source(load_mapping(path)))``.
"""

from __future__ import annotations

import ast
import codecs
import csv
import difflib
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from hubbub.errors import BadParameter
from hubbub.schema import KINDS, PLATFORMS
from hubbub.sources._csvrows import CsvRows
from hubbub.sources.base import (
    Draft,
    MappingError,
    Record,
    Source,
    hashtags_in,
    json_records,
    mentions_in,
    parse_time,
    shape,
    str_id,
    to_int,
    urls_in,
)
from hubbub.sources.files import UnreadableFile

# Draft fields a mapping can fill from a column.
FIELDS = (
    "post_id", "created_at", "author_id", "author_handle", "author_name", "text", "lang_declared",
    "kind", "parent_id", "conversation_id", "reposted_id", "quoted_id", "urls", "hashtags",
    "mentions", "media_types", "likes", "reposts", "replies", "quotes", "views", "engagement_at",
)
OPTIONS = (
    "format", "platform", "platform_column", "time_format", "kind_map", "lang_map", "list_separator",
    "delimiter", "encoding", "columns", "header", "extract_entities", "name", "description", "preset",
)
_IDS = ("post_id", "author_id", "parent_id", "conversation_id", "reposted_id", "quoted_id")
_COUNTS = ("likes", "reposts", "replies", "quotes", "views")
_LISTS = ("urls", "hashtags", "mentions", "media_types")
_STRS = ("author_handle", "author_name", "text")

csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))  # long texts in real exports

# English language names (as in the IRA data) -> ISO 639-1.
LANGUAGE_CODES = {
    "Albanian": "sq", "Arabic": "ar", "Armenian": "hy", "Azerbaijani": "az", "Belarusian": "be",
    "Bengali": "bn", "Bosnian": "bs", "Bulgarian": "bg", "Catalan": "ca", "Chinese": "zh",
    "Croatian": "hr", "Czech": "cs", "Danish": "da", "Dutch": "nl", "English": "en", "Estonian": "et",
    "Farsi": "fa", "Farsi (Persian)": "fa", "Persian": "fa", "Filipino": "tl", "Tagalog": "tl",
    "Tagalog (Filipino)": "tl", "Finnish": "fi", "French": "fr", "Georgian": "ka", "German": "de",
    "Greek": "el", "Hebrew": "he", "Hindi": "hi", "Hungarian": "hu", "Icelandic": "is",
    "Indonesian": "id", "Italian": "it", "Japanese": "ja", "Kazakh": "kk", "Korean": "ko",
    "Kurdish": "ku", "Kyrgyz": "ky", "Latvian": "lv", "Lithuanian": "lt", "Macedonian": "mk",
    "Malay": "ms", "Mongolian": "mn", "Norwegian": "no", "Pashto": "ps", "Pushto": "ps", "Polish": "pl",
    "Portuguese": "pt", "Romanian": "ro", "Russian": "ru", "Serbian": "sr", "Slovak": "sk",
    "Slovenian": "sl", "Somali": "so", "Spanish": "es", "Swedish": "sv", "Tajik": "tg", "Thai": "th",
    "Turkish": "tr", "Turkmen": "tk", "Ukrainian": "uk", "Urdu": "ur", "Uzbek": "uz",
    "Vietnamese": "vi",
}


class MappingConfigError(BadParameter):
    """A mapping (file) that cannot be used; the message names the key that is wrong."""


# ---------------------------------------------------------------------------------------------
# Loading and checking mappings


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a ``.toml`` or ``.json`` mapping file and check it (``MappingConfigError`` if not usable)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise MappingConfigError(f"{p}: cannot read mapping file ({exc.strerror or exc})") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            obj = orjson.loads(data)
        elif suffix == ".toml":
            obj = tomllib.loads(data.decode("utf-8"))
        else:
            raise MappingConfigError(f"{p}: mapping files are .toml or .json, not {suffix or 'no suffix'!r}")
    except orjson.JSONDecodeError as exc:
        raise MappingConfigError(f"{p}: not valid JSON ({exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingConfigError(f"{p}: not valid TOML ({exc})") from None
    return check_mapping(obj, where=str(p))


def check_mapping(mapping: Any, where: str = "mapping") -> dict[str, Any]:
    """Validate a mapping dict; returns it with a preset's keys filled in."""
    if not isinstance(mapping, dict):
        raise MappingConfigError(f"{where}: expected a table of keys, got {type(mapping).__name__}")
    m = dict(mapping)
    preset = m.get("preset")
    if preset is not None:
        if preset not in PRESETS:
            raise MappingConfigError(f"{where}: key 'preset': unknown preset {preset!r}; presets: "
                                     f"{', '.join(sorted(PRESETS))}")
        m = {**PRESETS[preset][1], **m}
    for key in m:
        if key not in FIELDS and key not in OPTIONS:
            raise MappingConfigError(f"{where}: unknown key {key!r}{_did_you_mean(key)}. Post fields: "
                                     f"{', '.join(FIELDS)}. Options: {', '.join(OPTIONS)}")
    for key in FIELDS:
        if key in m and (not isinstance(m[key], str) or not m[key].strip()):
            raise MappingConfigError(f"{where}: key {key!r} must be a column name (text), got {m[key]!r}")
    _check_options(m, where)
    if "created_at" not in m:
        raise MappingConfigError(f"{where}: key 'created_at' is missing: every post needs a time column")
    cols = m.get("columns")
    if cols is not None:
        for key in FIELDS + ("platform_column",):
            if key in m and m[key] not in cols:
                raise MappingConfigError(f"{where}: key {key!r}: column {m[key]!r} is not one of the "
                                         f"columns {cols}")
    return m


def _check_options(m: dict[str, Any], where: str) -> None:
    def bad(key: str, why: str) -> MappingConfigError:
        return MappingConfigError(f"{where}: key {key!r}: {why}")

    fmt = m.setdefault("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise bad("format", f"must be 'csv' or 'jsonl', got {fmt!r}")
    platform = m.get("platform", "other")
    if platform not in PLATFORMS:
        raise bad("platform", f"unknown platform {platform!r}; platforms: {', '.join(PLATFORMS)}")
    for key in ("platform_column", "time_format", "list_separator", "name", "description"):
        if key in m and (not isinstance(m[key], str) or not m[key]):
            raise bad(key, f"must be non-empty text, got {m[key]!r}")
    if "time_format" in m and "%" not in m["time_format"]:
        raise bad("time_format", f"{m['time_format']!r} has no strptime directive such as %Y")
    if "delimiter" in m and (not isinstance(m["delimiter"], str) or len(m["delimiter"]) != 1):
        raise bad("delimiter", f"must be one character, got {m['delimiter']!r}")
    if "encoding" in m:
        try:
            codecs.lookup(str(m["encoding"]))
        except LookupError:
            raise bad("encoding", f"unknown encoding {m['encoding']!r}") from None
    if "header" in m and m["header"] not in (True, False, "auto"):
        raise bad("header", f"must be true, false or \"auto\", got {m['header']!r}")
    if "extract_entities" in m and not isinstance(m["extract_entities"], bool):
        raise bad("extract_entities", f"must be true or false, got {m['extract_entities']!r}")
    _check_columns_option(m, where)
    _check_kind_map(m, where)
    _check_lang_map(m, where)
    if fmt == "jsonl" and ("columns" in m or "header" in m or "delimiter" in m):
        key = next(k for k in ("columns", "header", "delimiter") if k in m)
        raise bad(key, "only applies to format = 'csv'")


def _check_columns_option(m: dict[str, Any], where: str) -> None:
    cols = m.get("columns")
    if cols is None:
        if m.get("header", True) is not True:
            raise MappingConfigError(f"{where}: key 'header': a file without a header row needs key 'columns' "
                                     "(the column names in order)")
        return
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) and c for c in cols):
        raise MappingConfigError(f"{where}: key 'columns': must be a list of column names, got {cols!r}")
    if len(set(cols)) != len(cols):
        raise MappingConfigError(f"{where}: key 'columns': names repeat: {cols}")


def _check_kind_map(m: dict[str, Any], where: str) -> None:
    km = m.get("kind_map")
    if km is None:
        return
    if not isinstance(km, dict):
        raise MappingConfigError(f"{where}: key 'kind_map': must be a table of value = kind, got {km!r}")
    if "kind" not in m:
        raise MappingConfigError(f"{where}: key 'kind_map' needs key 'kind' (the column it reads)")
    for value, kind in km.items():
        if kind not in KINDS:
            raise MappingConfigError(f"{where}: key 'kind_map': {value!r} = {kind!r} is not a kind; "
                                     f"kinds: {', '.join(KINDS)}")


def _check_lang_map(m: dict[str, Any], where: str) -> None:
    lm = m.get("lang_map")
    if lm is None:
        return
    if lm == "english-names":
        return
    if not isinstance(lm, dict) or not all(isinstance(v, str) for v in lm.values()):
        raise MappingConfigError(f"{where}: key 'lang_map': must be a table of value = language code "
                                 f"(or \"english-names\"), got {lm!r}")
    if "lang_declared" not in m:
        raise MappingConfigError(f"{where}: key 'lang_map' needs key 'lang_declared' (the column it reads)")


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, FIELDS + OPTIONS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def mapped_source(mapping: dict[str, Any] | str | Path) -> MappedSource:
    """A configured source for ``import_paths(..., source=...)``: from a mapping dict or file.
    A mapping with ``preset = "ira-csv"`` (or another preset) starts from that preset."""
    if isinstance(mapping, str | Path):
        mapping = load_mapping(mapping)
    m = check_mapping(mapping)
    cls = PRESETS[m["preset"]][0] if m.get("preset") else MappedSource
    return cls(m)


# ---------------------------------------------------------------------------------------------
# The mapped source


class MappedSource(Source):
    """Rows of a CSV (or objects of a JSON Lines file) mapped to posts column by column."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        m = check_mapping(mapping)
        self.mapping = m
        self.fmt: str = m["format"]
        self.name = m.get("name") or f"mapped-{self.fmt}"
        self.platform = m.get("platform", "other")
        self.description = m.get("description") or f"{self.fmt.upper()} with a column mapping"
        self.cols: dict[str, str] = {k: m[k] for k in FIELDS if k in m}
        self.platform_column: str | None = m.get("platform_column")
        self.time_format: str | None = m.get("time_format")
        self.kind_map: dict[str, str] = {str(k): v for k, v in (m.get("kind_map") or {}).items()}
        lm = m.get("lang_map")
        self.lang_map: dict[str, str] | None = LANGUAGE_CODES if lm == "english-names" else lm
        self.sep: str | None = m.get("list_separator")
        self.delimiter: str = m.get("delimiter", ",")
        self.encoding: str = m.get("encoding", "utf-8-sig")
        self.columns: list[str] | None = m.get("columns")
        self.header: bool | str = m.get("header", True)
        self.extract = m.get("extract_entities", True)
        self._get = _plain_get if self.fmt == "csv" else _path_get
        self._times: dict[Any, datetime] = {}

    def sniff(self, head: bytes, name: str) -> float:
        return 0.0  # used only with an explicit mapping

    # -- records ------------------------------------------------------------------------------

    def records(self, stream: IO[bytes]) -> Iterator[Record]:
        if self.fmt == "jsonl":
            return self._jsonl_records(stream)
        return self._csv_records(stream)

    def _jsonl_records(self, stream: IO[bytes]) -> Iterator[Record]:
        checked = False
        for rec in json_records(stream):
            if not checked and isinstance(rec.obj, dict):
                checked = True
                self._check_keys(rec.obj)
            yield rec

    def _check_keys(self, obj: dict[str, Any]) -> None:
        tops = {c.split(".", 1)[0] for c in self.cols.values()} | {c for c in self.cols.values()}
        if not tops & set(obj):
            raise UnreadableFile(f"mapping: none of the mapped keys ({', '.join(sorted(self.cols.values()))}) "
                                 f"is in the first record; its keys are: {', '.join(map(str, obj))}")

    def _csv_records(self, stream: IO[bytes]) -> Iterator[Record]:
        """One record per row, located by the physical line it starts on. Bytes that do not decode
        quarantine the row they are in (kept as found), and the rest of the file is read; damaged
        rows are handled by the shared reader (``_csvrows.CsvRows``)."""
        rows = CsvRows(stream, self.delimiter, self.encoding, universal=True)
        names: list[str] | None = None
        for r in rows:
            loc = f"line {r.line}"
            if r.cells is None:
                yield Record(loc, r.raw, None, r.error)
                continue
            row = r.cells
            if names is None and row and any(c.strip() for c in row):
                names, is_header = self._names(row)
                rows.width = len(names)
                if is_header:
                    row = []
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line, or the header
            assert names is not None
            if len(row) != len(names):
                yield Record(loc, r.raw, None, f"expected {len(names)} fields, found {len(row)}")
                continue
            obj = dict(zip(names, row, strict=True))
            try:
                raw = orjson.dumps(obj)
            except orjson.JSONEncodeError:  # undecodable bytes, kept as surrogates
                yield Record(loc, r.raw, None, f"not valid {self.encoding} text")
                continue
            if r.error:
                yield Record(loc, raw, None, r.error)
                continue
            yield Record(loc, raw, obj)

    def _names(self, first: list[str]) -> tuple[list[str], bool]:
        """Column names, and whether the first row is a header (not data)."""
        if self.columns is None:
            self.check_header(first)
            return first, True
        if self.header == "auto":
            return self.columns, not self._looks_like_data(first)
        return self.columns, bool(self.header)

    def _looks_like_data(self, row: list[str]) -> bool:
        assert self.columns is not None
        i = self.columns.index(self.cols["created_at"])
        if len(row) != len(self.columns):
            return False
        try:
            self._time(row[i], "created_at")
        except MappingError:
            return False
        return True

    def check_header(self, header: list[str]) -> None:
        """Raise ``UnreadableFile`` naming the mapped columns the file lacks, and its columns."""
        have = set(header)
        missing = [f"{col!r} (for {key})" for key, col in self.cols.items() if col not in have]
        if self.platform_column and self.platform_column not in have:
            missing.append(f"{self.platform_column!r} (for platform_column)")
        if missing:
            raise UnreadableFile(f"mapping: column {', '.join(missing)} not in the file; its columns are: "
                                 f"{', '.join(header)}")

    # -- mapping ------------------------------------------------------------------------------

    def map(self, obj: Any) -> Iterator[Draft]:
        if not isinstance(obj, dict):
            raise MappingError("expected a row (JSON object)")
        yield self.draft(obj)

    def draft(self, obj: dict[str, Any]) -> Draft:
        get, cols = self._get, self.cols
        d: Draft = {}
        for key in _IDS:
            if key in cols:
                d[key] = str_id(_nonempty(get(obj, cols[key])))
        for key in _STRS:
            if key in cols:
                v = _nonempty(get(obj, cols[key]))
                d[key] = None if v is None else str(v)
        if d.get("author_handle"):
            d["author_handle"] = d["author_handle"].lstrip("@") or None
        d["created_at"] = self._time(get(obj, cols["created_at"]), "created_at")
        if "engagement_at" in cols:
            v = _nonempty(get(obj, cols["engagement_at"]))
            d["engagement_at"] = None if v is None else self._time(v, "engagement_at")
        for key in _COUNTS:
            if key in cols:
                d[key] = to_int(get(obj, cols[key]))
        if "lang_declared" in cols:
            d["lang_declared"] = self._lang(get(obj, cols["lang_declared"]))
        self._lists(obj, d)
        if self.platform_column:
            d["platform"] = self._platform(get(obj, self.platform_column))
        d["kind"] = self.kind_of(obj, d)
        d["raw"] = obj
        return d

    def _lists(self, obj: dict[str, Any], d: Draft) -> None:
        get, cols, text = self._get, self.cols, d.get("text")
        if "urls" in cols:
            d["urls"] = [(u, None) for u in self._list(get(obj, cols["urls"]))]
        elif self.extract:
            d["urls"] = [(u, None) for u in urls_in(text)]
        if "hashtags" in cols:
            d["hashtags"] = [h.lstrip("#") for h in self._list(get(obj, cols["hashtags"]))]
        elif self.extract:
            d["hashtags"] = hashtags_in(text)
        if "mentions" in cols:
            d["mentions"] = [(None, h.lstrip("@")) for h in self._list(get(obj, cols["mentions"]))]
        elif self.extract:
            d["mentions"] = [(None, h) for h in mentions_in(text)]
        if "media_types" in cols:
            d["media_types"] = self._list(get(obj, cols["media_types"]))

    def kind_of(self, obj: dict[str, Any], d: Draft) -> str:
        if "kind" in self.cols:
            v = _nonempty(self._get(obj, self.cols["kind"]))
            if v is not None:
                key = _text_key(v)
                kind = self.kind_map.get(key) or (key if key in KINDS else None)
                if kind is None:
                    raise MappingError(f"unknown kind value ({shape(key)}) in column {self.cols['kind']!r} "
                                       f"(map it with kind_map)")
                return kind
        if d.get("reposted_id"):
            return "repost"
        if d.get("quoted_id"):
            return "quote"
        if d.get("parent_id"):
            return "reply"
        return "post"

    def _time(self, v: Any, what: str) -> datetime:
        cacheable = isinstance(v, str | int | float)
        if cacheable:
            hit = self._times.get(v)
            if hit is not None:
                return hit
        if self.time_format and isinstance(v, str) and v.strip():
            try:
                dt = datetime.strptime(v.strip(), self.time_format)
            except ValueError:
                raise MappingError(f"bad {what}: {shape(v)} that does not match time_format "
                                   f"{self.time_format!r}") from None
            dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        else:
            dt = parse_time(v, what)
        if cacheable:
            if len(self._times) > 100_000:
                self._times.clear()
            self._times[v] = dt
        return dt

    def _lang(self, v: Any) -> str | None:
        v = _nonempty(v)
        if v is None:
            return None
        if self.lang_map is not None:
            return self.lang_map.get(str(v)) or None
        return str(v)

    def _platform(self, v: Any) -> str:
        v = _nonempty(v)
        if v is None:
            return self.platform
        p = str(v).strip().lower()
        if p not in PLATFORMS:
            raise MappingError(f"unknown platform ({shape(v)}) in column {self.platform_column!r}")
        return p

    def _list(self, v: Any) -> list[str]:
        if v is None or v == "":
            return []
        if isinstance(v, list):
            return [str(x) for x in v if x is not None and x != ""]
        s = str(v).strip()
        if s.startswith("[") and s.endswith("]"):
            parsed = _literal_list(s)
            if parsed is not None:
                return parsed
        parts = s.split(self.sep) if self.sep else s.split()
        return [p.strip() for p in parts if p.strip()]


def _nonempty(v: Any) -> Any:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    return v


def _text_key(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _literal_list(s: str) -> list[str] | None:
    """``["a", "b"]`` (JSON) or ``['a', 'b']`` (Python, as pandas writes lists)."""
    try:
        val = orjson.loads(s)
    except orjson.JSONDecodeError:
        try:
            val = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    if not isinstance(val, list | tuple):
        return None
    return [str(x) for x in val if x is not None and x != ""]


def _plain_get(obj: dict[str, Any], col: str) -> Any:
    return obj.get(col)


def _path_get(obj: dict[str, Any], col: str) -> Any:
    """``user.screen_name`` walks nested objects (a key with a dot in it is tried first)."""
    if col in obj or "." not in col:
        return obj.get(col)
    cur: Any = obj
    for part in col.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


# ---------------------------------------------------------------------------------------------
# Presets


class PresetSource(MappedSource):
    """A mapping for a known format, detected by its exact header row."""

    exact_header: tuple[str, ...] = ()

    def sniff(self, head: bytes, name: str) -> float:
        first = _first_row(head)
        return 0.95 if first is not None and tuple(first) == self.exact_header else 0.0


def _first_row(head: bytes) -> list[str] | None:
    text = head[:8192].decode("utf-8", "replace").lstrip("\ufeff")
    line = text.split("\n", 1)[0].rstrip("\r")
    if not line:
        return None
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None


IRA_HEADER = ("author_id", "content", "region", "language", "publish_date", "harvested_date", "following",
              "followers", "updates", "post_type", "retweet")
IRA_MAPPING: dict[str, Any] = {
    "name": "ira-csv",
    "description": "IRA troll-tweet CSV (FiveThirtyEight data re-split by author: author_id is the handle)",
    "platform": "twitter",
    "author_handle": "author_id",
    "text": "content",
    "lang_declared": "language",
    "lang_map": "english-names",
    "created_at": "publish_date",
    "kind": "post_type",
}


class IraCsv(PresetSource):
    """No tweet ids: the pipeline keys each post by a hash of (platform, author, time, text), so rows
    repeated in the data (same author, minute and text) become one post."""

    exact_header = IRA_HEADER

    def kind_of(self, obj: dict[str, Any], d: Draft) -> str:
        pt = obj.get("post_type")
        if pt == "Q":
            return "quote"
        if pt == "R" or obj.get("retweet") == "1":
            return "repost"
        return "post"


QUT_COLUMNS = ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"]
QUT_MAPPING: dict[str, Any] = {
    "name": "qut-csv",
    "description": "QUT coordination-network-toolkit CSV (8 columns by position, header row)",
    "platform": "other",
    "columns": QUT_COLUMNS,
    "header": "auto",
    "post_id": "message_id",
    "author_id": "user_id",
    "author_handle": "username",
    "reposted_id": "repost_id",
    "parent_id": "reply_id",
    "text": "message",
    "created_at": "timestamp",
    "urls": "urls",
    "list_separator": " ",
}


class QutCsv(PresetSource):
    """The toolkit reads columns by position and always skips the first row as a header; here the
    first row is kept when it is data (its timestamp parses), so a headerless file loses nothing."""

    exact_header = tuple(QUT_COLUMNS)


PRESETS: dict[str, tuple[Callable[[dict[str, Any]], MappedSource], dict[str, Any]]] = {
    "ira-csv": (IraCsv, IRA_MAPPING),
    "qut-csv": (QutCsv, QUT_MAPPING),
}

SOURCES = [IraCsv(IRA_MAPPING), QutCsv(QUT_MAPPING)]
