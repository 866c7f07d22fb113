"""``hubbub import``: files -> sources -> rows -> store, in batches committed with the position reached.

Guarantees (tested):
- every record read ends as imported, duplicate, quarantined or skipped (not a post), and the
  per-file counts add up;
- a file that cannot be read gets one clear message and the other files go on;
- each batch is committed with the position it reached in the file, so a killed import resumes
  there, and running it again gives the store one clean run gives;
- importing the same data again adds nothing (posts are keyed by platform + post id).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from hubbub.ingest.mapper import Chunk, FileJob, Mapper, map_lines, worker_init, worker_map
from hubbub.parallel import in_order, worker_pool
from hubbub.privacy import Pseudonymiser, Sealer
from hubbub.sources.base import Record, Source
from hubbub.sources.files import (
    InputFile,
    UnreadableFile,
    find_inputs,
    fingerprint,
    open_input,
    size_of,
)
from hubbub.sources.registry import detect, get_source
from hubbub.store.store import Store

PROGRESS_EVERY = 5_000  # records per chunk when mapping in this process
# Posts per committed batch (memory is bounded by this; HUBBUB_IMPORT_BATCH tunes it).
INSERT_ROWS = int(os.environ.get("HUBBUB_IMPORT_BATCH", "50000"))
MIN_CONFIDENCE = 0.3
NOT_POSTS = "not-posts"  # status of a file in a folder that holds no posts of a known format
UNRECOGNISED = "format not recognised (use --format; `hubbub formats` lists them)"

Progress = Callable[[str, int], None]


@dataclass
class FileResult:
    path: str
    format: str | None = None
    status: str = "ok"  # ok | partial | failed | already-imported | not-posts
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
            "totals": totals | {"files": len(self.files), "failed_files": self.failed_files,
                                "not_posts_files": sum(1 for f in self.files if f.status == NOT_POSTS)},
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
    workers: int | None = None,
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
    pool = _LazyPool(secret, workers if workers is not None else (os.cpu_count() or 1))
    try:
        for f in find_inputs(paths):
            summary.files.append(
                _import_file(store, f, dataset, forced, keep_handles, pseudo, sealer, progress, force, pool)
            )
    finally:
        pool.close()
    return summary


class _LazyPool:
    """Starts worker processes the first time a file is big enough to be worth them."""

    MIN_BYTES = 16 << 20

    def __init__(self, secret: bytes, workers: int) -> None:
        self.secret = secret
        self.workers = workers
        self.pool: _Pool | None = None

    def get(self, f: InputFile) -> _Pool | None:
        if self.workers < 2 or size_of(f) < self.MIN_BYTES:
            return None
        if self.pool is None:
            self.pool = _Pool(self.secret, self.workers)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


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
    pool: _LazyPool | None = None,
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
                    why = _unknown_format(head)
                    if f.in_folder and why == UNRECOGNISED:
                        # a folder's other text files (the IRA set's authors*.csv): not a failure; binary
                        # or non-UTF-8 files stay failures (they may be posts that cannot be read)
                        res.status, res.error = NOT_POSTS, "not posts, skipped: no known post format (use --format)"
                        return res
                    raise UnreadableFile(why)
            res.format = src.name
            job = FileJob(src, dataset, f.display, import_id, keep_handles)
            skip = _resume(store, import_id, res)
            if _line_based(src) and _first_line_is_json(stream):
                use_pool = pool.get(f) if pool is not None else None
                chunks = _map_lines(job, stream, res, skip, pseudo, sealer, use_pool)
            else:
                chunks = _map_records(job, stream, res, skip, pseudo, sealer)
            _write(store, chunks, res, import_id, progress)
            with store.transaction():
                _record_file(store, res, dataset, fp, import_id)
                store.con.execute("DELETE FROM import_progress WHERE import_id = ?", [import_id])
    except UnreadableFile as exc:
        res.status, res.error = "failed", str(exc)
    return res


def _resume(store: Store, import_id: str, res: FileResult) -> int:
    """Where an interrupted import of this file stopped (0 for a new one); restores its counts."""
    rows = store.con.execute(
        "SELECT position, read, imported, duplicate, quarantined, skipped FROM import_progress WHERE import_id = ?",
        [import_id]).fetchall()
    if not rows:
        return 0
    position, res.read, res.imported, res.duplicate, res.quarantined, res.skipped = rows[0]
    return int(position)


def _write(store: Store, chunks: Iterable[Chunk], res: FileResult, import_id: str,
           progress: Progress | None) -> None:
    """Commit batches of about INSERT_ROWS posts, each with the position reached in the file, so
    memory stays bounded and an interrupted import resumes where it stopped. (Each insert joins
    the batch against the stored keys: fewer, larger batches keep a big import linear.)"""
    pending: list[Chunk] = []
    rows = 0
    for chunk in chunks:
        pending.append(chunk)
        rows += chunk.rows.num_rows if chunk.rows is not None else 0
        if rows >= INSERT_ROWS:
            _commit(store, _merge(pending), res, import_id)
            pending, rows = [], 0
        if progress:
            progress(res.path, res.read + sum(c.read for c in pending))
    if pending:
        _commit(store, _merge(pending), res, import_id)


def _commit(store: Store, chunk: Chunk, res: FileResult, import_id: str) -> None:
    with store.transaction():
        _store_chunk(store, chunk, res)
        store.con.execute(
            "INSERT OR REPLACE INTO import_progress VALUES (?, ?, ?, ?, ?, ?, ?)",
            [import_id, chunk.position, res.read, res.imported, res.duplicate, res.quarantined, res.skipped],
        )


def _merge(chunks: list[Chunk]) -> Chunk:
    if len(chunks) == 1:
        return chunks[0]
    tables = [c.rows for c in chunks if c.rows is not None]
    return Chunk(pa.concat_tables(tables) if tables else None, [q for c in chunks for q in c.quarantine],
                 sum(c.read for c in chunks), sum(c.skipped for c in chunks), chunks[-1].position)


def _map_records(job: FileJob, stream: Any, res: FileResult, skip: int, pseudo: Pseudonymiser,
                 sealer: Sealer) -> Iterator[Chunk]:
    """Map a file record by record in this process; position = records consumed."""
    m = Mapper(job, pseudo, sealer)
    n = 0
    for rec in _guarded(job.source.records(stream), res):
        n += 1
        if n <= skip:
            continue
        m.feed(rec)
        if m.pending() >= PROGRESS_EVERY:
            yield m.take(n)
    yield m.take(n)


def _map_lines(job: FileJob, stream: Any, res: FileResult, skip: int, pseudo: Pseudonymiser, sealer: Sealer,
               pool: _Pool | None) -> Iterator[Chunk]:
    """Map a JSON Lines file in chunks of lines, in worker processes when ``pool``; position =
    the last line number consumed."""
    chunks = _line_chunks(stream, res, skip)
    if pool is not None:
        yield from pool.map_chunks(job, chunks)
        return
    for end, lines in chunks:
        yield map_lines(job, lines, pseudo, sealer, end)


CHUNK_BYTES = 4 << 20


def _line_chunks(stream: Any, res: FileResult, skip: int) -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
    chunk: list[tuple[int, bytes]] = []
    size = 0
    lineno = 0
    try:
        for lineno, line in enumerate(stream, start=1):  # noqa: B007 - lineno used after the loop
            if lineno <= skip or not line.strip():
                continue
            chunk.append((lineno, line))
            size += len(line)
            if size >= CHUNK_BYTES:
                yield lineno, chunk
                chunk, size = [], 0
    except (EOFError, OSError, ValueError) as exc:
        res.status = "partial"
        res.error = f"stopped after line {lineno}: {_describe(exc)}"
    if chunk or lineno > skip:
        yield max(lineno, skip), chunk


def _guarded(records: Iterable[Record], res: FileResult) -> Iterator[Record]:
    """Records until the input breaks; a truncated or corrupt file keeps what was read before."""
    it = iter(records)
    last = "start of file"
    while True:
        try:
            rec = next(it)
        except StopIteration:
            return
        except (EOFError, OSError, ValueError) as exc:
            res.status = "partial"
            res.error = f"stopped after {last}: {_describe(exc)}"
            return
        last = rec.locator
        yield rec


def _store_chunk(store: Store, chunk: Chunk, res: FileResult) -> None:
    if chunk.rows is not None and chunk.rows.num_rows:
        n = chunk.rows.num_rows
        new = store.insert_posts(chunk.rows)
        res.imported += new
        res.duplicate += n - new
    if chunk.quarantine:
        store.con.executemany(
            """INSERT INTO quarantine SELECT ?, ?, ?, ?, ?, ?, ?, FALSE
            WHERE NOT EXISTS (SELECT 1 FROM quarantine WHERE import_id = ? AND locator = ?)""",
            [q + [q[1], q[3]] for q in chunk.quarantine],
        )
        res.quarantined += len(chunk.quarantine)
    res.read += chunk.read
    res.skipped += chunk.skipped


def _line_based(src: Source) -> bool:
    return type(src).records is Source.records


def _first_line_is_json(stream: Any) -> bool:
    head = stream.peek(1 << 20)
    first = head.split(b"\n", 1)[0]
    if b"\n" not in head[: 1 << 20] or not first.strip():
        return False
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


class _Pool:
    """Worker processes that map chunks of JSON lines while this process writes the store."""

    def __init__(self, secret: bytes, workers: int) -> None:
        self.pool = worker_pool(workers, worker_init, (secret,))
        self.window = 2 * workers

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()

    def map_chunks(self, job: FileJob, chunks: Iterable[tuple[int, list[tuple[int, bytes]]]]) -> Iterator[Chunk]:
        jobd = {"source": job.source.name, "dataset": job.dataset, "source_file": job.source_file,
                "import_id": job.import_id, "keep_handles": job.keep_handles}
        tasks = ((jobd, lines, end) for end, lines in chunks)  # read here, map there
        for _, chunk in in_order(self.pool, worker_map, tasks, self.window):
            yield chunk


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
    return UNRECOGNISED


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
            m = Mapper(FileJob(src, q["dataset"], q["source_file"], q["import_id"], keeps), pseudo, sealer)
            raw = sealer.open(q["raw_sealed"])
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                m.feed(Record(q["locator"], raw, None, f"invalid JSON ({exc})"))
            else:
                m.feed(Record(q["locator"], raw, obj))
            chunk = m.take()
            if chunk.quarantine:
                out.still_quarantined += 1
                reason = "; ".join(f"{c[3]}: {c[5]}" for c in chunk.quarantine)
                store.con.execute("UPDATE quarantine SET reason = ? WHERE rowid = ?", [reason, q["rid"]])
                continue
            n = chunk.rows.num_rows if chunk.rows is not None else 0
            new = store.insert_posts(chunk.rows) if n else 0
            out.imported += new
            out.duplicate += n - new
            out.resolved += 1
            store.con.execute("UPDATE quarantine SET resolved = TRUE, format = ? WHERE rowid = ?",
                              [src.name, q["rid"]])
    return out
