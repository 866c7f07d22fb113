"""Syntax tree → an Ibis boolean expression over the posts (joined with the enrichment columns the
query needs), or over the hourly pre-aggregate when the query only uses fields it covers.

User text only ever becomes Ibis literals (bound values in the SQL that Ibis generates; regular
expressions escaped by ``query.text``), never SQL text. Every leaf is ``coalesce(pred, FALSE)``, so
``NOT`` of a field that is NULL for a post (no likes counted, no language detected) selects it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from hubbub.query.parse import MAX_COUNT, And, Field, Near, Node, Not, Or, Phrase, QueryError, Range, Term
from hubbub.query.text import compat_class, compat_groups, fold, near_regex, phrase_regex, term_regex, terms_regexes
from hubbub.urls import canonical_url

ENGAGEMENT = ("likes", "reposts", "replies", "quotes")  # what ``engagement:`` adds up (not views)


@ibis.udf.scalar.builtin
def strip_accents(s: str) -> str:  # type: ignore[empty-body]
    """DuckDB's ``strip_accents``; on Spark, register a UDF of ``hubbub.query.text.fold``."""


@ibis.udf.scalar.builtin
def strlen(s: str) -> int:  # type: ignore[empty-body]
    """DuckDB's ``strlen``: the length in bytes (Spark: ``octet_length``)."""


def folded(s: Any) -> Any:
    """``hubbub.query.text.fold`` in the store: the compatibility characters translated (only in
    texts that hold one: a text of ASCII, whose length in bytes is its length, skips the check),
    lower case, accents stripped."""
    x = s
    for cls, src, dst in compat_groups():
        x = ibis.ifelse(x.re_search(cls), x.translate(src, dst), x)
    odd = (strlen(s) != s.length()) & s.re_search(compat_class())
    return strip_accents(ibis.ifelse(odd, x, s).lower())


ENGAGEMENT_CAP = MAX_COUNT // len(ENGAGEMENT)  # each count is capped so that the sum fits in int64


def engagement(t: Any) -> Any:
    """likes + reposts + replies + quotes, a missing count as 0; each capped at ``ENGAGEMENT_CAP``
    (2.3e18) so that a record with absurd counts cannot make the sum overflow (and every search fail)."""
    total = ibis.literal(0, type=dt.int64)
    for c in ENGAGEMENT:
        total = total + ibis.least(t[c].cast("int64").fill_null(0), ENGAGEMENT_CAP)
    return total


def _ts(x: datetime) -> Any:
    return ibis.literal(x, type=dt.Timestamp(timezone="UTC"))


def in_range(col: Any, r: Range, lit: Callable[[Any], Any] = ibis.literal) -> Any:
    pred = col.notnull()  # also when both bounds are open (``likes:<=9223372036854775807``)
    if r.lo is not None:
        pred = pred & (col >= lit(r.lo))
    if r.hi is not None:
        pred = pred & (col < lit(r.hi))
    return pred


