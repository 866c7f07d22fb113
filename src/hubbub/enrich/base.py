"""The enrichment step interface.

A step declares its name, version, model, the post columns it reads and the columns it writes
(an Arrow schema). ``run(batch)`` gets an Arrow table with ``platform``, ``post_id`` and the
columns it reads, and returns one row per input row, in the same order, with its columns.

The runner (not the step) selects the posts to do, batches them, writes the results to table
``enrich_<name>`` keyed by (platform, post_id), records provenance and resumes after a crash.
A step must give the same output for the same post, model and seed whatever batch the post is in.
Models load once per process, in ``setup``.

A step may also read other steps' columns (``joins``: table -> columns, left-joined by post key),
name the steps that must run before it (``requires``), and have a phase before and after the
per-post batches (``prepare``/``finish``, in the runner's process: e.g. fitting a model on a sample).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class Step:
    name: str = ""
    version: str = "1"
    reads: tuple[str, ...] = ("text",)
    schema: pa.Schema = pa.schema([])
    description: str = ""
    requires: tuple[str, ...] = ()
    joins: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def model(self) -> dict[str, str]:
        """Model name and version (recorded in the run's provenance)."""
        return {}

    def params(self) -> dict[str, Any]:
        return {}

    def setup(self, seed: int) -> None:
        """Load models; called once per process before the first ``run``."""

    def prepare(self, store: Any, dataset: str | None, seed: int, run_id: str) -> dict[str, Any]:
        """Before the batches of a run with posts to do (e.g. fit or load a model); returns counts
        recorded in the run's provenance."""
        return {}

    def run(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError

    def finish(self, store: Any, dataset: str | None, seed: int, run_id: str) -> dict[str, Any]:
        """After the batches (e.g. work over the whole step table); returns counts for provenance."""
        return {}

    @property
    def table(self) -> str:
        return f"enrich_{self.name}"
