"""``hubbub import``: files -> sources -> rows -> store, one transaction per file.

Guarantees (tested):
- every record read ends as imported, duplicate, quarantined or skipped (not a post), and the
  per-file counts add up;
- a file that cannot be read gets one clear message and the other files go on;
- a file is imported in one transaction, so a killed import leaves no trace of the file it was
  in, and running it again gives the store one clean run gives;
- importing the same data again adds nothing (posts are keyed by platform + post id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hubbub.ingest.rows import RowBuilder
from hubbub.privacy import Pseudonymiser, Sealer
from hubbub.sources.base import Bad, MappingError, Record, Source
from hubbub.sources.files import (
    InputFile,
    UnreadableFile,
    find_inputs,
    fingerprint,
    open_input,
)
from hubbub.sources.registry import detect, get_source
from hubbub.store.store import Store

BATCH = 20_000
PROGRESS_EVERY = 2_000
MIN_CONFIDENCE = 0.3

Progress = Callable[[str, int], None]


@dataclass
class FileResult:
    path: str
    format: str | None = None
    status: str = "ok"  # ok | partial | failed | already-imported
    read: int = 0
    imported: int = 0
    duplicate: int = 0
    quarantined: int = 0
    skipped: int = 0
    error: str | None = None

    def adds_up(self) -> bool:
        return self.read == self.imported + self.duplicate + self.quarantined + self.skipped


@dataclass
class ImportSummary:
    dataset: str
    files: list[FileResult] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def failed_files(self) -> int:
        return sum(1 for f in self.files if f.status in ("failed", "partial"))

    def exit_code(self) -> int:
        """0 all imported; 3 some records quarantined; 4 some file unreadable (or cut short)."""
        if self.failed_files:
            return 4
        if self.total("quarantined"):
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        totals = {k: self.total(k) for k in ("read", "imported", "duplicate", "quarantined", "skipped")}
        return {
            "dataset": self.dataset,
            "files": [asdict(f) for f in self.files],
            "totals": totals | {"files": len(self.files), "failed_files": self.failed_files},
            "exit_code": self.exit_code(),
        }


def import_paths(
    store: Store,
    paths: list[Path],
    dataset: str,
    fmt: str | None = None,
    keep_handles: bool = False,
    progress: Progress | None = None,
    source: Source | None = None,
    force: bool = False,
) -> ImportSummary:
    """Import files and folders into ``dataset``. ``fmt`` forces one format for every file;
    ``source`` passes a configured source object (e.g. a CSV with a column mapping). A file
    already imported into the dataset (same sha256) is skipped unless ``force``."""
    if not dataset or not dataset.strip():
        raise ValueError("dataset name must not be empty")
    forced = source or (get_source(fmt) if fmt else None)
    secret = store.ws.secret()
    pseudo = Pseudonymiser(secret)
    sealer = Sealer(secret)
    store.ensure_dataset(dataset, keep_handles)
    summary = ImportSummary(dataset)
    for f in find_inputs(paths):
        summary.files.append(
            _import_file(store, f, dataset, forced, keep_handles, pseudo, sealer, progress, force)
        )
    return summary


def _import_file(
    store: Store,
    f: InputFile,
    dataset: str,
    forced: Source | None,
    keep_handles: bool,
    pseudo: Pseudonymiser,
    sealer: Sealer,
    progress: Progress | None,
    force: bool = False,
) -> FileResult:
    res = FileResult(f.display)
    try:
        fp = fingerprint(f)
    except OSError as exc:
        res.status, res.error = "failed", f"cannot read: {exc.strerror or exc}"
        return res
    import_id = hashlib.sha256(f"{dataset}\x00{fp}".encode()).hexdigest()[:20]
    if not force and store.con.execute("SELECT 1 FROM files WHERE import_id = ?", [import_id]).fetchall():
        res.status = "already-imported"  # same bytes, same dataset: nothing new can come of it
        return res
    try:
        with open_input(f) as stream:
            try:
                head = stream.peek(65536)[:65536]
            except (OSError, EOFError, ValueError) as exc:
                raise UnreadableFile(f"cannot decompress: {exc}") from None
            if not head.strip():
                raise UnreadableFile("empty file")
            src = forced
            if src is None:
                src, conf = detect(head, f.name)
                if src is None or conf < MIN_CONFIDENCE:
                    raise UnreadableFile(_unknown_format(head))
            res.format = src.name
            with store.transaction():
                _read_into(store, src, stream, res, f, dataset, import_id, keep_handles,
                           pseudo, sealer, progress)
                _record_file(store, res, dataset, fp, import_id)
    except UnreadableFile as exc:
        res.status, res.error = "failed", str(exc)
    return res


def _read_into(
    store: Store, src: Source, stream: Any, res: FileResult, f: InputFile, dataset: str,
    import_id: str, keep_handles: bool, pseudo: Pseudonymiser, sealer: Sealer,
    progress: Progress | None,
) -> None:
    rows = RowBuilder(pseudo, dataset, f.display, import_id, keep_handles, src.platform)
    quarantine: list[list[Any]] = []

    def flush() -> None:
        if len(rows):
            n = len(rows)
            new = store.insert_posts(rows.take())
            res.imported += new
            res.duplicate += n - new
        if quarantine:
            store.con.executemany(
                """INSERT INTO quarantine SELECT ?, ?, ?, ?, ?, ?, ?, FALSE
                WHERE NOT EXISTS (SELECT 1 FROM quarantine WHERE import_id = ? AND locator = ?)""",
                [q + [q[1], q[3]] for q in quarantine],
            )
            res.quarantined += len(quarantine)
            quarantine.clear()
        if progress:
            progress(f.display, res.read)

    def bad(locator: str, raw: bytes, reason: str) -> None:
        res.read += 1
        quarantine.append([dataset, import_id, f.display, locator, src.name, reason, sealer.seal(raw)])

    records: Iterable[Record] = src.records(stream)
    it = iter(records)
    last = "start of file"
    reported = 0
    while True:
        try:
            rec = next(it)
        except StopIteration:
            break
        except (EOFError, OSError, ValueError) as exc:
            # Truncated or corrupt compressed data, or undecodable text mid-file: keep what was
            # read, report where it stopped.
            res.status = "partial"
            res.error = f"stopped after {last}: {_describe(exc)}"
            break
        last = rec.locator
        if rec.obj is None:
            bad(rec.locator, rec.raw, rec.error or "unreadable record")
        else:
            _map_record(src, rec, rows, res, bad)
        if len(rows) >= BATCH or len(quarantine) >= BATCH:
            flush()
        elif progress and res.read - reported >= PROGRESS_EVERY:
            reported = res.read
            progress(f.display, res.read)
    flush()


def _map_record(
    src: Source, rec: Record, rows: RowBuilder, res: FileResult, bad: Callable[[str, bytes, str], None]
) -> None:
    """Map one record into ``rows``; every item ends counted as read and as one outcome."""
    try:
        items = list(src.map(rec.obj))
    except MappingError as exc:
        bad(rec.locator, rec.raw, str(exc))
        return
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        bad(rec.locator, rec.raw, f"unexpected record shape: {type(exc).__name__}: {exc}")
        return
    if not items:
        res.read += 1
        res.skipped += 1  # a record that holds no post (user object, count bucket, ...)
        return
    for item in items:
        if isinstance(item, Bad):
            loc = f"{rec.locator} {item.locator}".strip()
            bad(loc, orjson.dumps(item.raw, option=orjson.OPT_NON_STR_KEYS, default=str), item.reason)
            continue
        try:
            rows.add(item, rec.locator)
        except MappingError as exc:
            loc = f"{rec.locator} {item.get('locator') or ''}".strip()
            bad(loc, orjson.dumps(item.get("raw"), option=orjson.OPT_NON_STR_KEYS, default=str), str(exc))
            continue
        res.read += 1


def _record_file(store: Store, res: FileResult, dataset: str, fp: str, import_id: str) -> None:
    store.con.execute(
        """INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
        [import_id, dataset, fp, res.path, res.format, res.status, res.read, res.imported,
         res.duplicate, res.quarantined, res.error],
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed data ends early (truncated file)"
    return f"{type(exc).__name__}: {exc}"


