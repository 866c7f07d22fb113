"""Counts over the store, written as Ibis expressions so they run on any Ibis backend."""

from __future__ import annotations

from typing import Any

BREAKDOWNS = ("platform", "kind", "lang", "lang_declared", "day", "dataset")
# ``lang``: the detected language (the ``lang`` step's, else the declared one), as ``lang:`` and
# ``trends --by lang`` count; ``lang_declared``: the language the platform declared.
TITLES = {"lang": "lang (detected)", "lang_declared": "lang_declared (by the platform)"}


def posts_for(posts: Any, dataset: str | None = None) -> Any:
    return posts if dataset is None else posts.filter(posts.dataset == dataset)


def counts_by(posts: Any, by: str) -> Any:
    """Posts per value of one breakdown, largest first (ties by value)."""
    if by == "day":
        key = posts.created_at.date().cast("string").name("day")
    elif by in ("lang", "lang_declared"):  # ``lang`` is joined by ``hubbub.query.select.frame``
        key = posts[by].fill_null("(none)").name(by)
    elif by in BREAKDOWNS:
        key = posts[by].name(by)
    else:
        raise ValueError(f"unknown breakdown {by!r}; choose from {', '.join(BREAKDOWNS)}")
    out = posts.group_by(key).aggregate(posts=posts.count())
    if by == "day":
        return out.order_by(out.day)
    return out.order_by([out.posts.desc(), out[by]])


def overview(posts: Any) -> Any:
    return posts.aggregate(
        posts=posts.count(),
        accounts=posts.author_key.nunique(),
        first=posts.created_at.min(),
        last=posts.created_at.max(),
    )


def datasets(posts: Any, datasets_table: Any, files: Any) -> Any:
    per = posts.group_by(posts.dataset).aggregate(
        posts=posts.count(), first=posts.created_at.min(), last=posts.created_at.max()
    )
    nfiles = files.group_by(files.dataset).aggregate(
        files=files.count(), quarantined=files.quarantined.sum()
    )
    d = datasets_table
    j = d.left_join(per, d.name == per.dataset).left_join(nfiles, d.name == nfiles.dataset)
    return j.select(
        dataset=d.name,
        keep_handles=d.keep_handles,
        posts=j.posts.fill_null(0),
        files=j.files.fill_null(0),
        quarantined=j.quarantined.fill_null(0),
        first=j.first,
        last=j.last,
        created_at=d.created_at,
    ).order_by("dataset")
