"""``hubbub enrich``: run steps over the posts not yet enriched by the same step version.

- Incremental: a post is done for a step when ``enrich_<step>`` has its row with the current
  step version; a new version redoes every post (its old row is replaced).
- Resumable: each batch is committed with its results; a killed run loses at most the batch in
  flight, and running again finishes the rest, giving the tables one clean run gives.
- Provenance: each step execution writes a ``runs`` row (step, version, model, parameters, seed,
  input selection, counts, times); every result row names its run.
- Deterministic: posts are processed in (platform, post_id) order and steps are per-post
  deterministic for a given seed.
- A step's ``requires`` run first (incrementally, like any step) when not asked for; its
  ``prepare`` and ``finish`` phases run in this process around the batches of a run with posts to do.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from hubbub import __version__
from hubbub.enrich.base import Step
from hubbub.parallel import in_order, worker_pool
from hubbub.store.migrations import duck_type
from hubbub.store.store import Store

Progress = Callable[[str, int, int], None]  # step name, done, total


@dataclass
class StepResult:
    step: str
    run_id: str
    todo: int = 0
    done: int = 0
    params: dict[str, Any] = field(default_factory=dict)


def ensure_table(store: Store, step: Step) -> None:
    cols = ", ".join(f"{f.name} {duck_type(f.type)}" for f in step.schema)
    store.con.execute(
        f"""CREATE TABLE IF NOT EXISTS {step.table} (platform VARCHAR NOT NULL, post_id VARCHAR NOT NULL,
        {cols}, step_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL)"""
    )


def enrich(
    store: Store,
    steps: Sequence[Step],
    dataset: str | None = None,
    seed: int = 0,
    batch_size: int = 5_000,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[StepResult]:
    """Run ``steps`` in order. With more than one batch to do, a step runs in ``workers`` processes
    (default: one per core) while this process reads posts and writes results."""
    results = []
    for step in with_requirements(steps):
        if not step.name.isidentifier():
            raise ValueError(f"step name {step.name!r} must be an identifier")
        ensure_table(store, step)
        results.append(_run_step(store, step, dataset, seed, batch_size, progress,
                                 workers if workers is not None else (os.cpu_count() or 1)))
    return results


def with_requirements(steps: Sequence[Step]) -> list[Step]:
    """``steps`` with the steps they require (registry instances) inserted before them, once."""
    from hubbub.enrich.registry import get_step

    given = {s.name: s for s in steps}
    out: list[Step] = []

    def add(step: Step, chain: tuple[str, ...]) -> None:
        if step.name in chain:
            raise ValueError(f"steps require each other in a cycle: {' -> '.join((*chain, step.name))}")
        if any(s.name == step.name for s in out):
            return
        for name in step.requires:
            add(given.get(name) or get_step(name), (*chain, step.name))
        out.append(step)

    for step in steps:
        add(step, ())
    return out


def _run_step(store: Store, step: Step, dataset: str | None, seed: int, batch_size: int,
              progress: Progress | None, workers: int) -> StepResult:
    con = store.con
    todo = store.query(
        f"""SELECT p.platform, p.post_id FROM posts p
        WHERE (? IS NULL OR p.dataset = ?)
          AND NOT EXISTS (SELECT 1 FROM {step.table} e WHERE e.platform = p.platform
                          AND e.post_id = p.post_id AND e.step_version = ?)
        ORDER BY p.platform, p.post_id""",
        [dataset, dataset, step.version],
    )
    run_id = uuid.uuid4().hex[:20]
    params = {"step": step.name, "version": step.version, "model": step.model(), "params": step.params(),
              "seed": seed, "selection": {"dataset": dataset, "posts_to_do": todo.num_rows},
              "batch_size": batch_size}
    res = StepResult(step.name, run_id, todo.num_rows, 0, params)
    con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, now(), NULL, NULL)",
                [run_id, f"enrich:{step.name}", __version__, orjson.dumps(params).decode()])
    counts: dict[str, Any] = {}
    if todo.num_rows:
        counts.update(step.prepare(store, dataset, seed, run_id))
    out_cols = [f.name for f in step.schema]
    if progress and todo.num_rows:
        progress(step.name, 0, res.todo)  # the total is known before the first batch
    batches = _batches(store, step, todo, batch_size)
    pool = worker_pool(workers, _init, (step, seed)) if todo.num_rows > batch_size and workers > 1 else None
    if pool is None and todo.num_rows:
        step.setup(seed)
    try:
        if pool is not None:
            results = in_order(pool, _work, batches, 2 * workers)
        else:
            results = ((b, step.run(b)) for b in batches)
        for batch, out in results:
            if out.num_rows != batch.num_rows:
                raise RuntimeError(f"step {step.name} returned {out.num_rows} rows for {batch.num_rows}")
            _write(store, step, batch, out, out_cols, run_id)
            res.done += batch.num_rows
            if progress:
                progress(step.name, res.done, res.todo)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if todo.num_rows:
        counts.update(step.finish(store, dataset, seed, run_id))
    con.execute("UPDATE runs SET finished_at = now(), counts = ? WHERE run_id = ?",
                [orjson.dumps({"todo": res.todo, "done": res.done, **counts}).decode(), run_id])
    return res


def _batches(store: Store, step: Step, todo: pa.Table, batch_size: int) -> Iterator[pa.Table]:
    cols = [f"p.{c}" for c in step.reads]
    joins = ""
    for i, (table, columns) in enumerate(step.joins):  # table and column names come from the step's code
        cols += [f"j{i}.{c}" for c in columns]
        joins += f" LEFT JOIN {table} j{i} ON j{i}.platform = p.platform AND j{i}.post_id = p.post_id"
    reads = ", ".join(cols)
    for start in range(0, todo.num_rows, batch_size):
        store.con.register("_keys", todo.slice(start, batch_size))
        try:
            yield store.query(
                f"""SELECT p.platform, p.post_id{', ' + reads if reads else ''}
                FROM _keys k JOIN posts p ON p.platform = k.platform AND p.post_id = k.post_id{joins}
                ORDER BY p.platform, p.post_id"""
            )
        finally:
            store.con.unregister("_keys")


def _write(store: Store, step: Step, batch: pa.Table, out: pa.Table, out_cols: list[str], run_id: str) -> None:
    """One batch's results, committed on their own (a killed run keeps every finished batch)."""
    n = batch.num_rows
    table = pa.table(
        [batch["platform"], batch["post_id"], *[out[c] for c in out_cols],
         pa.array([step.version] * n, pa.string()), pa.array([run_id] * n, pa.string())],
        names=["platform", "post_id", *out_cols, "step_version", "run_id"],
    )
    con = store.con
    with store.transaction():
        con.register("_out", table)
        try:
            con.execute(f"""DELETE FROM {step.table} t USING _out o
                WHERE t.platform = o.platform AND t.post_id = o.post_id""")
            con.execute(f"INSERT INTO {step.table} SELECT * FROM _out")
        finally:
            con.unregister("_out")


# -- worker processes: each loads the step's model once ----------------------------------------
_STEP: dict[str, Step] = {}


def _init(step: Step, seed: int) -> None:
    step.setup(seed)
    _STEP["step"] = step


def _work(batch: pa.Table) -> pa.Table:
    return _STEP["step"].run(batch)
