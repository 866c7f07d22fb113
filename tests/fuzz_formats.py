"""Seeded mutation fuzzing of every import format over the real samples (issue 10, must-show 1).

Each case takes a real sample (cut to its first records, so a case is fast), changes it once and
maps it exactly as ``hubbub import`` does (``importer.map_file``, in this process), then checks:
nothing raised, the counts add up, and every record the mutation did not touch gives the rows it
gave before. Mutations are byte-level (flip, delete, insert a hostile byte, truncate, glue lines)
or structural on a parsed record (a value replaced by another JSON type, a huge or infinite
number, deep nesting, a lone surrogate, a key removed, a CSV cell with a stray quote).

``python tests/fuzz_formats.py [cases-per-format [formats|all [seed]]]`` runs it on its own and
prints the findings;
the test (tests/test_import_fuzz.py) runs ``HUBBUB_FUZZ_CASES`` cases per format (default 150).
"""

from __future__ import annotations

import csv
import io
import random
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hubbub.ingest.importer import import_paths, map_file
from hubbub.sources.files import InputFile, find_inputs, open_input

# A format -> samples (relative to the shared data folder). Each sample is cut to its first
# MAX_RECORDS lines (JSON Lines, CSV) before mutating; documents are used whole.
SAMPLES: dict[str, list[str]] = {
    "twitter-v2": ["platform-formats/twitter-api-v2-twarc2/flat.jsonl",
                   "platform-formats/twitter-api-v2-twarc2/two_tweets.jsonl",
                   "platform-formats/twitter-api-tweepy-cassettes/v2/client_search_recent_tweets.json"],
    "twitter-v1": ["platform-formats/twitter-api-tweepy-cassettes/v1.1/usertimeline.json",
                   "platform-formats/twitter-api-tweepy-cassettes/v1.1/searchtweets.json"],
    "reddit-api": ["platform-formats/reddit-api-praw-cassettes/TestSubredditStreams.test_submissions.json",
                   "platform-formats/reddit-api-praw-cassettes/TestReddit.test_info.json"],
    "reddit-pushshift": ["platform-formats/reddit-pushshift-ndjson"],
    "mastodon-api": ["platform-formats/mastodon-api/entity_status.json",
                     "platform-formats/mastodon-api/entity_context.json",
                     "platform-formats/mastodon-api/entity_searchv2.json"],
    "bluesky": ["platform-formats/bluesky-xrpc-atproto"],
    "telegram-telethon": ["platform-formats/telegram-telethon-messages/Python_1050982793.ndjson"],
    "youtube-api": ["platform-formats/youtube-data-api-v3/commentThreads_list_response.json",
                    "platform-formats/youtube-data-api-v3/search_list_response_videos.json"],
    "youtube-spam-csv": ["youtube-spam-collection/Youtube01-Psy.csv"],
    "crowdtangle-api": ["platform-formats/facebook-crowdtangle-api",
                        "crowdtangle-link-shares-pycoornet/ct_shares.json"],
    "crowdtangle-csv": ["crowdtangle-link-shares-pycoornet/ct_shares.csv"],
    "ira-csv": ["ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-01.csv"],
    "coortweet-csv": ["coortweet-coordination-samples/russian_coord_tweets.csv"],
}
MAX_RECORDS = 40
SECRET = b"fuzz" * 8


@dataclass
class Base:
    fmt: str
    name: str  # file name (sniffing looks at it)
    data: bytes
    rows: set[tuple[str, str]]  # (source_locator, post_id) of the unmutated sample
    line_based: bool  # records are lines (JSON Lines, CSV)


@dataclass
class Finding:
    fmt: str
    sample: str
    mutation: str
    problem: str


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)
    stored: Counter[str] = field(default_factory=Counter)  # of them, imported into a store too
    quarantined: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)


def _cut(data: bytes, name: str) -> bytes:
    if name.endswith((".jsonl", ".ndjson", ".csv")):
        lines = data.split(b"\n")
        return b"\n".join(lines[:MAX_RECORDS]) + b"\n"
    return data


def _run(tmp: Path, name: str, data: bytes, fmt: str | None = None):
    p = tmp / name
    p.write_bytes(data)
    return map_file(InputFile(p), SECRET, fmt=fmt)


