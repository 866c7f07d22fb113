"""The one post schema every source maps into (documented in docs/schema.md).

A source produces *drafts*: plain dicts with the keys of ``DRAFT_FIELDS``. The import
pipeline (not the source) turns drafts into stored rows: it pseudonymises account
references, scrubs the raw record and adds dataset and provenance columns.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 2

KINDS = ("post", "reply", "repost", "quote", "comment")
PLATFORMS = ("twitter", "reddit", "mastodon", "bluesky", "youtube", "facebook", "telegram", "other")

_ts = pa.timestamp("us", tz="UTC")
_strs = pa.list_(pa.string())

# Stored columns, in order. Keep docs/schema.md in step with this list.
POST_SCHEMA = pa.schema(
    [
        ("platform", pa.string()),
        ("post_id", pa.string()),
        ("created_at", _ts),
        ("author_key", pa.string()),
        ("author_handle", pa.string()),  # NULL unless the dataset opted in to raw handles
        ("text", pa.string()),
        ("lang_declared", pa.string()),
        ("kind", pa.string()),
        ("parent_id", pa.string()),
        ("conversation_id", pa.string()),
        ("reposted_id", pa.string()),
        ("quoted_id", pa.string()),
        ("urls", _strs),  # expanded where the platform gives the expansion
        ("urls_canonical", _strs),
        ("domains", _strs),
        ("hashtags", _strs),  # without '#', case kept
        ("mentions", _strs),  # pseudonymous account keys
        ("media_types", _strs),
        ("likes", pa.int64()),
        ("reposts", pa.int64()),
        ("replies", pa.int64()),
        ("quotes", pa.int64()),
        ("views", pa.int64()),
        ("engagement_at", _ts),  # when the engagement counts were collected, if known
        ("dataset", pa.string()),
        ("source_file", pa.string()),
        ("source_locator", pa.string()),  # "line 12", "line 3 data[4]", "offset 1024", ...
        ("import_run", pa.string()),
        ("raw", pa.string()),  # pseudonymised JSON of the source record (compressed by the store)
    ]
)
POST_COLUMNS = tuple(POST_SCHEMA.names)

# Keys a source may set on a draft. Account references are raw here and never stored as such.
DRAFT_FIELDS = (
    "platform",
    "post_id",
    "created_at",  # datetime (aware, any zone) or None
    "author_id",  # platform's stable account id (raw; pseudonymised by the pipeline)
    "author_handle",  # @name / username (raw)
    "text",
    "lang_declared",
    "kind",
    "parent_id",
    "conversation_id",
    "reposted_id",
    "quoted_id",
    "urls",  # list of (url, expanded_or_None)
    "hashtags",
    "mentions",  # list of (account_id_or_None, handle_or_None)
    "media_types",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "views",
    "engagement_at",
    "author_name",  # display name (raw; scrubbed from the raw record, never stored)
    "accounts",  # other accounts in the raw record: list of (account_id, handle, display_name)
    "raw",  # the JSON-able source record for this post
    "locator",  # position inside the record, appended to the record's locator
)
