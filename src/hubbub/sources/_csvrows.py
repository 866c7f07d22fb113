"""CSV files as records, for sources that read a CSV export of one exact shape.

One record per row, located by the physical line the row starts on (``line N``; a quoted field
may span several lines). ``raw`` is the row as a JSON object (``{header: value}``), so a
quarantined row can be tried again by parsing ``raw`` as JSON and calling ``map``; ``obj`` is that
dict. A row with another number of fields than the header, or with bytes that are not UTF-8,
becomes a record with ``obj=None`` and an ``error``; its ``raw`` is then the row's bytes as found.

Decoding is per row: the file is read as bytes lines and decoded with ``surrogateescape``, so a
bad byte sequence quarantines the one row it is in and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from typing import IO

import orjson

from hubbub.sources.base import Record


class _Lines:
    """Iterator of decoded lines that remembers the bytes read since the last ``take()``."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._it = iter(stream)
        self._buf: list[bytes] = []
        self.count = 0  # physical lines read so far

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        if self.count == 0 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        self.count += 1
        self._buf.append(line)
        return line.decode("utf-8", "surrogateescape")

    def take(self) -> bytes:
        data = b"".join(self._buf)
        self._buf.clear()
        return data.rstrip(b"\r\n")


def first_line_fields(head: bytes) -> list[str]:
    """The header cells of a CSV file start (for sniffing); [] when it does not parse."""
    text = head[:8192].decode("utf-8", "replace").lstrip("\ufeff")
    line = text.split("\n", 1)[0].rstrip("\r")
    try:
        return [c.strip() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return []


def csv_records(stream: IO[bytes]) -> Iterator[Record]:
    """Rows of a CSV file with a header line, as records (see the module docstring)."""
    lines = _Lines(stream)
    reader = csv.reader(lines)
    header: list[str] | None = None
    while True:
        start = lines.count + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(f"line {start}", lines.take(), None, f"unreadable CSV row ({exc})")
            continue
        raw = lines.take()
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if header is None:
            header = [_clean(c).strip() for c in row]
            continue
        loc = f"line {start}"
        if len(row) != len(header):
            yield Record(loc, raw, None, f"expected {len(header)} fields, found {len(row)}")
            continue
        if not raw.isascii() and not _is_text(row):
            yield Record(loc, raw, None, "not valid UTF-8 text")
            continue
        obj = dict(zip(header, row, strict=True))
        yield Record(loc, orjson.dumps(obj), obj)


def _is_text(row: list[str]) -> bool:
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: an undecodable byte kept by surrogateescape
        return False
    return True


def _clean(s: str) -> str:
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
