"""``hubbub eval``: run the evaluations and write one JSON and one Markdown report."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from hubbub import __version__

TASKS = ("lang", "sentiment", "topics", "coordination")


def report_paths(out_dir: Path) -> tuple[Path, Path]:
    """Where ``write_reports`` writes: (eval.json, eval.md) in ``out_dir``."""
    return out_dir / "eval.json", out_dir / "eval.md"


def _runner(task: str) -> Callable[..., dict[str, Any]]:
    if task == "lang":
        from hubbub.eval.lang import evaluate_lang

        return evaluate_lang
    if task == "sentiment":
        from hubbub.eval.sentiment import evaluate_sentiment

        return evaluate_sentiment
    if task == "topics":
        from hubbub.eval.topics import evaluate_topics

        return evaluate_topics
    if task == "coordination":
        from hubbub.eval.coordination import evaluate_coordination

        return evaluate_coordination
    raise ValueError(f"unknown evaluation {task!r}; choose from {', '.join(TASKS)}")


def run_eval(data_dir: Path, split: str = "validation", tasks: Sequence[str] = TASKS,
             limit: int | None = None) -> dict[str, Any]:
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such data folder (use --data)")
    results = []
    for task in tasks:
        t0 = time.perf_counter()
        r = _runner(task)(data_dir, split=split, limit=limit)
        r["seconds"] = round(time.perf_counter() - t0, 2)
        results.append(r)
    return {"hubbub": __version__, "data": str(data_dir), "split": split, "limit": limit,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "results": results}


def write_reports(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    j, m = report_paths(out_dir)
    j.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    m.write_text(markdown(report), encoding="utf-8")
    return j, m


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Hubbub evaluation ({report['split']} split)", "",
             f"Hubbub {report['hubbub']}, data `{report['data']}`, {report['at']}"
             + (f", limit {report['limit']} per set" if report.get("limit") else ""), ""]
    for r in report["results"]:
        lines += [f"## {r['task']}", ""]
        rows = r.get("rows") or []
        if rows:
            cols = list(rows[0].keys())
            lines.append("| " + " | ".join(cols) + " |")
            lines.append("|" + "---|" * len(cols))
            for row in rows:
                lines.append("| " + " | ".join(_cell(row.get(c)) for c in cols) + " |")
        if r.get("per_language"):
            lines += _per_language(r["per_language"])
        extra = {k: v for k, v in r.items() if k not in ("rows", "task", "per_language")}
        if extra:
            lines += ["", ", ".join(f"{k}: {_cell(v)}" for k, v in extra.items())]
        lines.append("")
    return "\n".join(lines)


def _per_language(details: list[dict[str, Any]]) -> list[str]:
    """Confusion matrix (true class by predicted: negative / neutral / positive) and reliability bins."""
    out = ["", "Per language (default model): confusion matrix, rows = true negative / neutral / positive, "
           "columns = predicted in the same order; reliability = confidence bin: accuracy (posts).", "",
           "| dataset | language | n | accuracy | confusion | reliability | ECE |", "|---|---|---|---|---|---|---|"]
    for d in details:
        conf = " / ".join(" ".join(str(v) for v in row) for row in d["confusion_true_by_predicted"])
        rel = "; ".join(f"{b['confidence']}: {b['accuracy']:.2f} ({b['n']})" for b in d["calibration"])
        out.append(f"| {d['dataset']} | {d['language']} | {d['n']:,} | {d['accuracy']:.3f} | {conf} | {rel} "
                   f"| {d['ece']:.3f} |")
    return out


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v).replace("|", "\\|")
