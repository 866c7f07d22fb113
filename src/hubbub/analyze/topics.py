"""Reading the topic model (``topics`` and ``enrich_topic``, written by the ``topic`` step) as Ibis
expressions: topics with labels and sizes, and a topic's representative posts."""

from __future__ import annotations

from typing import Any

import ibis

COLUMNS = ("topic_id", "label", "keywords", "languages", "size")


def topics(topics_t: Any, min_size: int = 0) -> Any:
    """Topics (largest first) with label, keywords, languages and size (posts assigned)."""
    t = topics_t.select(*COLUMNS, "keywords_by_lang")
    return t.filter(t["size"] >= min_size).order_by([ibis.desc("size"), "topic_id"])


def representatives(topics_t: Any, posts_t: Any, topic_id: int) -> Any:
    """The posts nearest the topic's centroid in the fit sample (up to 3), with their text."""
    t = topics_t.filter(topics_t.topic_id == topic_id).select("topic_id", "rep_platforms", "rep_post_ids")
    t = t.unnest("rep_post_ids", offset="rank")  # rank: nearest first, kept through the join
    reps = t.select("topic_id", "rank", platform=t.rep_platforms[t["rank"]], post_id=t.rep_post_ids)
    j = reps.join(posts_t, ["platform", "post_id"])
    return j.select("topic_id", "platform", "post_id", "created_at", "text", "rank").order_by("rank").drop("rank")


def topic_posts(enrich_t: Any, posts_t: Any, topic_id: int, limit: int = 20) -> Any:
    """Posts assigned to a topic, most similar first."""
    e = enrich_t.filter(enrich_t.topic_id == topic_id)
    j = e.join(posts_t, ["platform", "post_id"])
    return j.select("platform", "post_id", "created_at", "topic_score", "text").order_by(
        [ibis.desc("topic_score"), "platform", "post_id"]).limit(limit)