def _unknown_format(head: bytes) -> str:
    sample = head[:4096]
    if b"\x00" in sample or sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 10:
        return "binary data, not a supported format (use --format to force one)"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text and not a supported format (use --format to force one)"
    return "format not recognised (use --format; `hubbub formats` lists them)"


@dataclass
class RetryResult:
    tried: int = 0
    resolved: int = 0
    still_quarantined: int = 0
    imported: int = 0
    duplicate: int = 0


def retry_quarantined(
    store: Store, dataset: str | None = None, fmt: str | None = None, source: Source | None = None
) -> RetryResult:
    """Map quarantined records again (after a mapping fix, or with another ``fmt``/``source``).
    A record whose items now all map is marked resolved; the others stay, with the new reason."""
    forced = source or (get_source(fmt) if fmt else None)
    secret = store.ws.secret()
    pseudo, sealer = Pseudonymiser(secret), Sealer(secret)
    rows_q = store.query(
        """SELECT rowid AS rid, dataset, import_id, source_file, locator, format, raw_sealed
        FROM quarantine WHERE NOT resolved AND (? IS NULL OR dataset = ?) ORDER BY rowid""",
        [dataset, dataset],
    ).to_pylist()
    out = RetryResult()
    with store.transaction():
        for q in rows_q:
            out.tried += 1
            src = forced or get_source(q["format"])
            keeps = bool(store.dataset_keeps_handles(q["dataset"]))
            rows = RowBuilder(pseudo, q["dataset"], q["source_file"], q["import_id"], keeps, src.platform)
            res = FileResult(q["source_file"], src.name)
            raw = sealer.open(q["raw_sealed"])
            reasons: list[str] = []
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                reasons.append(f"invalid JSON ({exc})")
            else:
                _map_record(src, Record(q["locator"], raw, obj), rows, res,
                            lambda loc, _raw, why: reasons.append(f"{loc}: {why}"))
            if reasons:
                out.still_quarantined += 1
                store.con.execute("UPDATE quarantine SET reason = ? WHERE rowid = ?", ["; ".join(reasons), q["rid"]])
                continue
            n = len(rows)
            new = store.insert_posts(rows.take()) if n else 0
            out.imported += new
            out.duplicate += n - new
            out.resolved += 1
            store.con.execute("UPDATE quarantine SET resolved = TRUE, format = ? WHERE rowid = ?",
                              [src.name, q["rid"]])
    return out
