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


def trends_chart(series: pa.Table, interval: str, path: Path, title: str) -> Path:
    """A line chart (one series) or a stacked area chart (a breakdown) of posts per bucket."""
    from hubbub.analyze.trends import NONE, OTHER_OCCURRENCES, OTHER_POSTS, dense

    plt = _plt()
    buckets, cols = dense(series, interval)
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=120)
    if len(cols) <= 1:
        for k, v in cols.items():
            ax.plot(buckets, v, label=k, linewidth=1.4)
    elif cols:
        keys = sorted(cols, key=lambda k: (k in (OTHER_POSTS, OTHER_OCCURRENCES, NONE), -sum(cols[k]), k))
        ax.stackplot(buckets, *[cols[k] for k in keys], labels=keys, alpha=0.85)
        ax.legend(loc="upper left", fontsize=8, ncol=2, frameon=False)
    ax.set_title(title[:120], fontsize=10)
    ax.set_ylabel(f"posts per {interval} (UTC)")
    ax.grid(alpha=0.3)
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    try:
        fig.autofmt_xdate()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        svg = path.suffix.lower() == ".svg"  # no creation date in an SVG: same data, same file
        fig.savefig(path, format="svg" if svg else "png", metadata={"Date": None} if svg else None)
    finally:
        plt.close(fig)
    return path
