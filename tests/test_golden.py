"""Every read verb's JSON on the IRA subset equals the golden copy in tests/golden/ira.json (see
golden_ira.py for the subset, the normalisation and how to regenerate)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from conftest import shared
from golden_ira import VERBS, build, differences, outputs

GOLDEN = Path(__file__).parent / "golden" / "ira.json"


@pytest.mark.slow
def test_every_verb_matches_its_golden_output(tmp_path: Path) -> None:
    got = outputs(build(shared("ira-troll-tweets-2016-election-window"), tmp_path))
    if os.environ.get("HUBBUB_GOLDEN_UPDATE"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(orjson.dumps(got, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    want = orjson.loads(GOLDEN.read_bytes())
    assert set(want) == {name for name, _ in VERBS} | {"export"}
    bad = {name: d for name in want if (d := differences(got[name], want[name], name))}
    assert not bad, "\n".join(line for d in bad.values() for line in d)
    assert want["datasets"] and want["coordination"], "the golden run must have found data and clusters"
