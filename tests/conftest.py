"""Shared test fixtures.

Real data: tests read the shared data sets from ``HUBBUB_SHARED_DATA`` (default: ``../shared/data``
beside the repository), the same folder CI gets. Small attributed copies live in tests/fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hubbub.ingest.importer import ImportSummary, import_paths
from hubbub.privacy import Pseudonymiser, pseudonymise_post_id
from hubbub.store.store import Store
from hubbub.store.workspace import init_workspace

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(os.environ.get("HUBBUB_SHARED_DATA", REPO.parent / "shared" / "data"))
FORMATS = SHARED / "platform-formats"


NO_SHARED = f"needs the shared data sets: {SHARED} not found (set HUBBUB_SHARED_DATA to ../shared/data)"


def shared(rel: str) -> Path:
    """A path in the shared data. Without the shared folder at all (a plain clone) the test is skipped
    with one reason; with the folder but without this set, the test fails (the data went missing)."""
    if not SHARED.is_dir():
        pytest.skip(NO_SHARED)
    p = SHARED / rel
    if not p.exists():
        pytest.fail(f"shared data missing: {p} (set HUBBUB_SHARED_DATA)")
    return p


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Without the shared folder, a test that failed because it reached for it (its error names the
    missing folder) is reported as skipped with one reason; every other test runs and counts."""
    rep = yield
    if rep.failed and not SHARED.is_dir() and str(SHARED) in rep.longreprtext:
        rep.outcome = "skipped"
        rep.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {NO_SHARED}")
    return rep


@pytest.fixture
def store(tmp_path: Path):
    ws, _ = init_workspace(tmp_path / "ws")
    st = Store(ws)
    yield st
    st.close()


class Imported:
    """Result of importing into a fresh store: the summary plus helpers to look at posts."""

    def __init__(self, store: Store, summary: ImportSummary) -> None:
        self.store = store
        self.summary = summary

    def posts(self, where: str = "TRUE", params: list | None = None) -> list[dict]:
        # ``where`` is test-authored SQL, never post text.
        return self.store.query(
            f"SELECT * EXCLUDE (raw) FROM posts WHERE {where} ORDER BY platform, post_id", params
        ).to_pylist()

    def post(self, post_id: str) -> dict:
        rows = self.posts("post_id = ?", [post_id])
        assert len(rows) == 1, f"post {post_id}: found {len(rows)}"
        return rows[0]

    def pid(self, platform: str, raw_id: str | None) -> str | None:
        """The stored form of a platform post id: ids that embed an account (Mastodon URIs, Bluesky
        DIDs, Telegram channel ids, Facebook page ids) carry its pseudonymous key instead."""
        if raw_id is None:
            return None
        pseudo = Pseudonymiser(self.store.ws.secret())
        return pseudonymise_post_id(platform, raw_id, lambda ref: pseudo.key(platform, ref, None),
                                    lambda did: pseudo.key("bluesky", did, None))

    def count(self, where: str = "TRUE", params: list | None = None) -> int:
        return self.store.query(f"SELECT count(*) AS n FROM posts WHERE {where}", params).to_pylist()[0]["n"]


@pytest.fixture
def do_import(store: Store):
    def run(*paths: Path, dataset: str = "test", **kw) -> Imported:
        summary = import_paths(store, [Path(p) for p in paths], dataset, **kw)
        for f in summary.files:
            assert f.adds_up(), f
        return Imported(store, summary)

    return run


def detected(path: Path) -> str | None:
    """The format `hubbub import` detects for a file (None when no source is confident enough)."""
    from hubbub.ingest.importer import MIN_CONFIDENCE
    from hubbub.sources.files import InputFile, open_input
    from hubbub.sources.registry import detect

    with open_input(InputFile(path)) as fh:
        head = fh.peek(65536)[:65536]
    src, conf = detect(head, path.name)
    return src.name if src and conf >= MIN_CONFIDENCE else None
