"""Matching posts, a page at a time, sorted by time or engagement; and their number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pyarrow as pa

from hubbub.query.compile import engagement
from hubbub.query.select import select
from hubbub.store.store import Store

SORTS = ("time", "engagement")
COLUMNS = ("platform", "post_id", "created_at", "author_key", "kind", "text", "likes", "reposts", "replies",
           "quotes", "dataset")


def ordered(posts: Any, sort: str = "time", ascending: bool = False) -> Any:
    """``posts`` with ``engagement`` added, in a total order: by time or engagement (then time,
    platform, post_id) so that pages never overlap or skip."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    t = posts.mutate(engagement=engagement(posts))
    d = ibis.asc if ascending else ibis.desc
    keys = [d("engagement")] if sort == "engagement" else []
    return t.order_by([*keys, d("created_at"), "platform", "post_id"])


def search(store: Store, query: str | None, dataset: str | None = None, sort: str = "time",
           ascending: bool = False, page: int = 1, limit: int = 20, enrichment: Sequence[Any] | None = None
           ) -> pa.Table:
    """One page (1-based) of the posts matching ``query``: COLUMNS plus ``engagement``, then the
    enrichment columns of ``enrichment`` (groups of ``hubbub.enrich.columns``; None: every one that ran)."""
    from hubbub.enrich.columns import with_enrichment

    if page < 1 or limit < 1:
        raise ValueError("page and limit must be at least 1")
    t = ordered(select(store, query, dataset), sort, ascending)
    rows = store.to_arrow(t.select(*COLUMNS, "engagement").limit(limit, offset=(page - 1) * limit))
    if enrichment is not None and not enrichment:
        return rows
    page_t = ibis.memtable(rows.append_column("_ord", pa.array(range(rows.num_rows), pa.int64())))
    return store.to_arrow(with_enrichment(store, page_t, enrichment, dataset).order_by("_ord").drop("_ord"))


def count(store: Store, query: str | None, dataset: str | None = None) -> int:
    return int(store.to_arrow(select(store, query, dataset).count().name("n").as_table())["n"][0].as_py())
