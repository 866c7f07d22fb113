"""Charts for the analyses (matplotlib, Agg backend: no display needed); PNG or SVG by suffix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

TOP_TOPICS = 8


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    # Titles and legends carry queries and topic labels (user and post text): a '$' must not start mathtext.
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def spikes_chart(series: pa.Table, spikes: pa.Table, path: Path, title: str = "") -> Path:
    """The series, its baseline and the spikes shaded."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 4))
    t = series["bucket"].to_pylist()
    ax.plot(t, series["posts"].to_pylist(), lw=0.8, label="posts")
    ax.plot(t, series["expected"].to_pylist(), lw=0.8, ls="--", label="baseline (expected)")
    for s in spikes.to_pylist():
        ax.axvspan(s["start"], s["end"], color="red", alpha=0.2, lw=0)
        ax.annotate(str(s["spike_id"]), (s["peak"], ax.get_ylim()[1] * 0.95), fontsize=7, ha="center")
    ax.set_title(title + " (UTC; shaded: spikes)")
    ax.legend(loc="upper right")
    return _save(plt, fig, path)


def topics_chart(series: pa.Table, topics: pa.Table, path: Path, title: str = "") -> Path:
    """Posts per bucket of the largest topics."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 5))
    top = topics["topic_id"].to_pylist()[:TOP_TOPICS]
    rows = series.to_pylist()
    for tid, label in zip(top, topics["label"].to_pylist()[:TOP_TOPICS], strict=True):
        pts = [(r["bucket"], r["posts"]) for r in rows if r["topic_id"] == tid]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=f"{tid}: {label}"[:50])
    ax.set_title(title + " (UTC)")
    ax.set_ylabel("posts")
    ax.legend(fontsize=7, loc="upper left")
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
