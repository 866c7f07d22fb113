"""CooRTweet input shapes (the R package for coordinated-behaviour detection, Righetti & Balluff), detected
by their exact header rows:

- ``coortweet-csv``: ``object_id, account_id, content_id, timestamp_share`` (its ``prep_data`` output, e.g.
  the shared Russian retweets): one repost per row, ``object_id`` the post shared (``reposted_id``);
- ``coortweet-multimodal-csv``: ``account_id, post_id, url_id, hashtag_id, domain_id, phash_id, timestamp``
  (the German-election sample): anonymised integer ids. The platform comes from the account prefix
  (``fb_`` Facebook, ``tw_`` Twitter); a URL id becomes the link ``https://domain-<domain_id>.invalid/<url_id>``
  (so co-link and domains work on ids), a hashtag id the hashtag ``h<id>``; image hashes (``phash_id``) have
  no column in the post schema and stay in ``raw`` only.

CooRnet's link shares (CrowdTangle CSV) are read by the ``crowdtangle-csv`` source.
"""

from __future__ import annotations

from typing import Any

from hubbub.sources.base import Draft
from hubbub.sources.tabular import PresetSource

COORTWEET_HEADER = ("object_id", "account_id", "content_id", "timestamp_share")
COORTWEET_MAPPING: dict[str, Any] = {
    "name": "coortweet-csv",
    "description": "CooRTweet input: object_id (shared post), account_id, content_id, timestamp_share",
    "platform": "twitter",
    "post_id": "content_id",
    "author_id": "account_id",
    "reposted_id": "object_id",
    "created_at": "timestamp_share",
    "extract_entities": False,
}

MULTIMODAL_HEADER = ("account_id", "post_id", "url_id", "hashtag_id", "domain_id", "phash_id", "timestamp")
MULTIMODAL_MAPPING: dict[str, Any] = {
    "name": "coortweet-multimodal-csv",
    "description": "CooRTweet multi-modal sample: account, post, URL / hashtag / domain / image-hash ids, time",
    "platform": "other",
    "post_id": "post_id",
    "author_id": "account_id",
    "created_at": "timestamp",
    "extract_entities": False,
}
_PREFIX = {"fb_": "facebook", "tw_": "twitter"}


class CoortweetCsv(PresetSource):
    exact_header = COORTWEET_HEADER


class CoortweetMultimodalCsv(PresetSource):
    exact_header = MULTIMODAL_HEADER

    def draft(self, obj: dict[str, Any]) -> Draft:
        d = super().draft(obj)
        account = str(obj.get("account_id") or "")
        d["platform"] = _PREFIX.get(account[:3], "other")
        url, domain, tag = (str(obj.get(k) or "").strip() for k in ("url_id", "domain_id", "hashtag_id"))
        d["urls"] = [(f"https://domain-{domain or 'unknown'}.invalid/{url}", None)] if url else []
        d["hashtags"] = [f"h{tag}"] if tag else []
        return d


SOURCES = [CoortweetCsv(COORTWEET_MAPPING), CoortweetMultimodalCsv(MULTIMODAL_MAPPING)]
