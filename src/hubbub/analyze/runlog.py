"""Provenance of analysis runs: one row in ``runs`` per execution (kind ``analysis:<name>``).

The row holds the code version, the parameters, the input selection (query, dataset, number of posts
selected, the last post time seen) and the counts of what was found, so a figure names its run and
can be reproduced. Reading never writes: a row is written only when the store was opened to save runs
(``Hubbub(save_runs=True)``, ``--save`` in the CLI); otherwise the run id is None and the result still
carries its parameters. ``list_runs`` reads
them back (``hubbub runs``), with the enrichment runs (kind ``enrich:<step>``, written by the runner).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pyarrow as pa

from hubbub import __version__
from hubbub.store.store import Store


def record_run(store: Store, kind: str, params: dict[str, Any], counts: dict[str, Any]) -> str | None:
    """Write a finished ``runs`` row for analysis ``kind`` when the store saves runs; returns its run id
    (None when it does not)."""
    if not store.save_runs:
        return None
    run_id = uuid.uuid4().hex[:20]
    dumps = orjson.OPT_NAIVE_UTC | orjson.OPT_SORT_KEYS
    store.con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, now(), now(), ?)",
        [run_id, f"analysis:{kind}", __version__, orjson.dumps(params, option=dumps, default=str).decode(),
         orjson.dumps(counts, option=dumps, default=str).decode()],
    )
    return run_id


def list_runs(store: Store, kind: str | None = None, dataset: str | None = None, limit: int = 50) -> pa.Table:
    """The recorded runs, newest first: run_id, kind (``enrich:<step>``, ``analysis:<name>``), started_at,
    finished_at, seconds, dataset and query (null: all), code_version, params and counts (JSON text).
    ``kind``: the whole kind, or one half of it (``enrich``, ``trends``)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return store.query(
        """WITH r AS (
            SELECT run_id, kind, started_at, finished_at,
                   date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds,
                   coalesce(json_extract_string(params, '$.dataset'),
                            json_extract_string(params, '$.selection.dataset')) AS dataset,
                   coalesce(json_extract_string(params, '$.query'),
                            json_extract_string(params, '$.selection.query')) AS query,
                   code_version, params::VARCHAR AS params, counts::VARCHAR AS counts
            FROM runs)
        SELECT * FROM r
        WHERE (? IS NULL OR kind = ? OR split_part(kind, ':', 1) = ? OR split_part(kind, ':', 2) = ?)
          AND (? IS NULL OR dataset = ?)
        ORDER BY started_at DESC, run_id LIMIT ?""",
        [kind, kind, kind, kind, dataset, dataset, limit],
    )
