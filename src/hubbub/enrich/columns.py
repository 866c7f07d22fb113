"""The enrichment columns that reach the user's tools: ``hubbub export``, ``search --export``,
``search --json``, ``hubbub snapshot`` and ``Hubbub.posts()`` all add them to the posts from here.

``GROUPS`` is the one definition: each group is one enrichment step (``enrich_<step>`` table), the
columns it gives (name in the export, column of the step's table, type from the step's schema) and
a ``<step>_version`` column, the version of the step that wrote the post's row (the step's code
changed since when it differs from the current one; ``hubbub enrich`` redoes those posts).
A post the step has not enriched gets nulls in every column of the group.

Which groups: ``None`` (the default, ``--enrichment all``) is every step that has run in this store
(its table exists), except the embedding (512 floats a post) which is only given when named;
``parse_groups("lang,sentiment")`` names them (a named step that never ran gives typed null
columns, so a script can rely on the schema); ``"none"`` gives the posts columns alone.

Two groups are computed rather than read: ``topic_label`` from the ``topics`` table of the model
that assigned the topic, and ``neardup_group``/``neardup_size`` from ``enrich.clusters`` (the
clusters of ``hubbub`` defaults over the dataset exported, or every dataset when none is given).
Table and column names here come from this code only; no user text becomes SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa

from hubbub.store.store import Store

ENRICHMENT_ALL, ENRICHMENT_NONE = "all", "none"


@dataclass(frozen=True)
class Column:
    name: str  # in the export
    source: str | None  # column of enrich_<step>; None: computed (its type is given)
    doc: str
    type: pa.DataType | None = None


@dataclass(frozen=True)
class Group:
    step: str
    columns: tuple[Column, ...]
    default: bool = True  # part of ``all``

    @property
    def table(self) -> str:
        return f"enrich_{self.step}"

    @property
    def version_column(self) -> str:
        return f"{self.step}_version"

    def names(self) -> list[str]:
        return [c.name for c in self.columns] + [self.version_column]

    def types(self) -> dict[str, pa.DataType]:
        from hubbub.enrich.registry import get_step

        schema = get_step(self.step).schema
        out = {c.name: c.type if c.type is not None else schema.field(c.source).type for c in self.columns}
        out[self.version_column] = pa.string()
        return out


def _sentiment(step: str, what: str, score: str = "P(positive) - P(negative), from -1 to 1") -> Group:
    return Group(step, (Column(step, "sentiment", f"{what}: `positive`, `neutral` or `negative`"),
                        Column(f"{step}_score", "sentiment_score", score)))


GROUPS: tuple[Group, ...] = (
    Group("lang", (Column("lang", "lang", "detected language, ISO 639-1 or 639-3 (`und`: undetermined, e.g. too "
                          "short); what the platform declared is `lang_declared`"),
                   Column("lang_score", "lang_score", "confidence in the detected language (0-1)"),
                   Column("lang_script", "script", "writing system of the text (`Latn`, `Cyrl`, ...)"))),
    _sentiment("sentiment", "sentiment of the default model"),
    _sentiment("sentiment_vader", "VADER sentiment (English posts)", "VADER's compound score, from -1 to 1"),
    _sentiment("sentiment_embed", "sentiment from the post's embedding"),
    _sentiment("sentiment_hf", "sentiment of a local transformer model"),
    Group("topic", (Column("topic_id", "topic_id", "topic number (stable across runs; -1: outlier)"),
                    Column("topic_score", "topic_score", "similarity of the post to its topic (null: not embedded)"),
                    Column("topic_label", None, "the topic's keywords, as `hubbub topics` shows them",
                           pa.string()))),
    Group("keyphrases", (Column("keyphrases", "keyphrases", "key phrases of the text"),)),
    Group("entities", (Column("entities", "entities", "named entities as written"),
                       Column("entity_labels", "entity_labels", "the kind of each entity (`PERSON`, `ORG`, "
                              "`GPE`, ...), in the same order"),
                       Column("entities_model", "ner_model", "the spaCy model used (null: no model for the "
                              "post's language)"))),
    Group("neardup", (Column("neardup_group", None, "near-duplicate cluster: `<platform>:<post_id>` of its "
                             "earliest post (the post itself when it has no near-duplicate)", pa.string()),
                      Column("neardup_size", None, "posts in that cluster (1: none like it)", pa.int64()))),
    Group("embed", (Column("embedding", "embedding", "sentence embedding (L2-normalised floats)"),
                    Column("embed_model", "embed_model", "the encoder that made it")), default=False),
)
BY_STEP = {g.step: g for g in GROUPS}


def parse_groups(spec: str | Sequence[str] | None) -> list[Group] | None:
    """``None`` or ``"all"``: None (every step that ran); ``"none"``: []; else the named steps, in the
    order of ``GROUPS``. ValueError naming the choices for an unknown name."""
    if spec is None:
        return None
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if names == [ENRICHMENT_ALL]:
        return None
    if names == [ENRICHMENT_NONE]:
        return []
    unknown = [n for n in names if n not in BY_STEP]
    if unknown or not names:
        raise ValueError(f"unknown enrichment {', '.join(unknown) or repr(spec)}; choose "
                         f"{ENRICHMENT_ALL}, {ENRICHMENT_NONE} or steps from {', '.join(BY_STEP)}")
    return [g for g in GROUPS if g.step in names]


def chosen(store: Store, groups: Sequence[Group] | None) -> list[Group]:
    """The groups to add: ``groups``, or (None) the default ones whose step has run in ``store``."""
    if groups is not None:
        return list(groups)
    return [g for g in GROUPS if g.default and store.has_table(g.table)]


def enrichment_names(store: Store, groups: Sequence[Group] | None = None) -> list[str]:
    return [n for g in chosen(store, groups) for n in g.names()]


def with_enrichment(store: Store, posts: Any, groups: Sequence[Group] | None = None,
                    dataset: str | None = None) -> Any:
    """The Ibis table ``posts`` (with ``platform`` and ``post_id``) with the columns of ``groups``
    appended (None: the default ones that ran), left-joined by post key: one row per post."""
    t = posts
    for g in chosen(store, groups):
        t = _add(store, t, g, dataset)
    return t


def _nulls(t: Any, g: Group) -> Any:
    return t.mutate(**{n: ibis.null(ibis.dtype(ty)) for n, ty in g.types().items()})


def _add(store: Store, t: Any, g: Group, dataset: str | None) -> Any:
    if not store.has_table(g.table):
        return _nulls(t, g)
    e = store.table(g.table)
    cols = {c.name: e[c.source] for c in g.columns if c.source is not None}
    right = e.select(_ep=e.platform, _eid=e.post_id, **cols, **{g.version_column: e.step_version})
    if g.step == "topic":
        right = _topic_label(store, right)
    elif g.step == "neardup":
        right = _neardup(store, e, dataset)
    j = t.left_join(right, [t.platform == right._ep, t.post_id == right._eid])
    return j.select(*t.columns, *g.names())


def _topic_label(store: Store, right: Any) -> Any:
    """``topic_label`` of the model that assigned the topic (model id ``topic-<version>``)."""
    if not store.has_table("topics"):
        return right.mutate(topic_label=ibis.null(ibis.dtype(pa.string())))
    tp = store.table("topics")
    tp = tp.select(_mid=tp.model_id, _tid=tp.topic_id, topic_label=tp.label)
    j = right.left_join(tp, [right.topic_id == tp._tid, ibis.literal("topic-").concat(right.topic_version) == tp._mid])
    return j.select("_ep", "_eid", "topic_id", "topic_score", "topic_label", "topic_version")




def _neardup(store: Store, e: Any, dataset: str | None) -> Any:
    """Cluster and size of each post with near-duplicate keys (a post alone: itself, size 1)."""
    from hubbub.enrich.clusters import neardup_clusters

    clusters = neardup_clusters(store, dataset=dataset).select(["platform", "post_id", "cluster_id",
                                                                "cluster_size"])
    # a view of this connection, seen by Ibis and by plain SQL (snapshot); one per dataset, so that an
    # expression made earlier for another dataset keeps its clusters; the name is a hash, never user text
    view = "_hubbub_neardup_" + hashlib.sha256(repr(dataset).encode()).hexdigest()[:16]
    store.con.register(view, clusters)
    cl = store.table(view)
    cl = cl.select(_cp=cl.platform, _cid=cl.post_id, _g=cl.cluster_id, _n=cl.cluster_size)
    keyed = e.select(_ep=e.platform, _eid=e.post_id, _len=e.nd_len, neardup_version=e.step_version)
    j = keyed.left_join(cl, [keyed._ep == cl._cp, keyed._eid == cl._cid])
    from hubbub.enrich.steps.neardup import NeardupStep

    alone = (j._len > 0) & j._g.isnull() & (j.neardup_version == NeardupStep.version)
    return j.select(
        "_ep", "_eid",
        neardup_group=ibis.ifelse(alone, j._ep.concat(":", j._eid), j._g),
        neardup_size=ibis.ifelse(alone, ibis.literal(1, "int64"), j._n.cast("int64")),
        neardup_version="neardup_version")
