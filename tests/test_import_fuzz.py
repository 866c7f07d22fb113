"""Must-show 1 of issue 10: seeded mutations of the real samples of every format import without a
traceback, with counts that add up, and keep every record the mutation did not touch
(tests/fuzz_formats.py). ``HUBBUB_FUZZ_CASES`` sets the cases per format (150 here; e.g. 5000 for
a long run); ``HUBBUB_FUZZ_SEED`` another seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SHARED
from fuzz_formats import SAMPLES, fuzz

CASES = int(os.environ.get("HUBBUB_FUZZ_CASES", "150"))
SEED = int(os.environ.get("HUBBUB_FUZZ_SEED", "10"))


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_mutated_samples_import_cleanly(fmt: str, tmp_path: Path, store):
    report = fuzz(SHARED, tmp_path, CASES, seed=SEED, formats=[fmt], store=store)
    assert report.cases[fmt] >= CASES * 0.9 and report.stored[fmt] > 0
    assert not report.findings, "\n".join(f"[{f.sample}: {f.mutation}] {f.problem}" for f in report.findings[:10])
