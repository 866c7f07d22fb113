"""Provenance of analysis runs: one row in ``runs`` per execution (kind ``analysis:<name>``).

The row holds the code version, the parameters, the input selection (query, dataset, number of posts
selected, the last post time seen) and the counts of what was found, so a figure names its run and
can be reproduced. A read-only store records nothing and the run id is None.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from hubbub import __version__
from hubbub.store.store import Store


def record_run(store: Store, kind: str, params: dict[str, Any], counts: dict[str, Any]) -> str | None:
    """Write a finished ``runs`` row for analysis ``kind``; returns its run id (None when read-only)."""
    if store.read_only:
        return None
    run_id = uuid.uuid4().hex[:20]
    dumps = orjson.OPT_NAIVE_UTC | orjson.OPT_SORT_KEYS
    store.con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, now(), now(), ?)",
        [run_id, f"analysis:{kind}", __version__, orjson.dumps(params, option=dumps, default=str).decode(),
         orjson.dumps(counts, option=dumps, default=str).decode()],
    )
    return run_id
