"""Content order: how analyses order posts and accounts so that the same data gives the same result
in every workspace (up to the key names).

Account keys (``acct_…``) depend on the workspace secret, and so do the ids of posts whose source
gives none (``h:…``, made from the author's key) and every text that names an account. Sorting or
breaking ties by them made results differ between workspaces (coordination clusters of 48 and 55
accounts from the same IRA data). Every analysis orders instead by what the data says:

- posts: creation time, platform, the text with account keys masked (``masked_text``), kind, and
  only then the post id (``POST_ORDER``); a seeded sample draws by a hash of the same content
  (``sample_key``);
- accounts: by their first post's time, number of posts, sum of post times and smallest hash of a
  masked text, and only then the key (``account_rank``).

Two posts (accounts) that these leave tied are the same content by different accounts; which comes
first can then still follow the keys.
"""

from __future__ import annotations

from typing import Any

from hubbub.privacy import KEY_PREFIX

KEY_PATTERN = KEY_PREFIX + "[0-9a-f]{24}"


def masked_text(col: str = "text") -> str:
    """SQL: the text column with every account key replaced by the bare prefix."""
    return f"regexp_replace(coalesce({col}, ''), '{KEY_PATTERN}', '{KEY_PREFIX}', 'g')"


def post_order(alias: str = "") -> str:
    """SQL ORDER BY list of posts in content order (``alias``: a table alias or '')."""
    p = f"{alias}." if alias else ""
    return f"{p}created_at NULLS LAST, {p}platform, {masked_text(p + 'text')}, {p}kind, {p}post_id"


POST_ORDER = post_order()


def sample_key(alias: str = "") -> str:
    """SQL: a hash of a post's content and a seed (bound as the next parameter) to sample by."""
    p = f"{alias}." if alias else ""
    return (f"md5({p}platform || chr(0) || coalesce(CAST(epoch_us({p}created_at) AS VARCHAR), '') || chr(0) || "
            f"{masked_text(p + 'text')} || chr(0) || ?::VARCHAR)")


def post_order_ibis(t: Any) -> list[Any]:
    """The same order as ``POST_ORDER`` for an Ibis table with the posts' columns."""
    return [t.created_at, t.platform, t.text.fill_null("").re_replace(KEY_PATTERN, KEY_PREFIX), t.kind, t.post_id]


def account_rank(table: str) -> str:
    """SQL: (u, r) over a table of (u, ts, text): each account's rank 1.. in content order."""
    return f"""SELECT u, row_number() OVER (ORDER BY min(ts), count(*), sum(ts), min(md5({masked_text()})), u) AS r
        FROM {table} GROUP BY u"""
