"""The enrichment runner: incremental, deterministic, resumable after SIGKILL, with provenance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import FORMATS

from hubbub.api import Hubbub
from hubbub.synth import real_pages, twarc_lines

REPO = Path(__file__).resolve().parents[1]
V2 = FORMATS / "twitter-api-v2-twarc2"


def _lang_rows(ws: Path) -> list[dict]:
    with Hubbub(ws) as hb:
        return hb.store.query(
            "SELECT platform, post_id, lang, lang_score, script, step_version FROM enrich_lang ORDER BY ALL"
        ).to_pylist()


def test_incremental_deterministic_with_provenance(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    with Hubbub(a, create=True) as hb:
        hb.import_files([REPO / "samples"], dataset="demo")
        (r,) = hb.enrich(["lang"], seed=7, batch_size=700, workers=1)
        assert r.todo == r.done == hb.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
        (again,) = hb.enrich(["lang"], seed=7)
        assert again.todo == 0  # nothing new
        run = hb.store.query("SELECT * FROM runs WHERE run_id = ?", [r.run_id]).to_pylist()[0]
        params = orjson.loads(run["params"])
        assert run["kind"] == "enrich:lang" and run["finished_at"] is not None
        assert params["seed"] == 7 and params["version"] and params["model"]["name"].startswith("fastText")
        assert params["selection"]["posts_to_do"] == r.todo
        assert orjson.loads(run["counts"]) == {"todo": r.todo, "done": r.done}
        # every result row points to its run
        runs = {x["run_id"] for x in hb.store.query("SELECT DISTINCT run_id FROM enrich_lang").to_pylist()}
        assert runs == {r.run_id}
        langs = {x["lang"]: x["n"] for x in hb.store.query(
            "SELECT lang, count(*) AS n FROM enrich_lang GROUP BY lang").to_pylist()}
        assert langs["en"] > 1000 and langs["ru"] > 100 and "und" in langs

    Hubbub.init(b)[0].close()
    (b / "secret.key").write_bytes((a / "secret.key").read_bytes())  # same keys, comparable ids
    with Hubbub(b) as hb:
        hb.import_files([REPO / "samples"], dataset="demo")
        # other batch size, in 2 worker processes: same result
        hb.enrich(["lang"], seed=7, batch_size=300, workers=2)
    assert _lang_rows(a) == _lang_rows(b)

    # new posts only
    with Hubbub(a) as hb:
        hb.import_files([V2 / "kpop.jsonl"], dataset="more")
        (r,) = hb.enrich(["lang"], seed=7)
        assert 0 < r.todo <= 100


def _enrich_cmd(ws: Path) -> list[str]:
    return [sys.executable, "-m", "hubbub.serve.cli", "--quiet", "--workspace", str(ws), "enrich", "--steps", "lang",
            "--batch-size", "500"]


@pytest.mark.slow
def test_sigkill_during_enrich_then_rerun_equals_clean_run(tmp_path: Path):
    data = tmp_path / "tweets.jsonl"
    pages = real_pages([V2 / "brexit.jsonl", V2 / "kpop.jsonl", V2 / "entities_test.jsonl", V2 / "withheld.jsonl"])
    data.write_bytes(b"\n".join(twarc_lines(pages, 30_000)) + b"\n")
    clean = tmp_path / "clean"
    with Hubbub(clean, create=True) as hb:
        hb.import_files([data], dataset="x")
    killed = tmp_path / "killed"
    subprocess.run(["cp", "-r", str(clean), str(killed)], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    t0 = time.perf_counter()
    subprocess.run(_enrich_cmd(clean), env=env, check=True, capture_output=True)
    took = time.perf_counter() - t0
    expected = _lang_rows(clean)
    assert len(expected) > 20_000

    delay = took * 0.6
    for _ in range(5):  # the machine may be less busy now than during the clean run: try sooner
        p = subprocess.Popen(_enrich_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        running = p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        if running:
            break
        with Hubbub(killed) as hb:  # it finished: undo and try again
            hb.store.con.execute("DELETE FROM enrich_lang")
        delay /= 2
    assert running, "enrich always finished before it could be killed; make the input larger"
    partial = len(_lang_rows(killed))
    assert partial < len(expected)  # killed before the end (batches committed so far are kept)
    subprocess.run(_enrich_cmd(killed), env=env, check=True, capture_output=True)
    assert _lang_rows(killed) == expected
