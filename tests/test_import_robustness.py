"""Bad input: truncated lines and archives, invalid UTF-8, binary and empty files.
Every good record must be stored and every file's summary must add up."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
import zlib
from pathlib import Path

import orjson
import zstandard
from conftest import FORMATS

FLAT = FORMATS / "twitter-api-v2-twarc2" / "flat.jsonl"


def _lines() -> list[bytes]:
    return [ln for ln in FLAT.read_bytes().split(b"\n") if ln.strip()]


def _complete_lines_in_truncated_gzip(data: bytes) -> int:
    """How many whole lines a reader can get out of a cut gzip (computed independently with zlib)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = d.decompress(data)
    return text.count(b"\n")


def test_corrupt_inputs_keep_every_good_record(tmp_path: Path, do_import):
    lines = _lines()
    assert len(lines) == 100
    bad = tmp_path / "in"
    bad.mkdir()
    # 1. a truncated line (cut in the middle of line 50)
    cut = list(lines)
    cut[49] = cut[49][: len(cut[49]) // 2]
    (bad / "a_truncated_line.jsonl").write_bytes(b"\n".join(cut) + b"\n")
    # 2. invalid UTF-8 inside one record's text (line 10)
    inv = list(lines)
    inv[9] = inv[9].replace(b'"text": "', b'"text": "\xff\xfe', 1)
    assert inv[9] != lines[9]
    (bad / "b_invalid_utf8.jsonl").write_bytes(b"\n".join(inv) + b"\n")
    # 3. a truncated gzip (the last 40% of the compressed bytes cut off)
    gz = gzip.compress(b"\n".join(lines) + b"\n")
    cut_gz = gz[: int(len(gz) * 0.6)]
    (bad / "c_truncated.jsonl.gz").write_bytes(cut_gz)
    # 4. a binary file and 5. an empty file
    (bad / "d_binary.jsonl").write_bytes(os.urandom(4096))
    (bad / "e_empty.jsonl").write_bytes(b"")

    imp = do_import(bad)
    by = {Path(f.path).name: f for f in imp.summary.files}

    f = by["a_truncated_line.jsonl"]
    assert (f.status, f.read, f.imported, f.quarantined) == ("ok", 100, 99, 1)
    f = by["b_invalid_utf8.jsonl"]
    assert (f.status, f.read, f.duplicate, f.quarantined) == ("ok", 100, 98, 1)  # 98 seen in file a
    assert f.imported == 1  # line 50 of file a was the truncated one: new here
    f = by["c_truncated.jsonl.gz"]
    whole = _complete_lines_in_truncated_gzip(cut_gz)
    assert 0 < whole < 100
    assert f.status == "partial" and "truncated" in (f.error or "")
    assert f.read == f.duplicate + f.imported + f.quarantined == whole
    f = by["d_binary.jsonl"]
    assert f.status == "failed" and "binary" in (f.error or "")
    f = by["e_empty.jsonl"]
    assert f.status == "failed" and f.error == "empty file"

    # Every good record is stored: all 100 tweets (each file misses a different one).
    ids = {orjson.loads(x)["id"] for x in lines}
    stored = {p["post_id"] for p in imp.posts()}
    assert stored == ids
    assert imp.summary.exit_code() == 4

    q = imp.store.query("SELECT source_file, locator, reason FROM quarantine ORDER BY source_file").to_pylist()
    assert [(Path(r["source_file"]).name, r["locator"]) for r in q] == [
        ("a_truncated_line.jsonl", "line 50"),
        ("b_invalid_utf8.jsonl", "line 10"),
    ]
    assert all("JSON" in r["reason"] for r in q)


def test_compressed_and_archived_inputs(tmp_path: Path, do_import):
    data = FLAT.read_bytes()
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    (tmp_path / "t.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    (tmp_path / "t.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("export/flat.jsonl", data)
        zf.writestr("export/flat2.jsonl.gz", gzip.compress(data, mtime=1))
    (tmp_path / "t.zip").write_bytes(buf.getvalue())
    imp = do_import(tmp_path)
    assert len(imp.summary.files) == 4
    assert all(f.status == "ok" and f.read == 100 for f in imp.summary.files)
    assert imp.summary.total("imported") == 100 and imp.summary.total("duplicate") == 300
    assert any("!export/flat2.jsonl.gz" in f.path for f in imp.summary.files)


def test_quarantine_retry_after_fix(tmp_path: Path, do_import):
    """A record quarantined under the wrong format maps once retried with the right one."""
    lines = _lines()
    p = tmp_path / "x.jsonl"
    # A flattened tweet with its time in an unsupported shape: quarantined...
    t = orjson.loads(lines[0])
    t["created_at"] = "yesterday"
    t["id"] = "1"  # no snowflake time to fall back on
    p.write_bytes(orjson.dumps(t) + b"\n" + lines[1] + b"\n")
    imp = do_import(p)
    assert imp.summary.files[0].quarantined == 1
    r = imp.store.query("SELECT reason FROM quarantine").to_pylist()
    assert "created_at" in r[0]["reason"]
    # ...stays quarantined on a plain retry (same mapping), with the reason kept.
    from hubbub.ingest.importer import retry_quarantined

    again = retry_quarantined(imp.store)
    assert (again.tried, again.resolved, again.still_quarantined) == (1, 0, 1)
