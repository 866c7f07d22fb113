"""Golden outputs of every CLI verb on a fixed subset of the IRA set (issue 11: the redesign must not
change what a user sees).

The subset: every 8th tweet of each weekly CSV of ``ira-troll-tweets-2016-election-window`` (about
21,700 tweets), imported into a workspace with a fixed secret (so account keys are the same in every
run), enriched with the default steps and embed, topic (seed 0), then every read verb is run with ``--json`` in-process.
Run identifiers, timestamps, durations, versions and paths are replaced by placeholders; floats are
compared within a tolerance.

Regenerate (only when a change of output is intended, and say why in the commit):
    HUBBUB_GOLDEN_UPDATE=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from hubbub.serve.cli import app

SECRET = "5" * 64  # fixed workspace secret: the same pseudonymous keys in every run
EVERY = 8
# (name, argv after --workspace WS); each must print JSON on stdout and exit 0. `export` (to JSON Lines,
# every enrichment column) is compared too: its columns, row count and every 500th row.
VERBS: list[tuple[str, list[str]]] = [
    ("datasets", ["datasets", "--json"]),
    ("stats", ["stats", "--by", "platform", "--by", "kind", "--by", "lang", "--by", "day", "--json"]),
    ("search_newest", ["search", "", "--limit", "10", "--json"]),
    ("search_engaged", ["search", "clinton OR hillary", "--sort", "engagement", "--limit", "10", "--json"]),
    ("search_count", ["search", "lang:en AND #maga", "--count", "--json"]),
    ("check_query", ["check-query", "trump AND (vote* OR \"cost the country\")", "--json"]),
    ("trends_lang", ["trends", "", "--interval", "day", "--by", "lang", "--json"]),
    ("trends_hashtag", ["trends", "lang:en", "--interval", "week", "--by", "hashtag", "--top", "5", "--json"]),
    ("trends_kind", ["trends", "", "--interval", "day", "--by", "kind", "--json"]),
    ("trends_sentiment", ["trends", "lang:en", "--interval", "week", "--by", "sentiment", "--json"]),
    ("trends_topic", ["trends", "", "--interval", "week", "--by", "topic", "--top", "5", "--json"]),
    ("trends_domain", ["trends", "", "--interval", "week", "--by", "domain", "--top", "5", "--json"]),
    ("spikes_day", ["spikes", "--interval", "day", "--json"]),
    ("spikes_hour", ["spikes", "lang:en", "--json"]),
    ("topics", ["topics", "--json"]),
    ("topic_0", ["topic", "0", "--limit", "5", "--json"]),
    ("narratives", ["narratives", "--json"]),
    ("coordination", ["coordination", "--json"]),
    ("quarantine", ["quarantine", "--json"]),
    ("formats", ["formats", "--json"]),
]
# Keys whose values differ between runs of the same input (identifiers, clocks, paths, versions).
_VOLATILE = {"run_id", "started_at", "finished_at", "elapsed_s", "seconds", "duration_s", "hubbub", "version",
             "workspace", "path"}


def subset(ira: Path, out: Path) -> Path:
    """Every ``EVERY``-th record of each weekly CSV (parsed as CSV, so quoted newlines stay whole)."""
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted((ira / "tweets").glob("*.csv")):
        with src.open(newline="", encoding="utf-8") as fin, (out / src.name).open(
                "w", newline="", encoding="utf-8") as fout:
            reader = csv.reader(fin)
            writer = csv.writer(fout, lineterminator="\n")
            writer.writerow(next(reader))
            for i, row in enumerate(reader):
                if i % EVERY == 0:
                    writer.writerow(row)
    return out


def build(ira: Path, tmp: Path) -> Path:
    """A workspace with the subset imported and enriched; returns its path."""
    ws = tmp / "ws"
    runner = CliRunner()
    _ok(runner.invoke(app, ["--workspace", str(ws), "--quiet", "init"]), "init")
    key = ws / "secret.key"
    key.chmod(0o600)
    key.write_text(SECRET + "\n")
    data = subset(ira, tmp / "ira")
    res = runner.invoke(app, ["--workspace", str(ws), "--quiet", "import", str(data), "--dataset", "ira"])
    assert res.exit_code in (0, 3), res.output
    _ok(runner.invoke(app, ["--workspace", str(ws), "--quiet", "enrich", "--json"]), "enrich")
    _ok(runner.invoke(app, ["--workspace", str(ws), "--quiet", "enrich", "--steps", "embed,topic", "--json"]),
        "enrich embed,topic")
    return ws


def outputs(ws: Path) -> dict[str, Any]:
    runner = CliRunner()
    out: dict[str, Any] = {}
    for name, argv in VERBS:
        res = runner.invoke(app, ["--workspace", str(ws), "--quiet", *argv])
        _ok(res, name)
        doc = orjson.loads(res.stdout)
        if name == "datasets":  # when the dataset was imported (a post's created_at is data, kept)
            doc = [{**d, "created_at": "<volatile>"} for d in doc]
        out[name] = normalise(doc)
    exported = ws.parent / "export.jsonl"
    _ok(runner.invoke(app, ["--workspace", str(ws), "--quiet", "export", str(exported), "--enrichment", "all"]),
        "export")
    rows = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    rows.sort(key=lambda r: (r["created_at"], r["platform"], r["post_id"]))
    out["export"] = normalise({"rows": len(rows), "columns": sorted(rows[0]), "every_500th": rows[::500]})
    return out


def normalise(doc: Any, key: str = "") -> Any:
    if key in _VOLATILE:
        return "<volatile>"
    if isinstance(doc, dict):
        return {k: normalise(v, k) for k, v in doc.items()}
    if isinstance(doc, list):
        return [normalise(v, key) for v in doc]
    return doc


def differences(got: Any, want: Any, where: str = "$", rel: float = 1e-6, out: list[str] | None = None,
                ) -> list[str]:
    """Paths where ``got`` differs from ``want`` (floats within ``rel``), at most 20."""
    out = [] if out is None else out
    if len(out) >= 20:
        return out
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got or k not in want:
                out.append(f"{where}.{k}: {'missing' if k not in got else 'new'}")
            else:
                differences(got[k], want[k], f"{where}.{k}", rel, out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            out.append(f"{where}: {len(got)} items, golden {len(want)}")
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            differences(g, w, f"{where}[{i}]", rel, out)
    elif isinstance(want, float) or isinstance(got, float):
        if not (isinstance(got, int | float) and isinstance(want, int | float)
                and math.isclose(got, want, rel_tol=rel, abs_tol=1e-9)):
            out.append(f"{where}: {got!r}, golden {want!r}")
    elif got != want:
        out.append(f"{where}: {str(got)[:80]!r}, golden {str(want)[:80]!r}")
    return out


def _ok(res: Any, what: str) -> None:
    assert res.exit_code == 0, f"{what}: exit {res.exit_code}\n{res.output[-2000:]}\n{res.exception!r}"
