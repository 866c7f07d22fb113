"""CSV files as records, for sources that read a CSV export of one exact shape, and the row
reader every CSV source shares (``CsvRows``).

One record per row, located by the physical line the row starts on (``line N``; a quoted field
may span several lines). ``raw`` is the row as a JSON object (``{header: value}``), so a
quarantined row can be tried again by parsing ``raw`` as JSON and calling ``map``; ``obj`` is that
dict. A row with another number of fields than the header, or with bytes that are not UTF-8,
becomes a record with ``obj=None`` and an ``error``; its ``raw`` is then the row's bytes as found.

Decoding is per row: the file is read as bytes lines and decoded with ``surrogateescape``, so a
bad byte sequence quarantines the one row it is in and the rest of the file is still read.

Damage the reader repairs (docs/schema.md, *Bad records*):
- a stray ``"`` that opens a quoted field which never closes (or closes rows later) would swallow
  the following rows into one: when a row spans several lines and one of the lines it swallowed
  is a whole row on its own, the first line is quarantined ("unbalanced quote") and the lines
  after it are read again as rows;
- a last row without a line end (a file cut short) is quarantined with its values (``raw`` the
  row as JSON, so ``quarantine retry`` imports it if it is whole after all);
- a line over ``max_record_bytes()`` is quarantined without being held in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import orjson

from hubbub.sources.base import Record, TooLong, bounded_lines, too_long_reason

NO_LINE_END = "last row has no line end (the file may be cut short)"
UNBALANCED_QUOTE = "unbalanced quote: the row swallowed the rows after it (they are read on their own)"


class _LineTooLong(Exception):
    pass


class _Lines:
    """Iterator of decoded lines that remembers the bytes read since the last ``take()``; lines
    can be pushed back to be read again."""

    def __init__(self, lines: Iterator[bytes], encoding: str) -> None:
        self._it = lines
        self._enc = encoding
        self._back: list[bytes] = []
        self.buf: list[bytes] = []
        self.count = 0  # physical lines read so far
        self._ahead: bytes | None = None
        self.at_end = False  # the line last read is the stream's last

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            line = self._back.pop()
        else:
            line = self._ahead if self._ahead is not None else next(self._it)
            self._ahead = next(self._it, None)  # one line ahead, to know which line is the last
            if self.count == 0 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
        self.at_end = not self._back and self._ahead is None
        self.count += 1
        self.buf.append(line)
        if isinstance(line, TooLong):
            raise _LineTooLong
        return line.decode(self._enc, "surrogateescape")

    def push_back(self, lines: list[bytes]) -> None:
        self._back.extend(reversed(lines))
        self.count -= len(lines)

    def take(self) -> list[bytes]:
        lines = list(self.buf)
        self.buf.clear()
        return lines


@dataclass(slots=True)
class Row:
    line: int  # the physical line the row starts on
    raw: bytes  # the row's bytes as found
    cells: list[str] | None  # None when the row could not be read
    error: str | None = None  # why the row is quarantined (cells kept when they were read)


class CsvRows:
    """Rows of a CSV stream (see the module docstring). Set ``width`` (the header's number of
    fields) once the header is known: the stray-quote repair needs it. A line counts as a whole
    row when it parses strictly on its own into ``width`` fields with a value in every column that
    all rows before it had one in (before the first whole row: in most columns)."""

    def __init__(self, stream: IO[bytes], delimiter: str = ",", encoding: str = "utf-8",
                 universal: bool = False) -> None:
        enc = codecs.lookup(encoding).name
        if enc == "utf-8-sig":
            enc = "utf-8"
        if _ascii_compatible(enc):
            lines: Iterator[bytes] = bounded_lines(stream)
            if universal:  # a lone CR ends a line too, as in Python's text files
                lines = _split_cr(lines)
        else:  # UTF-16 and the like: newline bytes differ; decoded by the text layer
            text = io.TextIOWrapper(stream, encoding=enc, errors="surrogateescape", newline="")
            lines = (ln.encode("utf-8", "surrogateescape") for ln in text)
            enc = "utf-8"
        self.encoding = enc
        self._lines = _Lines(lines, enc)
        self._delimiter = delimiter
        self._reader = csv.reader(self._lines, delimiter=delimiter)
        self.width: int | None = None
        self._filled: list[bool] | None = None  # columns every whole row so far had a value in

    def __iter__(self) -> Iterator[Row]:
        lines = self._lines
        while True:
            start = lines.count + 1
            error: str | None = None
            try:
                cells: list[str] | None = next(self._reader)
            except StopIteration:
                return
            except _LineTooLong:
                got = lines.take()
                if len(got) > 1 and self._swallowed(got[1:-1]):
                    lines.push_back(got[1:])
                    yield Row(start, _found(got[:1]), None, UNBALANCED_QUOTE)
                    continue
                yield Row(start, _found(got[-1:])[:4096], None, too_long_reason())
                continue
            except csv.Error as exc:
                cells, error = None, f"unreadable CSV row ({exc})"
            got = lines.take()
            whole = cells is not None and len(cells) == self.width
            if len(got) > 1 and self._swallowed(got[1:2] if whole else got[1:]):
                lines.push_back(got[1:])
                yield Row(start, _found(got[:1]), None, UNBALANCED_QUOTE)
                continue
            if error is None and got and not got[-1].endswith(b"\n") and lines.at_end and cells:
                error = NO_LINE_END
            if whole and error is None:
                self._seen(cells)  # type: ignore[arg-type]
            yield Row(start, _found(got), cells, error)

    def _seen(self, cells: list[str]) -> None:
        filled = [bool(c.strip()) for c in cells]
        self._filled = filled if self._filled is None else [a and b for a, b in zip(self._filled, filled, strict=True)]

    def _swallowed(self, lines: list[bytes]) -> bool:
        """Whether one of these lines (after the first of a multi-line row) is a whole row on its
        own. A row that read as whole is only split when the line right after its first is one."""
        if not self.width or self.width < 3:
            return False
        for line in lines:
            try:
                cells = next(csv.reader([line.decode(self.encoding, "surrogateescape").rstrip("\r\n")],
                                        delimiter=self._delimiter, strict=True))
            except (csv.Error, StopIteration):
                continue
            # a whole row: as many fields as the header, and a value wherever every row so far had one
            if len(cells) != self.width:
                continue
            if self._filled is None:  # no whole row seen yet: most fields must have a value
                if 2 * sum(1 for c in cells if c.strip()) > self.width:
                    return True
            elif all(c.strip() or not f for c, f in zip(cells, self._filled, strict=True)):
                return True
        return False


def _split_cr(lines: Iterator[bytes]) -> Iterator[bytes]:
    for line in lines:
        if b"\r" not in line.rstrip(b"\r\n") or isinstance(line, TooLong):
            yield line
            continue
        parts = line.replace(b"\r\n", b"\n").split(b"\r")
        for p in parts[:-1]:
            yield p + b"\r"
        if parts[-1]:
            yield parts[-1].replace(b"\n", b"\r\n") if line.endswith(b"\r\n") else parts[-1]


def _found(lines: list[bytes]) -> bytes:
    return b"".join(lines).rstrip(b"\r\n")


def _ascii_compatible(enc: str) -> bool:
    try:
        return '\n,;\t"'.encode(enc) == b'\n,;\t"' and not enc.startswith(("utf-16", "utf-32"))
    except (UnicodeError, LookupError):
        return False


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
    rows = CsvRows(stream)
    header: list[str] | None = None
    for r in rows:
        loc = f"line {r.line}"
        if r.cells is None:
            yield Record(loc, r.raw, None, r.error)
            continue
        row = r.cells
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if header is None:
            header = [_clean(c).strip() for c in row]
            rows.width = len(header)
            continue
        if len(row) != len(header):
            yield Record(loc, r.raw, None, f"expected {len(header)} fields, found {len(row)}")
            continue
        if not r.raw.isascii() and not _is_text(row):
            yield Record(loc, r.raw, None, "not valid UTF-8 text")
            continue
        obj = dict(zip(header, row, strict=True))
        if r.error:
            yield Record(loc, orjson.dumps(obj), None, r.error)
            continue
        yield Record(loc, orjson.dumps(obj), obj)


def _is_text(row: list[str]) -> bool:
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: an undecodable byte kept by surrogateescape
        return False
    return True


def _clean(s: str) -> str:
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