class Frame:
    """How a query's leaves read one table: the posts (with ``lang``, ``sentiment``, ``topic_id``
    joined when used, ``_ft`` the folded text) or the hourly aggregate."""

    def __init__(self, t: Any, topics: Any = None, aggregate: bool = False) -> None:
        self.t = t
        self.topics = topics
        self.aggregate = aggregate

    def text(self, node: Term | Phrase | Near) -> Any:
        ft = self.t._ft
        if isinstance(node, Term):
            lit, rx = term_regex(node.text, node.prefix)
            return ft.contains(lit) if rx is None else ft.contains(lit) & ft.re_search(rx)
        if isinstance(node, Phrase):
            lit, rx = phrase_regex(node.text)
            return ft.contains(lit) & ft.re_search(rx)
        a, b = node.left, node.right
        la, lb, rx = near_regex(a.text, isinstance(a, Term) and a.prefix, isinstance(a, Phrase),
                                b.text, isinstance(b, Term) and b.prefix, isinstance(b, Phrase), node.distance)
        return ft.contains(la) & ft.contains(lb) & ft.re_search(rx)

    def field(self, f: Field) -> Any:
        t, v = self.t, f.value
        if f.name == "date":
            assert isinstance(v, Range)
            return in_range(t.hour if self.aggregate else t.created_at, v, _ts)
        if f.name in ("likes", "reposts", "replies", "quotes", "views"):
            assert isinstance(v, Range)
            return in_range(t[f.name], v)
        if f.name == "engagement":
            assert isinstance(v, Range)
            return in_range(engagement(t), v)
        assert isinstance(v, str | int)
        if f.name in ("platform", "lang"):
            return t[f.name] == str(v).lower()
        if f.name in ("kind", "sentiment", "dataset", "author"):
            return t[{"author": "author_key"}.get(f.name, f.name)] == v
        if f.name == "topic":
            return self._topic(f)
        s = str(v)
        if f.name == "hashtag":
            fv = fold(s)
            if f.prefix:
                return t.hashtags.filter(lambda h: folded(h).startswith(fv)).length() > 0
            return t.hashtags.map(folded).contains(fv)
        if f.name == "domain":
            d = canonical_url(s)[1] or s.lower()
            if f.prefix:
                return t.domains.filter(lambda x: x.startswith(d)).length() > 0
            return t.domains.filter(lambda x: (x == d) | x.endswith("." + d)).length() > 0
        assert f.name == "url"
        u = canonical_url(s)[0]
        if f.prefix:
            return t.urls_canonical.filter(lambda x: x.startswith(u)).length() > 0
        return t.urls_canonical.contains(u)

    def _topic(self, f: Field) -> Any:
        col = self.t.topic_id
        if isinstance(f.value, int):
            return col == f.value
        if self.topics is None:
            raise QueryError("topic labels need the 'topics' table (run `hubbub enrich --steps topic`) "
                             "or use a topic number", f.pos)
        tp, fv = self.topics, fold(str(f.value))
        label = folded(tp.label)
        # a label is keywords joined by ", " (per language, joined by " / "): a value matches the whole label
        # or one keyword; a prefix matches the start of the label or of a keyword
        word = r"(?:^|, | / )" + re.escape(fv) + ("" if f.prefix else r"(?:$|,| /)")
        whole = label.startswith(fv) if f.prefix else label == fv
        ids = tp.filter(whole | label.re_search(word)).topic_id
        return col.isin(ids)


def _balanced(parts: list[Any], op: Callable[[Any, Any], Any]) -> Any:
    """``parts`` joined by ``op`` as a balanced tree (depth log2 n, not n: Ibis and the SQL
    compiler recurse over the expression, and a chain of 1,000 ORs overflows Python's stack)."""
    while len(parts) > 1:
        parts = [op(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


def compile_node(node: Node, frame: Frame) -> Any:
    if isinstance(node, And):
        return _balanced([compile_node(it, frame) for it in node.items], lambda a, b: a & b)
    if isinstance(node, Or):
        terms = [it for it in node.items if isinstance(it, Term)]
        if len(terms) < 2:
            return _balanced([compile_node(it, frame) for it in node.items], lambda a, b: a | b)
        ft = frame.t._ft  # a list of words: one regex per kind of boundary instead of one per word
        parts = [ft.re_search(rx).fill_null(False) for rx in terms_regexes([(t.text, t.prefix) for t in terms])]
        parts += [compile_node(it, frame) for it in node.items if not isinstance(it, Term)]
        return _balanced(parts, lambda a, b: a | b)
    if isinstance(node, Not):
        return ~compile_node(node.item, frame)
    if isinstance(node, Field):
        return frame.field(node).fill_null(False)
    return frame.text(node).fill_null(False)


def aggregate_covers(node: Node | None) -> bool:
    """Whether the hourly aggregate can answer the filter: only fields it has, dates on whole hours."""
    if node is None:
        return True
    if isinstance(node, And | Or):
        return all(aggregate_covers(i) for i in node.items)
    if isinstance(node, Not):
        return aggregate_covers(node.item)
    if not isinstance(node, Field):
        return False
    if node.name == "date":
        assert isinstance(node.value, Range)
        return all(x is None or (isinstance(x, datetime) and x.minute == x.second == x.microsecond == 0)
                   for x in (node.value.lo, node.value.hi))
    return node.name in ("dataset", "platform", "kind", "lang", "sentiment") or (
        node.name == "topic" and isinstance(node.value, int))
