"""Rules the X/Twitter sources (API v1.1 and v2) share for a post's text.

A retweet's own text is cut by the API ("RT @user: " + the first ~140 characters + "…"). Where the
record holds the retweeted original (v2 ``includes.tweets`` or a flattened ``referenced_tweets``
entry, v1.1 ``retweeted_status``), the retweet's text is ``"RT @<author of the original>: "`` +
the original's full text, and its hashtags, links and mentions are the original's (plus the
retweeted author). This keeps the ``RT @user:`` prefix the API puts on every retweet (so v1.1 and
v2 retweets read alike and a search for the retweet mark still works) and the whole text, as
twarc-csv (which keeps only the original text) and 4CAT (which keeps the prefix) do.
"""

from __future__ import annotations

import re

_RT_PREFIX = re.compile(r"RT @[A-Za-z0-9_]{1,15}: ")


def retweet_text(own: str | None, original_handle: str | None, original_text: str | None) -> str | None:
    """The text of a retweet: its ``RT @user: `` prefix (as given, else built from the original's
    author) followed by the original's full text. ``own`` when the original's text is unknown."""
    if not original_text:
        return own
    m = _RT_PREFIX.match(own or "")
    if m:
        prefix = m.group(0)
    elif original_handle:
        prefix = f"RT @{original_handle}: "
    else:
        prefix = ""
    return prefix + original_text
