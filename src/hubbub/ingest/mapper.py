"""Records -> (Arrow rows, quarantine rows, counts). Runs in the importing process or in worker
processes (it never touches the store, so it imports no database code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from hubbub.ingest.rows import RowBuilder
from hubbub.privacy import Pseudonymiser, Sealer
from hubbub.sources.base import Bad, Record, Source, item_reason, parse_line
from hubbub.sources.registry import get_source


@dataclass
class Chunk:
    rows: pa.Table | None
    quarantine: list[list[Any]] = field(default_factory=list)
    read: int = 0
    skipped: int = 0
    position: int = 0  # where in the file this chunk ends (line number, or records consumed)


@dataclass
class FileJob:
    """What a mapper needs to know about the file it maps (picklable)."""

    source: Source
    dataset: str
    source_file: str
    import_id: str
    keep_handles: bool


class Mapper:
    def __init__(self, job: FileJob, pseudo: Pseudonymiser, sealer: Sealer) -> None:
        self.job = job
        self.sealer = sealer
        self.rows = RowBuilder(pseudo, job.dataset, job.source_file, job.import_id, job.keep_handles,
                               job.source.platform)
        self.quarantine: list[list[Any]] = []
        self.read = 0
        self.skipped = 0

    def pending(self) -> int:
        return len(self.rows) + len(self.quarantine)

    def bad(self, locator: str, raw: bytes, reason: str) -> None:
        self.read += 1
        j = self.job
        self.quarantine.append([j.dataset, j.import_id, j.source_file, locator, j.source.name, reason,
                                self.sealer.seal(raw)])

    def feed(self, rec: Record) -> None:
        """Map one record; every item ends counted as read and as exactly one outcome."""
        if rec.obj is None:
            self.bad(rec.locator, rec.raw, rec.error or "unreadable record")
            return
        try:
            items = list(self.job.source.map(rec.obj))
        except Exception as exc:  # noqa: BLE001 - one record's shape must never stop an import
            self.bad(rec.locator, rec.raw, item_reason(exc))
            return
        if not items:
            self.read += 1
            self.skipped += 1  # a record that holds no post (user object, count bucket, ...)
            return
        for item in items:
            if isinstance(item, Bad):
                loc = f"{rec.locator} {item.locator}".strip()
                self.bad(loc, _dumps(item.raw, rec.raw), item.reason)
                continue
            try:
                self.rows.add(item, rec.locator)
            except Exception as exc:  # noqa: BLE001 - MappingError, or a shape no check foresaw
                reason = item_reason(exc)
                sub = item.get("locator") if isinstance(item, dict) else None
                loc = f"{rec.locator} {sub or ''}".strip()
                self.bad(loc, _dumps(item.get("raw") if isinstance(item, dict) else None, rec.raw), reason)
                continue
            self.read += 1

    def take(self, position: int = 0) -> Chunk:
        chunk = Chunk(self.rows.take() if len(self.rows) else None, self.quarantine, self.read, self.skipped,
                      position)
        self.quarantine = []
        self.read = self.skipped = 0
        return chunk


def _dumps(obj: Any, fallback: bytes) -> bytes:
    """An item's JSON for the quarantine; the whole record's bytes when the item has none or
    cannot be written as JSON (nested too deep, an integer beyond 64 bits)."""
    if obj is None:
        return fallback
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS, default=str)
    except orjson.JSONEncodeError:
        return fallback


# -- worker processes -------------------------------------------------------------------------
_W: dict[str, Any] = {}


def worker_init(secret: bytes) -> None:
    _W["pseudo"] = Pseudonymiser(secret)
    _W["sealer"] = Sealer(secret)


def map_lines(job: FileJob, lines: list[tuple[int, bytes]], pseudo: Pseudonymiser, sealer: Sealer,
              position: int) -> Chunk:
    """Map a chunk of JSON lines (line number, bytes) of one file."""
    m = Mapper(job, pseudo, sealer)
    for lineno, line in lines:
        for rec in parse_line(lineno, line):
            m.feed(rec)
    return m.take(position)


def worker_map(args: tuple[dict[str, Any], list[tuple[int, bytes]], int]) -> Chunk:
    jobd, lines, position = args
    job = FileJob(get_source(jobd["source"]), jobd["dataset"], jobd["source_file"], jobd["import_id"],
                  jobd["keep_handles"])
    return map_lines(job, lines, _W["pseudo"], _W["sealer"], position)