def _rows(chunks) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for c in chunks:
        if c.rows is not None:
            out.update(zip(c.rows.column("source_locator").to_pylist(), c.rows.column("post_id").to_pylist(),
                           strict=True))
    return out


def bases(shared: Path, tmp: Path, fmt: str) -> list[Base]:
    out = []
    for rel in SAMPLES[fmt]:
        for f in find_inputs([shared / rel]):
            with open_input(f) as fh:
                data = _cut(fh.read(), f.name)
            res, chunks = _run(tmp, f.name, data)
            if res.format != fmt or res.status != "ok":
                continue  # a file of the folder that is another format, or holds no post
            rows = _rows(chunks)
            if not rows:
                continue
            line_based = f.name.endswith((".jsonl", ".ndjson", ".csv")) or _is_jsonl(data)
            out.append(Base(fmt, f.name, data, rows, line_based))
    return out


def _is_jsonl(data: bytes) -> bool:
    first = data.split(b"\n", 1)[0]
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return data.count(b"\n") > 1


# -- mutations --------------------------------------------------------------------------------
# Each returns (mutated bytes, what it did, locator prefix of the record it touched or None when
# it may touch any record).
Mutation = tuple[bytes, str, str | None]

HOSTILE_VALUES: list[tuple[str, Any]] = [
    ("1e30", 1e30), ("2^64", 2**64 - 1 + 1.0), ("-2^63-1", -(2.0**63) * 2), ("true", True), ("false", False),
    ("null", None), ("0", 0), ("-1", -1), ("list", [1, "a"]), ("empty list", []), ("object", {"a": 1}),
    ("empty object", {}), ("empty text", ""), ("number text", "12345678901234567890"),
    ("long text", "x" * 100_000), ("lone surrogate", "\ud83d"), ("nul", "a\x00b"), ("year 9999", 253402300799),
    ("ms time", 1_700_000_000_000), ("date text", "2016-13-45T99:99:99Z"), ("@handle text", "@bob_smith hi"),
    ("deep list", "DEEP"), ("unicode", "ｐａｙｐａｌ \u0301 \u202e"),
]


def _deep(n: int) -> Any:
    v: Any = "x"
    for _ in range(n):
        v = [v]
    return v


