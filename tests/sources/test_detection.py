"""Each format is detected on its own samples and claims no other real sample."""

import pytest
from conftest import FORMATS, detected

from hubbub.sources.files import find_inputs


@pytest.mark.parametrize(("folder", "fmt"), [
    ("twitter-api-tweepy-cassettes/v1.1", "twitter-v1"),
    ("reddit-api-praw-cassettes", "reddit-api"),
    ("reddit-pushshift-ndjson", "reddit-pushshift"),
])
def test_sniffing_does_not_claim_other_formats(folder: str, fmt: str):
    own = FORMATS / folder
    for f in find_inputs([FORMATS]):
        if f.member is not None or f.path.stat().st_size == 0:
            continue
        got = detected(f.path)
        if f.path.parent == own:
            assert got == fmt, f.path
        else:
            assert got != fmt, f.path
