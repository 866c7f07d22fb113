"""An import killed with SIGKILL at any moment, then run again, leaves the store a clean run leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FORMATS

from hubbub.privacy import Sealer
from hubbub.store.store import Store
from hubbub.store.workspace import Workspace, init_workspace
from hubbub.synth import real_pages, twarc_lines

V2 = FORMATS / "twitter-api-v2-twarc2"


def _inputs(folder: Path) -> Path:
    folder.mkdir()
    pages = real_pages([V2 / "brexit.jsonl", V2 / "kpop.jsonl", V2 / "entities_test.jsonl", V2 / "withheld.jsonl"])
    lines = list(twarc_lines(pages, 24_000))
    third = len(lines) // 3
    for i in range(3):
        part = lines[i * third: (i + 1) * third] if i < 2 else lines[2 * third:]
        # overlapping files: the last page of each file is repeated in the next one
        if i:
            part = [lines[i * third - 1], *part]
        (folder / f"part{i}.jsonl").write_bytes(b"\n".join(part) + b"\n")
    # and one broken line, so quarantine is part of the comparison
    with open(folder / "part1.jsonl", "ab") as fh:
        fh.write(b'{"data": [{"id": "1", "text": "cut\n')
    return folder


def _cmd(ws: Path, inputs: Path) -> list[str]:
    return [sys.executable, "-m", "hubbub.serve.cli", "--quiet", "--workspace", str(ws),
            "import", str(inputs), "--dataset", "crash"]


def _dump(ws_path: Path) -> dict:
    ws = Workspace(ws_path)
    sealer = Sealer(ws.secret())
    with Store(ws) as st:
        posts = st.query("SELECT * FROM posts ORDER BY platform, post_id").to_pylist()
        q = st.query("SELECT * FROM quarantine ORDER BY import_id, locator").to_pylist()
        files = st.query("SELECT * EXCLUDE (imported_at) FROM files ORDER BY import_id").to_pylist()
        datasets = st.query("SELECT name, keep_handles FROM datasets").to_pylist()
    for r in q:  # sealed bytes carry a random IV: compare what they hold
        r["raw_sealed"] = sealer.open(r["raw_sealed"])
    return {"posts": posts, "quarantine": q, "files": files, "datasets": datasets}


def _kill_midway(ws: Path, clean: Path, inputs: Path, env: dict, delay: float) -> Path:
    """Start the import and SIGKILL it after ``delay`` s; on a machine busier during the clean run
    than now the import may finish first, so try again sooner (a fresh workspace each time)."""
    for attempt in range(5):
        target = ws.with_name(f"{ws.name}.{attempt}")
        init_workspace(target)  # same secret as the clean run, so keys can be compared
        (target / "secret.key").write_bytes((clean / "secret.key").read_bytes())
        p = subprocess.Popen(_cmd(target, inputs), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed = p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        if killed:
            return target
        delay /= 2
    raise AssertionError("the import always finished before it could be killed; make the input larger")


@pytest.mark.slow
def test_sigkill_midway_then_rerun_equals_clean_run(tmp_path: Path):
    inputs = _inputs(tmp_path / "in")
    # small batches: a kill lands mid-file, between committed batches, and the re-run resumes there
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HUBBUB_IMPORT_BATCH": "3000"}

    clean = tmp_path / "clean"
    t0 = time.perf_counter()
    r = subprocess.run(_cmd(clean, inputs), env=env, capture_output=True)
    took = time.perf_counter() - t0
    assert r.returncode == 3, r.stderr.decode()  # one quarantined record
    expected = _dump(clean)
    assert len(expected["posts"]) > 20_000 and len(expected["quarantine"]) == 1

    mid_file = 0  # kills that left a file half imported (committed batches, resumed by the re-run)
    for frac in (0.35, 0.6, 0.85):
        ws = _kill_midway(tmp_path / f"killed{frac}", clean, inputs, env, took * frac)
        with Store(Workspace(ws)) as st:
            mid_file += st.query("SELECT count(*) AS n FROM import_progress").to_pylist()[0]["n"]
        r = subprocess.run(_cmd(ws, inputs), env=env, capture_output=True)
        # 3 when the file with the broken line was still to do, 0 when it had been committed
        assert r.returncode in (0, 3), r.stderr.decode()
        assert _dump(ws) == expected, f"store differs after a kill at {frac:.0%}"
        with Store(Workspace(ws)) as st:
            assert st.query("SELECT count(*) AS n FROM import_progress").to_pylist()[0]["n"] == 0
    assert mid_file > 0
