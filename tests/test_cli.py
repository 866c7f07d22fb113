"""The CLI end to end on the bundled samples: what `make demo` runs, and every verb."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from hubbub import __version__

REPO = Path(__file__).resolve().parents[1]


def hubbub(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubbub.serve.cli", "--workspace", str(ws), *args],
                          capture_output=True, text=True)


def test_demo_samples_import_clean_and_every_verb_works(tmp_path: Path):
    ws = tmp_path / "ws"
    assert hubbub(ws, "init").returncode == 0
    assert (ws / "secret.key").stat().st_mode & 0o777 == 0o600
    r = hubbub(ws, "import", str(REPO / "samples"), "--dataset", "demo", "--json")
    assert r.returncode == 0, r.stderr
    summary = orjson.loads(r.stdout)
    assert summary["totals"]["failed_files"] == 0 and summary["totals"]["quarantined"] == 0
    formats = {f["format"] for f in summary["files"]}
    assert {"twitter-v2", "twitter-v1", "reddit-api", "reddit-pushshift", "mastodon-api", "bluesky",
            "telegram-telethon", "ira-csv", "crowdtangle-csv"} <= formats
    for f in summary["files"]:
        assert f["read"] == f["imported"] + f["duplicate"] + f["quarantined"] + f["skipped"]
    n = summary["totals"]["imported"]

    # again: nothing new
    r2 = orjson.loads(hubbub(ws, "import", str(REPO / "samples"), "--dataset", "demo", "--json").stdout)
    assert r2["totals"]["imported"] == 0 and {f["status"] for f in r2["files"]} == {"already-imported"}

    d = orjson.loads(hubbub(ws, "datasets", "--json").stdout)
    assert d[0]["dataset"] == "demo" and d[0]["posts"] == n and d[0]["keep_handles"] is False

    st = orjson.loads(hubbub(ws, "stats", "--json").stdout)
    assert st["overview"][0]["posts"] == n
    assert sum(r["posts"] for r in st["platform"]) == n
    assert {r["platform"] for r in st["platform"]} >= {"twitter", "reddit", "telegram", "facebook"}
    assert sum(r["posts"] for r in st["day"]) == n

    table = hubbub(ws, "stats", "--by", "platform")
    assert table.returncode == 0 and "twitter" in table.stdout
    assert hubbub(ws, "stats", "--by", "nonsense").returncode == 2

    for ext in ("csv", "parquet", "jsonl"):
        out = tmp_path / f"posts.{ext}"
        assert hubbub(ws, "export", str(out)).returncode == 0
    assert pq.read_table(tmp_path / "posts.parquet").num_rows == n
    with open(tmp_path / "posts.csv", newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == n
    assert len((tmp_path / "posts.jsonl").read_bytes().splitlines()) == n

    snap = tmp_path / "snap"
    assert hubbub(ws, "snapshot", str(snap)).returncode == 0
    assert any((snap / "posts" / "dataset=demo").glob("day=2016-10-0*/*.parquet"))

    q = orjson.loads(hubbub(ws, "quarantine", "--json").stdout)
    assert q == []
    fm = orjson.loads(hubbub(ws, "formats", "--json").stdout)
    assert len(fm) >= 14


def test_errors_are_clear(tmp_path: Path):
    ws = tmp_path / "ws"
    r = hubbub(ws, "datasets")
    assert r.returncode == 2 and "not a Hubbub workspace" in r.stderr and "hubbub init" in r.stderr
    r = hubbub(ws, "--version")  # needs no command and no workspace
    assert r.returncode == 0 and r.stdout.strip() == __version__
    r = hubbub(ws, "import", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "missing.jsonl: no such file or folder" in r.stderr
    r = hubbub(ws, "import", str(REPO / "samples"), "--format", "no-such-format")
    assert r.returncode == 2 and "unknown format 'no-such-format'" in r.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"data": [{"id": "1", "text": "x", "author_id": "2"}]}\n{broken\n')
    r = hubbub(ws, "import", str(bad), "--dataset", "b")
    assert r.returncode == 3  # a record quarantined
    assert "line 2" in hubbub(ws, "quarantine").stdout


def test_enrich_and_eval_commands(tmp_path: Path):
    from conftest import SHARED

    ws = tmp_path / "ws"
    assert hubbub(ws, "import", str(REPO / "samples" / "telegram-bloomberg.ndjson"), "-d", "t").returncode == 0
    r = hubbub(ws, "enrich", "--json")
    assert r.returncode == 0, r.stderr
    steps = {x["step"]: x for x in orjson.loads(r.stdout)}
    assert {"lang", "sentiment", "neardup"} <= set(steps)
    assert all(x["done"] == x["to_do"] == 40 for x in steps.values())
    assert hubbub(ws, "enrich", "--steps", "nope").returncode == 2

    out = tmp_path / "report"
    r = hubbub(ws, "eval", "--data", str(SHARED), "--tasks", "lang,sentiment", "--limit", "30", "--out", str(out),
               "--json")
    assert r.returncode == 0, r.stderr
    rep = orjson.loads(r.stdout)
    assert {x["task"] for x in rep["results"]} == {"langid", "sentiment"}
    assert (out / "eval.md").read_text().startswith("# Hubbub evaluation (validation split)")
    assert orjson.loads((out / "eval.json").read_bytes())["split"] == "validation"
    r = hubbub(ws, "eval", "--data", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "nowhere" in r.stderr