def _nodes(obj: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_nodes(v, path + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_nodes(v, path + (i,)))
    return out


def _set(obj: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    if delete:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return obj


def _dumps(obj: Any, indent: bool) -> bytes | None:
    try:
        return orjson.dumps(obj, option=orjson.OPT_INDENT_2 if indent else 0)
    except (TypeError, orjson.JSONEncodeError):
        return None


def _hostile_json(rng: random.Random, obj: Any) -> tuple[Any, str, tuple] | None:
    nodes = _nodes(obj)
    path = rng.choice(nodes)
    if path and rng.random() < 0.15 and isinstance(path[-1], str):
        return _set(obj, path, None, delete=True), f"delete key {'/'.join(map(str, path[-3:]))}", path
    label, value = rng.choice(HOSTILE_VALUES)
    if value == "DEEP":
        depth = rng.choice([300, 1200])
        value, label = _deep(depth), f"nesting {depth}"
    return _set(obj, path, value), f"{'/'.join(map(str, path[-3:]))} = {label}", path


def _encode(obj: Any, indent: bool) -> bytes | None:
    """JSON with lone surrogates and big numbers written as a JSON writer would."""
    b = _dumps(obj, indent)
    if b is not None:
        return b
    import json

    try:
        return json.dumps(obj, indent=2 if indent else None, ensure_ascii=True).encode()
    except (ValueError, RecursionError):
        return None


def json_structure(rng: random.Random, base: Base) -> Mutation | None:
    if base.line_based:
        lines = base.data.split(b"\n")
        idx = [i for i, ln in enumerate(lines) if ln.strip()]
        i = rng.choice(idx)
        obj = orjson.loads(lines[i])
        got = _hostile_json(rng, obj)
        if got is None:
            return None
        new = _encode(got[0], False)
        if new is None:
            return None
        lines[i] = new
        return b"\n".join(lines), f"line {i + 1}: {got[1]}", f"line {i + 1}"
    doc = orjson.loads(base.data)
    got = _hostile_json(rng, doc)
    if got is None:
        return None
    new = _encode(got[0], True)
    if new is None:
        return None
    return new, f"document: {got[1]}", _item_token(got[2], base)


def _item_token(path: tuple, base: Base) -> str | None:
    """The sub-locator (``statuses[3]``, ``items[10]``) of the item a document mutation touched:
    the outermost list index on the path that the unmutated rows are located by."""
    locs = {r[0] for r in base.rows}
    best = None
    for a, b in zip(path, path[1:], strict=False):
        if isinstance(b, int) and not isinstance(b, bool):
            # a recorded body that is a list locates its items bare: "response 0 [19]"
            token = f"{a}[{b}]" if isinstance(a, str) and a != "body" else f" [{b}]"
            if any(token in loc for loc in locs):
                best = token
                break  # the outermost item: what it holds (replies, quoted posts) is its own
    return "~" + best if best else None


def csv_structure(rng: random.Random, base: Base) -> Mutation | None:
    text = base.data.decode("utf-8", "surrogateescape")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) < 3:
        return None
    # pick a data row that is one physical line, so its locator is known
    phys = text.split("\n")
    singles = [i for i in range(1, len(phys) - 1) if phys[i].count('"') % 2 == 0 and phys[i].strip()]
    if not singles:
        return None
    i = rng.choice(singles)
    try:
        row = next(csv.reader([phys[i]]))
    except csv.Error:
        return None
    if not row:
        return None
    j = rng.randrange(len(row))
    op = rng.choice(["stray quote", "empty", "huge number", "bad date", "extra field", "missing field",
                     "nul", "9999"])
    if op == "stray quote":  # a field that opens a quote and never closes it
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(row[:j])
        rest = io.StringIO()
        csv.writer(rest, lineterminator="").writerow(row[j + 1:])
        line = ",".join(x for x in (buf.getvalue(), '"' + row[j].replace('"', ""), rest.getvalue()) if x)
    else:
        if op == "empty":
            row[j] = ""
        elif op == "huge number":
            row[j] = "1e30"
        elif op == "bad date":
            row[j] = "16228134"
        elif op == "extra field":
            row.append("x")
        elif op == "missing field":
            row.pop()
        elif op == "nul":
            row[j] = "a\x00b"
        elif op == "9999":
            row[j] = "253402300799"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(row)
        line = buf.getvalue()
    phys[i] = line
    return "\n".join(phys).encode("utf-8", "surrogateescape"), f"line {i + 1} field {j}: {op}", f"line {i + 1}"


BYTES = [b'"', b"\\", b"{", b"}", b"[", b"\x00", b"\xff", b"\xc3", b",", b":", b"\\u", b"\xef\xbb\xbf"]


def byte_mutation(rng: random.Random, base: Base) -> Mutation:
    data = bytearray(base.data)
    op = rng.choice(["flip", "delete", "insert", "truncate", "glue lines", "newline", "duplicate"])
    touched: str | None = None
    if base.line_based and op in ("flip", "delete", "insert"):
        lines = base.data.split(b"\n")
        idx = [i for i, ln in enumerate(lines) if len(ln) > 2]
        i = rng.choice(idx)
        ln = bytearray(lines[i])
        k = rng.randrange(len(ln))
        if op == "flip":
            ln[k] = rng.randrange(256) if ln[k] != 10 else 32
            if ln[k] in (10, 13):
                ln[k] = 32
        elif op == "delete":
            del ln[k: k + rng.randint(1, 8)]
        else:
            ln[k:k] = rng.choice(BYTES)
        lines[i] = bytes(ln)
        touched = f"line {i + 1}"
        # a CSV quote can open a field that swallows later lines, and the header names every
        # row's fields: then it touches any record
        if base.name.endswith(".csv") and (b'"' in ln or i == 0):
            touched = None
        return b"\n".join(lines), f"{op} in line {i + 1}", touched
    k = rng.randrange(len(data))
    if op == "flip":
        data[k] = rng.randrange(256)
    elif op == "delete":
        del data[k: k + rng.randint(1, 64)]
    elif op == "insert":
        data[k:k] = rng.choice(BYTES)
    elif op == "truncate":
        del data[k:]
    elif op == "glue lines":
        nl = base.data.find(b"\n", k)
        if nl >= 0:
            del data[nl]
    elif op == "newline":
        data[k:k] = b"\n"
    elif op == "duplicate":
        data[k:k] = data[max(0, k - 200): k]
    return bytes(data), f"{op} at byte {k}", touched


def mutate(rng: random.Random, base: Base) -> Mutation | None:
    if rng.random() < 0.45:
        return byte_mutation(rng, base)
    if base.name.endswith(".csv"):
        return csv_structure(rng, base)
    return json_structure(rng, base)


# -- the loop ---------------------------------------------------------------------------------
def check_case(tmp: Path, base: Base, mutated: bytes, what: str, touched: str | None, report: Report,
               force_format: bool, store: Any = None) -> None:
    fmt = base.fmt
    report.cases[fmt] += 1

    def found(problem: str) -> None:
        report.findings.append(Finding(fmt, base.name, what, problem))

    try:
        res, chunks = _run(tmp, base.name, mutated, fmt if force_format else None)
    except Exception:  # noqa: BLE001 - the finding is the traceback
        found("raised: " + traceback.format_exc(limit=-3).strip().replace("\n", " | ")[-600:])
        return
    if store is not None:  # the whole import, store included, as `hubbub import` runs it
        report.stored[fmt] += 1
        try:
            summary = import_paths(store, [tmp / base.name], f"fuzz{report.stored[fmt]}",
                                   fmt=fmt if force_format else None, force=True)
        except Exception:  # noqa: BLE001
            found("import raised: " + traceback.format_exc(limit=-3).strip().replace("\n", " | ")[-600:])
            return
        f = summary.files[0]
        if summary.exit_code() not in (0, 3, 4) or not f.adds_up():
            found(f"import: exit {summary.exit_code()}, {f}")
        if (f.read, f.quarantined, f.skipped) != (res.read, res.quarantined, res.skipped) or (
                f.imported + f.duplicate != res.imported):
            found(f"import and dry run differ: {f} vs {res}")
    if res.read != res.imported + res.quarantined + res.skipped:
        found(f"counts do not add up: {res}")
    report.quarantined[fmt] += res.quarantined
    if touched is None or res.status != "ok":
        return
    rows = _rows(chunks)
    lost = {r for r in base.rows if not _in_record(r[0], touched)} - rows
    if lost:
        found(f"{len(lost)} rows of untouched records lost, e.g. {sorted(lost)[:2]}")


def _in_record(locator: str, touched: str) -> bool:
    if touched.startswith("~"):  # an item inside a document
        return touched[1:] in locator
    return locator == touched or locator.startswith(touched + " ")


def fuzz(shared: Path, tmp: Path, cases: int, seed: int = 10, formats: list[str] | None = None,
         log: Callable[[str], None] | None = None, store: Any = None, store_every: int = 10) -> Report:
    """``cases`` mutations per format; every ``store_every``-th case is also imported into
    ``store`` (when given) through ``import_paths``."""
    report = Report()
    for fmt in formats or list(SAMPLES):
        rng = random.Random(f"{seed}:{fmt}")
        bs = bases(shared, tmp, fmt)
        assert bs, f"no sample of {fmt}"
        n = 0
        tries = 0
        while n < cases and tries < cases * 3:
            tries += 1
            base = rng.choice(bs)
            m = mutate(rng, base)
            if m is None:
                continue
            n += 1
            check_case(tmp, base, m[0], m[1], m[2], report, force_format=rng.random() < 0.2,
                       store=store if store is not None and n % store_every == 0 else None)
        if log:
            log(f"{fmt}: {report.cases[fmt]} cases ({report.stored[fmt]} also stored), "
                f"{report.quarantined[fmt]} records quarantined, "
                f"{sum(1 for f in report.findings if f.fmt == fmt)} findings")
    return report


if __name__ == "__main__":
    import os
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    fmts = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] != "all" else None
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    shared = Path(os.environ.get("HUBBUB_SHARED_DATA", "../shared/data"))
    from hubbub.store.store import Store
    from hubbub.store.workspace import init_workspace

    with tempfile.TemporaryDirectory() as td:
        ws, _ = init_workspace(Path(td) / "ws")
        with Store(ws) as st:
            rep = fuzz(shared, Path(td), n, seed=seed, formats=fmts, log=print, store=st)
    for f in rep.findings:
        print(f"{f.fmt} {f.sample} [{f.mutation}] {f.problem}")
