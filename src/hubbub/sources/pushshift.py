"""Pushshift / Arctic Shift Reddit dumps: NDJSON with one comment (``RC_*``) or submission
(``RS_*``) object per line, as found in the monthly ``.zst`` files; also Pushshift API search
responses (``{"data": [...]}``).

Field mapping, identifiers (Reddit fullnames) and account keys are those of the ``reddit-api``
source (see ``hubbub.sources.reddit``), so the same thing imported from a dump and from the API
is one post.

``engagement_at`` (when ``score``/``num_comments`` were read): the latest retrieval time the line
gives: ``retrieved_on`` / ``retrieved_utc`` (Pushshift), ``updated_on`` and
``_meta.retrieved_2nd_on`` (Arctic Shift re-reads items about 36 hours after posting to update the
counts). When the second retrieval found the item deleted (``_meta.was_deleted_later``), the line
keeps what the first retrieval read, so the counts are taken to be from then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hubbub.sources.base import Bad, Draft, MappingError, Source, head_json_keys, item_reason, opt_time
from hubbub.sources.reddit import thing

_API_KIND = re.compile(r'"kind"\s*:\s*"(?:Listing|t[1-6]|more)"')
_DUMP_NAME = re.compile(r"(?:^|[/\\])R[CS]_\d{4}-\d{2}")


class Pushshift(Source):
    name = "reddit-pushshift"
    platform = "reddit"
    description = "Reddit Pushshift / Arctic Shift dumps (RC_/RS_ NDJSON) and Pushshift API responses"

    def sniff(self, head: bytes, name: str) -> float:
        s = head_json_keys(head)
        if not s.lstrip().startswith(("{", "[")):
            return 0.0
        if _API_KIND.search(s):
            return 0.0  # official API shapes (Listing wrappers) belong to reddit-api
        if '"subreddit"' in s and '"created_utc"' in s and ('"body"' in s or '"title"' in s):
            return 0.95 if _DUMP_NAME.search(name) else 0.9
        return 0.0

    def map(self, obj: Any) -> Iterator[Draft | Bad]:
        if not isinstance(obj, dict):
            raise MappingError("expected a JSON object (Pushshift comment or submission)")
        kind = _kind(obj)
        if kind is not None:
            yield thing(obj, kind, _collected(obj), "")
            return
        data = obj.get("data")
        if isinstance(data, list):  # Pushshift API search response
            for i, item in enumerate(data):
                loc = f"data[{i}]"
                k = _kind(item) if isinstance(item, dict) else None
                if k is None:
                    yield Bad("not a Reddit comment or submission", item, loc)
                    continue
                try:
                    yield thing(item, k, _collected(item), loc)
                except Exception as exc:  # noqa: BLE001 - one bad item never loses the others
                    yield Bad(item_reason(exc), item, loc)


def _kind(obj: dict[str, Any]) -> str | None:
    """``t1`` for a comment, ``t3`` for a submission, None for anything else (e.g. subreddits)."""
    name = obj.get("name")
    if isinstance(name, str) and name[:3] in ("t1_", "t3_"):
        return name[:2]
    if "body" in obj or "link_id" in obj:
        return "t1"
    if "title" in obj:
        return "t3"
    return None


def _collected(obj: dict[str, Any]) -> datetime | None:
    times = [obj.get("retrieved_on"), obj.get("retrieved_utc"), obj.get("updated_on")]
    meta = obj.get("_meta")
    if isinstance(meta, dict) and not meta.get("was_deleted_later"):
        times.append(meta.get("retrieved_2nd_on"))
    present = [t for t in times if t is not None and t != ""]
    if not present:
        return None
    if all(isinstance(t, int | float) and not isinstance(t, bool) for t in present):
        return opt_time(max(present))  # the usual case: epoch seconds, parsed once
    parsed = [dt for dt in map(opt_time, present) if dt is not None]
    return max(parsed, default=None)


SOURCES = [Pushshift()]
