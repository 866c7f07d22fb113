"""Hostile input (issue 10 sections 1 and 2): each test is a real sample with the one change the
issue describes. One bad record never stops an import, and nothing is lost or changed silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FORMATS

FLAT = FORMATS / "twitter-api-v2-twarc2" / "flat.jsonl"
TELEGRAM = FORMATS / "telegram-telethon-messages" / "Python_1050982793.ndjson"
YT_THREADS = FORMATS / "youtube-data-api-v3" / "commentThreads_list_response.json"
V1_TIMELINE = FORMATS / "twitter-api-tweepy-cassettes" / "v1.1" / "usertimeline.json"
MASTODON_STATUS = FORMATS / "mastodon-api" / "entity_status.json"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def _write_jsonl(path: Path, objs: list[Any]) -> Path:
    # the standard library writes integers beyond 64 bits, as some exporters do
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def _reasons(imp) -> list[tuple[str, str]]:
    return [(r["locator"], r["reason"]) for r in
            imp.store.query("SELECT locator, reason FROM quarantine ORDER BY locator").to_pylist()]


def _first_with(objs: list[dict], pred) -> int:
    return next(i for i, o in enumerate(objs) if pred(o))


# -- section 1: one bad record never aborts the import ---------------------------------------

@pytest.mark.parametrize("value", [1e30, "Infinity", 2**64, -(2**64)])
def test_count_outside_int64_quarantines_the_record_naming_the_field(tmp_path, do_import, value):
    tweets = _jsonl(FLAT)
    tweets[4]["public_metrics"]["like_count"] = value
    p = _write_jsonl(tmp_path / "flat.jsonl", tweets)
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.status, f.read, f.imported, f.quarantined) == ("ok", 100, 99, 1)
    [(loc, reason)] = _reasons(imp)
    assert loc == "line 5" and reason.startswith("likes: ")
    assert str(value) not in reason
    assert imp.summary.exit_code() == 3


@pytest.mark.parametrize(("path", "value"), [
    (("entities", "mentions", 0, "username"), 12345),
    (("entities", "mentions", 0, "username"), ["a", "b"]),
    (("entities", "hashtags", 0, "tag"), True),
    (("author", "username"), 7),
])
def test_wrong_json_type_in_a_twarc2_text_field_is_quarantined(tmp_path, do_import, path, value):
    tweets = _jsonl(FLAT)

    def has(o: dict) -> bool:
        try:
            _get(o, path)
        except (KeyError, IndexError, TypeError):
            return False
        return True

    i = _first_with(tweets, has)
    _set(tweets[i], path, value)
    imp = do_import(_write_jsonl(tmp_path / "flat.jsonl", tweets))
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (100, 99, 1)
    [(loc, _reason)] = _reasons(imp)
    assert loc == f"line {i + 1}"


def _get(o: Any, path: tuple) -> Any:
    for p in path:
        o = o[p]
    return o


def _set(o: Any, path: tuple, value: Any) -> None:
    _get(o, path[:-1])[path[-1]] = value


@pytest.mark.parametrize("value", [True, ["a", {"b": 1}], 5])
def test_telegram_message_of_another_type_is_quarantined(tmp_path, do_import, value):
    msgs = _jsonl(TELEGRAM)
    msgs[2]["message"] = value
    imp = do_import(_write_jsonl(tmp_path / TELEGRAM.name, msgs))
    f = imp.summary.files[0]
    assert f.quarantined == 1 and f.read == len(msgs) and f.adds_up()
    [(loc, reason)] = _reasons(imp)
    assert loc == "line 3" and "text" in reason


def test_youtube_text_original_object_quarantines_that_comment_only(tmp_path, do_import):
    doc = orjson.loads(YT_THREADS.read_bytes())
    clean = do_import(YT_THREADS, dataset="clean").summary.files[0]
    doc["items"][1]["snippet"]["topLevelComment"]["snippet"]["textOriginal"] = {}
    p = tmp_path / YT_THREADS.name
    p.write_bytes(orjson.dumps(doc))
    f = do_import(p, dataset="bad").summary.files[0]
    assert f.quarantined == 1
    assert f.read == clean.read


def test_mastodon_account_username_number_is_quarantined(tmp_path, do_import):
    rec = orjson.loads(MASTODON_STATUS.read_bytes())
    rec[0]["body"]["account"]["username"] = 42
    p = tmp_path / MASTODON_STATUS.name
    p.write_bytes(orjson.dumps(rec))
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.imported, f.quarantined) == (1, 1)


def _deep(n: int) -> Any:
    v: Any = "x"
    for _ in range(n):
        v = [v]
    return v


@pytest.mark.parametrize("depth", [300, 1000])
def test_deep_nesting_quarantines_the_record(tmp_path, do_import, depth):
    tweets = _jsonl(FLAT)
    lines = [orjson.dumps(t) for t in tweets]
    # orjson writes at most 254 levels: build the line by hand
    t = dict(tweets[7])
    t["context_annotations"] = "__DEEP__"
    lines[7] = orjson.dumps(t).replace(b'"__DEEP__"', b"[" * depth + b"1" + b"]" * depth)
    p = tmp_path / "flat.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (100, 99, 1)
    assert _reasons(imp)[0][0] == "line 8"


def test_deep_nesting_in_telegram_is_quarantined(tmp_path, do_import):
    msgs = _jsonl(TELEGRAM)
    lines = [orjson.dumps(m) for m in msgs]
    m = dict(msgs[1])
    m["entities"] = "__DEEP__"
    lines[1] = orjson.dumps(m).replace(b'"__DEEP__"', b'[{"_": "x", "e": ' * 400 + b"1" + b"}]" * 400)
    p = tmp_path / TELEGRAM.name
    p.write_bytes(b"\n".join(lines) + b"\n")
    imp = do_import(p)
    f = imp.summary.files[0]
    assert f.quarantined == 1 and f.read == len(msgs)
    assert _reasons(imp)[0][0] == "line 2"


def test_a_line_over_the_record_limit_is_quarantined_unread(tmp_path, do_import, monkeypatch):
    import gzip

    monkeypatch.setenv("HUBBUB_MAX_RECORD_BYTES", str(1 << 20))
    good = FLAT.read_bytes()
    p = tmp_path / "flat.jsonl.gz"
    # good lines, then a 3 MiB line without a newline (the file's end)
    p.write_bytes(gzip.compress(good + b'{"text": "' + b"a" * (3 << 20), mtime=0))
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.status, f.read, f.imported, f.quarantined) == ("ok", 101, 100, 1)
    assert _reasons(imp) == [("line 101", f"record over {1 << 20} bytes")]


def test_a_long_line_in_the_middle_of_a_csv_is_quarantined(tmp_path, do_import, monkeypatch):
    monkeypatch.setenv("HUBBUB_MAX_RECORD_BYTES", "4096")
    lines = IRA.read_bytes().split(b"\n")[:50]
    lines[10] = lines[10].replace(b",", b"," + b"x" * 10_000, 1)
    p = tmp_path / IRA.name
    p.write_bytes(b"\n".join(lines) + b"\n")
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.quarantined) == (49, 1)
    assert _reasons(imp) == [("line 11", "record over 4096 bytes")]


def test_bom_before_ndjson_is_not_data(tmp_path, do_import):
    p = tmp_path / "flat.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + FLAT.read_bytes())
    f = do_import(p).summary.files[0]
    assert (f.format, f.read, f.imported, f.quarantined) == ("twitter-v2", 100, 100, 0)


def test_a_first_record_over_64_kib_is_recognised(tmp_path, do_import):
    tweets = _jsonl(FLAT)
    # a long first record whose identifying keys come after the first 64 KiB
    first = {"text": "long " * 20_000} | {k: v for k, v in tweets[0].items() if k != "text"}
    p = _write_jsonl(tmp_path / "flat.jsonl", [first, *tweets[1:]])
    assert p.read_bytes().index(b'"author_id"') > 65536
    f = do_import(p).summary.files[0]
    assert (f.format, f.read, f.imported) == ("twitter-v2", 100, 100)


IRA = Path(str(FORMATS).replace("platform-formats", "ira-troll-tweets-2016-election-window")) / "tweets" \
    / "tweets_week_2016-10-01.csv"


def test_a_stray_quote_in_an_ira_row_loses_only_that_row(tmp_path, do_import):
    lines = IRA.read_bytes().split(b"\n")
    assert lines[2].startswith(b"BlackToLive,Teen Arrested")
    lines[2] = lines[2].replace(b",Teen", b',"Teen', 1)  # opens a quote that never closes on its line
    p = tmp_path / IRA.name
    p.write_bytes(b"\n".join(lines))
    imp = do_import(p, dataset="bad")
    f = imp.summary.files[0]
    assert [loc for loc, _ in _reasons(imp)] == ["line 3"]
    assert max(len(p["text"] or "") for p in imp.posts()) < 400  # no row swallowed the next ones
    # the clean file adds only the post of the quarantined row
    c = do_import(IRA, dataset="clean").summary.files[0]
    assert (c.read, c.imported, f.read, f.quarantined) == (f.read, 1, c.read, 1)


def test_a_truncated_csv_quarantines_its_cut_last_row(tmp_path, do_import):
    lines = IRA.read_bytes().split(b"\n")[:40]
    cut = lines[39][: lines[39].index(b"2016-10-01") + 8]  # the time cut to "2016-10-"
    p = tmp_path / IRA.name
    p.write_bytes(b"\n".join(lines[:39]) + b"\n" + cut)
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (39, 38, 1)
    [(loc, reason)] = _reasons(imp)
    assert loc == "line 40" and "cut short" in reason or "fields" in reason
    # a row cut after its time still lacks its line end: quarantined, not stored half
    whole = lines[39]
    p.write_bytes(b"\n".join(lines[:39]) + b"\n" + whole[: len(whole) - 1])
    imp2 = do_import(p, dataset="cut2")
    assert imp2.summary.files[0].quarantined == 1
    assert any("cut short" in r for _, r in _reasons(imp2))
    # kept with its values: a retry imports the row when it was whole after all
    from hubbub.ingest.importer import retry_quarantined

    r = retry_quarantined(imp2.store, dataset="cut2")
    assert (r.tried, r.resolved, r.imported) == (1, 1, 1)


def test_a_lone_surrogate_escape_keeps_the_twarc2_page(tmp_path, do_import):
    src = FORMATS / "twitter-api-v2-twarc2" / "brexit.jsonl"
    first = src.read_bytes().split(b"\n")[0]
    page = orjson.loads(first)
    assert len(page["data"]) == 100
    i = next(i for i, t in enumerate(page["data"]) if not t["text"].startswith("RT @") and len(t["text"]) > 40)
    text = page["data"][i]["text"]
    # a text cut between the two halves of an emoji, as exporters write it
    line = first.replace(orjson.dumps(text)[1:-1], orjson.dumps(text)[1:-1][:20] + rb"\ud83d", 1)
    assert rb"\ud83d" in line
    p = tmp_path / "brexit.jsonl"
    p.write_bytes(line + b"\n")
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.quarantined, f.imported) == (0, f.read) and f.read >= 100
    assert "\ufffd" in imp.post(page["data"][i]["id"])["text"]


def test_one_bad_byte_in_a_pretty_printed_document_quarantines_it_once(tmp_path, do_import):
    from hubbub.ingest.importer import retry_quarantined
    from hubbub.privacy import Sealer

    data = V1_TIMELINE.read_bytes()
    assert data.count(b"\n") > 1000
    k = data.index(b'"text"', 5000)
    p = tmp_path / V1_TIMELINE.name
    p.write_bytes(data[:k] + b"\x01" + data[k:])
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (1, 0, 1)
    [(loc, reason)] = _reasons(imp)
    assert loc == "document" and "invalid JSON document" in reason
    # the document is kept whole: once mended, `quarantine retry` reads it as the file it was
    sealer = Sealer(imp.store.ws.secret())
    imp.store.con.execute("UPDATE quarantine SET raw_sealed = ?", [sealer.seal(data)])
    r = retry_quarantined(imp.store)
    clean = do_import(V1_TIMELINE, dataset="clean").summary.files[0]
    assert (r.tried, r.resolved, r.imported) == (1, 1, clean.read - clean.skipped)


def test_epoch_seconds_of_year_9999_are_not_read_as_milliseconds(tmp_path, do_import):
    from datetime import UTC, datetime

    src = FORMATS / "reddit-pushshift-ndjson" / "RS_sample_submissions.ndjson"
    subs = _jsonl(src)
    subs[0]["created_utc"] = 253402300799  # 9999-12-31 in seconds: 1978 if read as milliseconds
    subs[1]["created_utc"] = subs[1]["created_utc"] * 1000  # milliseconds are still milliseconds
    imp = do_import(_write_jsonl(tmp_path / src.name, subs))
    f = imp.summary.files[0]
    assert (f.read, f.quarantined) == (len(subs), 1)
    [(loc, reason)] = _reasons(imp)
    assert loc == "line 1" and "created_utc" in reason
    got = imp.post(f"t3_{subs[1]['id']}")["created_at"]
    assert got == datetime.fromtimestamp(subs[1]["created_utc"] / 1000, tz=UTC)
    assert imp.count("year(created_at) < 1990") == 0


# -- section 2: nothing lost silently ---------------------------------------------------------

MASTODON_CONTEXT = FORMATS / "mastodon-api" / "entity_context.json"
REDDIT_SUBMISSIONS = FORMATS / "reddit-api-praw-cassettes" / "TestSubredditStreams.test_submissions.json"
BSKY_THREAD = FORMATS / "bluesky-xrpc-atproto" / "thread_view_post_with_embed_media.json"


def _changed_doc(tmp_path: Path, src: Path, change) -> Path:
    doc = orjson.loads(src.read_bytes())
    change(doc)
    p = tmp_path / src.name
    p.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return p


def test_mastodon_status_without_created_at_is_quarantined_not_skipped(tmp_path, do_import):
    p = _changed_doc(tmp_path, MASTODON_STATUS, lambda d: d[0]["body"].pop("created_at"))
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined, f.skipped) == (2, 1, 1, 0)
    assert _reasons(imp) == [("document response 0", "status without created_at")]


@pytest.mark.parametrize("key", ["created_at", "id"])
def test_mastodon_context_ancestor_missing_a_key_is_counted(tmp_path, do_import, key):
    p = _changed_doc(tmp_path, MASTODON_CONTEXT, lambda d: d[0]["body"]["ancestors"][0].pop(key))
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (2, 1, 1)
    assert _reasons(imp)[0][0] == "document response 0 ancestors[0]"


def test_a_recorded_response_with_a_null_body_is_quarantined(tmp_path, do_import):
    p = _changed_doc(tmp_path, MASTODON_STATUS, lambda d: d[1].update(body=None))
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (2, 1, 1)
    assert _reasons(imp) == [("document response 1", "recorded response without a JSON body")]


@pytest.mark.parametrize(("change", "reason"), [
    (lambda c: c.update(data=[1, 2]), "t3 thing whose data is not an object"),
    (lambda c: c.pop("kind"), "Listing child without kind"),
    (lambda c: c.update(kind="t9"), "Listing child of an unknown kind"),
])
def test_a_reddit_listing_child_that_is_not_a_thing_is_quarantined(tmp_path, do_import, change, reason):
    def mutate(doc):
        change(doc[0]["body"]["data"]["children"][5])

    p = _changed_doc(tmp_path, REDDIT_SUBMISSIONS, mutate)
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (104, 103, 1)
    assert _reasons(imp) == [("document response 0 children[5]", reason)]


def test_a_bluesky_thread_post_with_a_broken_record_keeps_the_quoted_post(tmp_path, do_import):
    def mutate(doc):
        doc["thread"]["post"]["record"] = 5

    imp = do_import(_changed_doc(tmp_path, BSKY_THREAD, mutate))
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (2, 1, 1)
    assert _reasons(imp) == [("document thread", "post view whose record is not an object")]


def test_a_bluesky_quoted_post_with_a_null_uri_is_quarantined(tmp_path, do_import):
    def mutate(doc):
        doc["thread"]["post"]["embed"]["record"]["record"]["uri"] = None

    imp = do_import(_changed_doc(tmp_path, BSKY_THREAD, mutate))
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (2, 1, 1)
    assert _reasons(imp) == [("document thread.embed[0]", "uri: missing or not text")]


# -- inputs and the workspace ------------------------------------------------------------------

def _cli(ws: Path, *args: str, env: dict | None = None, **kw):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hubbub.serve.cli", "--workspace", str(ws), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120, **kw)


def test_import_from_a_pipe_reads_it_as_a_stream(tmp_path):
    import os
    import threading

    r_fd, w_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(w_fd, "wb") as w:
            w.write(FLAT.read_bytes())

    t = threading.Thread(target=feed)
    t.start()
    try:
        r = _cli(tmp_path / "ws", "import", f"/dev/fd/{r_fd}", "--json", pass_fds=(r_fd,))
    finally:
        os.close(r_fd)
        t.join()
    assert r.returncode == 0, r.stderr
    f = orjson.loads(r.stdout)["files"][0]
    assert (f["format"], f["read"], f["imported"]) == ("twitter-v2", 100, 100)


def test_a_fifo_nobody_writes_to_fails_instead_of_hanging(tmp_path):
    import os

    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    r = _cli(tmp_path / "ws", "import", str(fifo), env={"HUBBUB_PIPE_WAIT": "1"})
    assert r.returncode == 4 and "Traceback" not in r.stderr
    assert "no writer" in r.stderr


def test_broken_symlinks_are_reported_and_arguments_checked_first(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_bytes(FLAT.read_bytes())
    (d / "b.jsonl").symlink_to(tmp_path / "missing.jsonl")
    r = _cli(tmp_path / "ws", "import", str(d), "--json")
    assert r.returncode == 4
    files = {Path(f["path"]).name: f for f in orjson.loads(r.stdout)["files"]}
    assert files["a.jsonl"]["imported"] == 100
    assert files["b.jsonl"]["status"] == "failed" and "broken symbolic link" in files["b.jsonl"]["error"]
    # as an argument after a good file: refused before anything is imported
    r = _cli(tmp_path / "ws2", "import", str(FLAT), str(d / "b.jsonl"), "-d", "late")
    assert r.returncode == 2 and "broken symbolic link" in r.stderr and "Traceback" not in r.stderr
    r = _cli(tmp_path / "ws2", "datasets", "--json")
    assert "late" not in r.stdout


def test_workspace_that_is_a_file_and_unwritable_export_are_clear_errors(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    r = _cli(f, "import", str(FLAT))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "is a file" in r.stderr
    ws = tmp_path / "ws"
    assert _cli(ws, "import", str(FLAT)).returncode == 0
    r = _cli(ws, "export", str(f / "sub" / "out.csv"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cannot write" in r.stderr


def test_a_workspace_in_use_is_one_clear_sentence(tmp_path):
    import os

    from hubbub.store.store import Store
    from hubbub.store.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    with Store(ws):  # this process holds the workspace, as a running import does
        for verb in (["datasets"], ["import", str(FLAT)], ["search", "vote"]):
            r = _cli(ws.path, *verb)
            assert r.returncode == 2, (verb, r.stderr)
            assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
            assert f"in use by process {os.getpid()}" in r.stderr


def test_a_post_already_in_another_dataset_is_reported(tmp_path, do_import):
    do_import(FLAT, dataset="pseudo")
    f = do_import(FLAT, dataset="kept", keep_handles=True).summary.files[0]
    assert (f.imported, f.duplicate, f.elsewhere) == (0, 100, 100)
    r = _cli(tmp_path / "cli", "import", str(FLAT), "-d", "a")
    assert r.returncode == 0
    r = _cli(tmp_path / "cli", "import", str(FLAT), "-d", "b", "--keep-handles")
    assert "100 of the duplicates are posts already stored in another dataset" in " ".join(r.stderr.split())


def test_one_item_of_an_unforeseen_shape_keeps_the_rest_of_the_page(tmp_path, do_import):
    """Found by the fuzz test: ``entities.urls = -1`` in one status of a search page quarantined
    the whole page (an AttributeError in the mapping); now that status alone is quarantined."""
    src = FORMATS / "twitter-api-tweepy-cassettes" / "v1.1" / "searchtweets.json"
    clean = do_import(src, dataset="clean").summary.files[0]

    def mutate(doc):
        doc[0]["body"]["statuses"][12]["entities"]["urls"] = -1

    imp = do_import(_changed_doc(tmp_path, src, mutate), dataset="bad")
    f = imp.summary.files[0]
    assert (f.read, f.quarantined, f.duplicate) == (clean.read, 1, clean.read - 1)
    [(loc, reason)] = [r for r in _reasons(imp)]
    assert loc == "document response 0 statuses[12]" and reason.startswith("unexpected record shape (")


def test_deep_nesting_in_one_status_of_a_page_keeps_the_others(tmp_path, do_import):
    """Found by the long fuzz run: 300 levels inside one status of a recorded search page lost the
    whole response (the body could not be written back as JSON)."""
    src = FORMATS / "twitter-api-tweepy-cassettes" / "v1.1" / "searchtweets.json"
    doc = orjson.loads(src.read_bytes())
    n = len(doc[0]["body"]["statuses"])
    doc[0]["body"]["statuses"][7]["metadata"]["x"] = "__DEEP__"
    p = tmp_path / src.name
    p.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2).replace(b'"__DEEP__"', b"[" * 300 + b"1" + b"]" * 300))
    imp = do_import(p)
    f = imp.summary.files[0]
    assert (f.read, f.imported, f.quarantined) == (n, n - 1, 1)
    assert _reasons(imp)[0][0] == "document response 0 statuses[7]"
