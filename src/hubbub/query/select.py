"""A query over the store: the posts that match, as an Ibis table (``select``), and the same posts
with the enrichment columns a breakdown needs (``frame``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubbub.query.compile import Frame, compile_node, folded
from hubbub.query.parse import And, Field, Node, Not, Or, QueryError, fields_used, parse
from hubbub.store.store import Store

# field → (enrichment table, step name, column)
ENRICHED = {"lang": ("enrich_lang", "lang", "lang"), "sentiment": ("enrich_sentiment", "sentiment", "sentiment"),
            "topic": ("enrich_topic", "topic", "topic_id")}
_COLUMN = {"lang": "lang", "sentiment": "sentiment", "topic": "topic_id"}


def current_rows(store: Store, table: str, step: str) -> Any:
    """The rows of an enrichment table written by the step's current version (all rows when the
    step is not registered here); None when the table does not exist."""
    from hubbub.enrich.registry import all_steps

    if not store.has_table(table):
        return None
    t = store.table(table)
    s = all_steps().get(step)
    if s is not None and "step_version" in t.columns:
        t = t.filter(t.step_version == s.version)
    return t


def _join(store: Store, posts: Any, field: str, pos: int = 1) -> Any:
    table, step, col = ENRICHED[field]
    e = current_rows(store, table, step)
    if e is None:
        if field == "lang":  # no language detection yet: the platform's declared language
            return posts.mutate(lang=posts.lang_declared)
        what = "topics were not computed" if field == "topic" else "sentiment was not computed"
        run = "run `hubbub enrich --steps topic`" if field == "topic" else "run `hubbub enrich --steps sentiment`"
        raise QueryError(f"{field}: {what} for this store ({run})", pos)
    e = e.select(_jp=e.platform, _jid=e.post_id, _jv=e[col])
    j = posts.left_join(e, [posts.platform == e._jp, posts.post_id == e._jid])
    value = j._jv.fill_null(j.lang_declared) if field == "lang" else j._jv
    return j.mutate(**{_COLUMN[field]: value}).drop("_jp", "_jid", "_jv")


def _field_pos(node: Node | None, name: str) -> int:
    """The column of the first use of field ``name`` (0: not used)."""
    if isinstance(node, Field) and node.name == name:
        return node.pos
    if isinstance(node, Not):
        return _field_pos(node.item, name)
    if isinstance(node, And | Or):
        for it in node.items:
            p = _field_pos(it, name)
            if p:
                return p
    return 0


def frame(store: Store, query: str | None, dataset: str | None = None, extra: Iterable[str] = ()) -> Any:
    """The matching posts with every posts column plus ``lang`` / ``sentiment`` / ``topic_id`` for
    each of those the query uses or ``extra`` names. Raises ``QueryError``."""
    q = query or ""
    node = parse(q)
    posts = store.table("posts")
    if dataset is not None:
        posts = posts.filter(posts.dataset == dataset)
    used = fields_used(node)
    t = posts
    try:
        for f in ("lang", "sentiment", "topic"):
            if f in used or f in extra:
                t = _join(store, t, f, _field_pos(node, f) or 1)
        if node is None:
            return t
        if "text" in used:
            t = t.mutate(_ft=folded(t.text))
        topics = store.table("topics") if "topic" in used and store.has_table("topics") else None
        out = t.filter(compile_node(node, Frame(t, topics)))
    except QueryError as e:
        raise QueryError(e.message, e.position, q) from None
    return out.drop("_ft") if "text" in used else out


def select(store: Store, query: str | None, dataset: str | None = None) -> Any:
    """The posts matching ``query`` (None or blank: all posts) in ``dataset`` (None: all), as an Ibis
    table with the columns of ``posts``. Raises ``QueryError`` for a malformed query."""
    t = frame(store, query, dataset)
    return t.select(*store.table("posts").columns)


def validate(query: str, store: Store | None = None) -> list[dict[str, Any]]:
    """Problems of ``query`` (empty list: it is fine), each {message, position, display}. With a
    store, also what the store lacks (e.g. ``topic:`` before topics were computed)."""
    try:
        if store is None:
            parse(query)
        else:
            frame(store, query)
    except QueryError as e:
        return [{"message": e.message, "position": e.position, "display": e.display()}]
    return []
