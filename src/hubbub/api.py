"""The Python API: the same verbs as the CLI, returning Arrow tables (``.to_pandas()``,
``polars.from_arrow(t)``) or small dataclasses.

    >>> from hubbub import api
    >>> hb = api.Hubbub("hubbub-data", create=True)
    >>> summary = hb.import_files(["exports/"], dataset="elections")
    >>> hb.stats()["platform"].to_pandas()
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hubbub.analyze import stats as st
from hubbub.ingest.importer import ImportSummary, Progress, RetryResult, import_paths, retry_quarantined
from hubbub.sources.base import Source
from hubbub.store.store import Store
from hubbub.store.workspace import Workspace, default_path, init_workspace, open_workspace

EXPORT_FORMATS = ("csv", "parquet", "jsonl")


class Hubbub:
    def __init__(self, workspace: str | Path | None = None, create: bool = False, read_only: bool = False):
        path = Path(workspace) if workspace is not None else default_path()
        self.ws: Workspace = open_workspace(path, create=create)
        self.store = Store(self.ws, read_only=read_only)

    @staticmethod
    def init(workspace: str | Path | None = None) -> tuple[Hubbub, bool]:
        path = Path(workspace) if workspace is not None else default_path()
        _, created = init_workspace(path)
        return Hubbub(path), created

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Hubbub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- import ---------------------------------------------------------------------------------
    def import_files(
        self,
        paths: Sequence[str | Path],
        dataset: str,
        format: str | None = None,
        source: Source | None = None,
        keep_handles: bool = False,
        progress: Progress | None = None,
        force: bool = False,
    ) -> ImportSummary:
        return import_paths(self.store, [Path(p) for p in paths], dataset, fmt=format, source=source,
                            keep_handles=keep_handles, progress=progress, force=force)

    def retry_quarantine(self, dataset: str | None = None, format: str | None = None,
                         source: Source | None = None) -> RetryResult:
        return retry_quarantined(self.store, dataset, fmt=format, source=source)

    # -- enrich -------------------------------------------------------------------------------
    def enrich(self, steps: Sequence[str] | None = None, dataset: str | None = None, seed: int = 0,
               batch_size: int = 5_000, progress: Any = None, workers: int | None = None) -> list[Any]:
        """Run enrichment steps (default: all default steps) on posts not yet enriched."""
        from hubbub.enrich.registry import default_steps, get_step
        from hubbub.enrich.runner import enrich

        chosen = [get_step(s) for s in steps] if steps else default_steps()
        return enrich(self.store, chosen, dataset=dataset, seed=seed, batch_size=batch_size, progress=progress,
                      workers=workers)

    # -- look -----------------------------------------------------------------------------------
    def posts(self, dataset: str | None = None) -> Any:
        """The posts table as an Ibis expression (for notebooks: ``.to_pandas()``, ``.to_polars()``)."""
        return st.posts_for(self.store.table("posts"), dataset)

    def datasets(self) -> pa.Table:
        s = self.store
        return s.to_arrow(st.datasets(s.table("posts"), s.table("datasets"), s.table("files")))

    def stats(self, dataset: str | None = None, by: Sequence[str] = ("platform", "kind", "lang", "day")
              ) -> dict[str, pa.Table]:
        posts = self.posts(dataset)
        out = {"overview": self.store.to_arrow(st.overview(posts))}
        for b in by:
            out[b] = self.store.to_arrow(st.counts_by(posts, b))
        return out

    def quarantine(self, dataset: str | None = None, include_resolved: bool = False) -> pa.Table:
        return self.store.query(
            """SELECT dataset, source_file, locator, format, reason, resolved FROM quarantine
            WHERE (? IS NULL OR dataset = ?) AND (? OR NOT resolved) ORDER BY rowid""",
            [dataset, dataset, include_resolved],
        )

    # -- export ---------------------------------------------------------------------------------
    def export(self, out: str | Path, format: str | None = None, dataset: str | None = None,
               include_raw: bool = False) -> int:
        """Write posts to CSV, Parquet or JSONL (format from the suffix if not given). Returns rows."""
        out = Path(out)
        fmt = (format or out.suffix.lstrip(".")).lower()
        if fmt == "ndjson":
            fmt = "jsonl"
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"{out}: unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        table = self.store.query(
            "SELECT * FROM posts WHERE (? IS NULL OR dataset = ?) ORDER BY created_at, platform, post_id",
            [dataset, dataset],
        )
        if not include_raw:
            table = table.drop_columns(["raw"])
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            pq.write_table(table, out, compression="zstd")
        elif fmt == "csv":
            pacsv.write_csv(_lists_as_json(table), out)
        else:
            with open(out, "wb") as fh:
                for row in table.to_pylist():
                    fh.write(orjson.dumps(row, option=orjson.OPT_NAIVE_UTC) + b"\n")
        return table.num_rows


def _lists_as_json(table: pa.Table) -> pa.Table:
    cols = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type):
            col = pa.array([None if v is None else orjson.dumps(v).decode() for v in col.to_pylist()],
                           pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)
