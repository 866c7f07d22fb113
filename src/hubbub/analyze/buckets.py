"""UTC time buckets of the time series (trends, topic evolution and their charts, JSON and CSV).

One rule for every series: a series has a row for every bucket from its first to its last and for
every key it has (a breakdown value, a topic); a bucket without posts of a key counts 0 instead of
being left out, so that a chart never draws a line straight across empty buckets. Buckets are the
starts of UTC hours, days or ISO weeks (Monday), as ``truncate`` makes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def bucket_range(first: datetime, last: datetime, interval: str) -> list[datetime]:
    """Every bucket start from ``first`` to ``last`` (both bucket starts), in UTC."""
    step = STEP[interval]
    out, t, end = [], _utc(first), _utc(last)
    while t <= end:
        out.append(t)
        t += step
    return out


def fill_empty_buckets(table: pa.Table, interval: str, keys: Sequence[str], zero: Sequence[str],
                       buckets: Sequence[datetime] | None = None, per_bucket: Sequence[str] = (),
                       bucket: str = "bucket") -> pa.Table:
    """``table`` with a row for every bucket of ``buckets`` (default: its first to its last bucket) and
    every combination of ``keys`` values in it. Added rows have 0 in the ``zero`` columns, the
    bucket's value in the ``per_bucket`` columns (0 for a bucket without any row), null elsewhere.
    Rows come in bucket order, then in the order the key combinations first appear."""
    if table.num_rows == 0:
        return table
    rows = table.to_pylist()
    if buckets is None:
        times = [_utc(r[bucket]) for r in rows]
        buckets = bucket_range(min(times), max(times), interval)
    have: dict[tuple[datetime, tuple[Any, ...]], dict[str, Any]] = {}
    combos: dict[tuple[Any, ...], None] = {}
    at: dict[datetime, dict[str, Any]] = {}
    for r in rows:
        t = _utc(r[bucket])
        k = tuple(r[c] for c in keys)
        have[(t, k)] = r
        combos.setdefault(k, None)
        at.setdefault(t, {c: r[c] for c in per_bucket})
    out = []
    for t in buckets:
        t = _utc(t)
        for k in combos:
            r = have.get((t, k))
            if r is None:
                r = {c: None for c in table.column_names}
                r.update({bucket: t, **dict(zip(keys, k, strict=True)), **{c: 0 for c in zero},
                          **at.get(t, {c: 0 for c in per_bucket})})
            out.append(r)
    return pa.Table.from_pylist(out, schema=table.schema)
