"""CSV / JSON Lines with a column mapping, and the ira-csv and qut-csv presets, on real data."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from conftest import FORMATS, shared

from hubbub.ingest.importer import import_paths
from hubbub.privacy import Sealer
from hubbub.sources.registry import get_source
from hubbub.sources.tabular import (
    QUT_COLUMNS,
    MappedSource,
    MappingConfigError,
    load_mapping,
    mapped_source,
)

SANDERS = "sanders-twitter-corpus/full-corpus.csv"
IRA_WEEK = "ira-troll-tweets-2016-election-window/tweets/tweets_week_2016-10-01.csv"  # the smallest
BREXIT = FORMATS / "twitter-api-v2-twarc2" / "brexit.jsonl"

SANDERS_TOML = """
format = "csv"
platform = "twitter"
post_id = "TweetId"
created_at = "TweetDate"
text = "TweetText"
"""


def csv_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(physical line where the row starts, row) with the csv module: the independent count."""
    out = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        start = reader.line_num + 2  # after the header line
        for row in reader:
            out.append((start, row))
            start = reader.line_num + 1
    return out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Mapping files


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ('created_at = "TweetDate"\ntxt = "TweetText"\n', ["'txt'", "did you mean 'text'"]),
        ('created_at = "TweetDate"\nkind = "type"\n[kind_map]\nRT = "retweet"\n', ["'kind_map'", "'retweet'"]),
        ('created_at = "TweetDate"\nkind_map = { RT = "repost" }\n', ["'kind_map'", "'kind'"]),
        ('created_at = "TweetDate"\nplatform = "twitterx"\n', ["'platform'", "twitterx"]),
        ('text = "TweetText"\n', ["'created_at'"]),
        ('created_at = 3\n', ["'created_at'", "column name"]),
        ('created_at = "TweetDate"\nformat = "xlsx"\n', ["'format'", "xlsx"]),
        ('created_at = "TweetDate"\ntime_format = "YYYY-MM-DD"\n', ["'time_format'"]),
        ('created_at = "TweetDate"\nheader = false\n', ["'header'", "'columns'"]),
        ('created_at = "t"\ncolumns = ["a", "b"]\n', ["'created_at'", "'t'"]),
        ('created_at = "TweetDate"\npreset = "nope"\n', ["'preset'", "ira-csv"]),
        ('created_at = "TweetDate"\ntext = \n', ["not valid TOML"]),
    ],
)
def test_mapping_file_errors_name_the_key(tmp_path, body, names):
    path = write(tmp_path / "m.toml", body)
    with pytest.raises(MappingConfigError) as err:
        load_mapping(path)
    for n in names:
        assert n in str(err.value)
    assert str(path) in str(err.value)


def test_mapping_file_json_and_suffix(tmp_path):
    m = load_mapping(write(tmp_path / "m.json", json.dumps({"created_at": "d", "text": "t"})))
    assert m["created_at"] == "d" and m["format"] == "csv"
    with pytest.raises(MappingConfigError, match="not valid JSON"):
        load_mapping(write(tmp_path / "bad.json", "{created_at: d}"))
    with pytest.raises(MappingConfigError, match=r"\.toml or \.json"):
        load_mapping(write(tmp_path / "m.yaml", "created_at: d"))
    with pytest.raises(MappingConfigError, match="cannot read"):
        load_mapping(tmp_path / "missing.toml")


def test_generic_mapping_does_not_autodetect():
    src = mapped_source({"created_at": "TweetDate", "text": "TweetText"})
    head = shared(SANDERS).read_bytes()[:65536]
    assert src.sniff(head, "full-corpus.csv") == 0.0


# ---------------------------------------------------------------------------------------------
# Generic mapping on real CSV and JSONL


def test_generic_mapping_on_sanders_corpus(do_import, tmp_path):
    path = shared(SANDERS)
    rows = csv_rows(path)
    assert len(rows) == 5113  # README
    src = mapped_source(load_mapping(write(tmp_path / "sanders.toml", SANDERS_TOML)))
    imp = do_import(path, source=src)
    (f,) = imp.summary.files
    assert (f.read, f.imported, f.quarantined, f.format) == (len(rows), len(rows), 0, "mapped-csv")

    p = imp.post("126415614616154112")
    assert p["created_at"] == datetime(2011, 10, 18, 21, 53, 25, tzinfo=UTC)
    assert p["platform"] == "twitter" and p["kind"] == "post" and p["author_key"] is None
    assert len(p["mentions"]) == 1 and p["text"] == (
        f"Now all @{p['mentions'][0]} has to do is get swype on the iphone and it will be crack. Iphone that is")

    # locators are the physical line where a row starts; texts with newlines span lines
    multi = [(line, r) for line, r in rows if "\n" in r["TweetText"]]
    assert len(multi) > 100
    for line, r in (multi[0], multi[-1], rows[-1]):
        got = imp.store.query("SELECT source_locator FROM posts WHERE post_id = ?", [r["TweetId"]]).to_pylist()
        assert got == [{"source_locator": f"line {line}"}]
    q = imp.post("126315011600678913")  # "... #yourdaysarenumbered\n\n" at lines 29-31
    assert q["hashtags"] == ["yourdaysarenumbered"] and "#yourdaysarenumbered\n\n" in q["text"]


def test_time_format_and_missing_column(do_import, tmp_path):
    body = SANDERS_TOML + 'time_format = "%a %b %d %H:%M:%S %z %Y"\n'
    imp = do_import(shared(SANDERS), source=mapped_source(write(tmp_path / "m.toml", body)))
    assert imp.summary.files[0].imported == 5113
    assert imp.post("126404574230740992")["created_at"] == datetime(2011, 10, 18, 21, 9, 33, tzinfo=UTC)

    wrong = mapped_source({"created_at": "TweetDate", "text": "Text", "platform": "twitter"})
    summary = import_paths(imp.store, [shared(SANDERS)], "other", source=wrong)
    f = summary.files[0]
    assert f.status == "failed" and f.read == 0
    assert "'Text' (for text)" in f.error and "TweetText" in f.error and "Topic" in f.error


def test_kind_and_language_maps_match_the_preset(do_import, tmp_path):
    body = """
    platform = "twitter"
    author_handle = "author_id"
    text = "content"
    created_at = "publish_date"
    time_format = "%Y-%m-%d %H:%M:%S"
    lang_declared = "language"
    lang_map = "english-names"
    kind = "post_type"
    [kind_map]
    R = "repost"
    Q = "quote"
    """
    src = mapped_source(write(tmp_path / "ira.toml", body))
    generic = do_import(shared(IRA_WEEK), source=src, dataset="generic")
    by_kind = generic.store.query("SELECT kind, lang_declared, count(*) n FROM posts GROUP BY ALL").to_pylist()
    preset = do_import(shared(IRA_WEEK), dataset="preset")
    assert preset.summary.files[0].format == "ira-csv"
    assert preset.summary.files[0].imported == 0  # same posts (same content keys): all duplicates
    assert sum(r["n"] for r in by_kind) == generic.summary.files[0].imported == 2461


def test_generic_jsonl_with_nested_keys_matches_twitter_v2(do_import, tmp_path):
    flat = FORMATS / "twitter-api-v2-twarc2" / "flat.jsonl"
    src = mapped_source({
        "format": "jsonl", "platform": "twitter", "post_id": "id", "created_at": "created_at",
        "author_id": "author_id", "author_handle": "author.username", "text": "text", "lang_declared": "lang",
        "likes": "public_metrics.like_count", "reposts": "public_metrics.retweet_count",
        "conversation_id": "conversation_id", "extract_entities": False,
    })
    mapped = do_import(flat, source=src, dataset="mapped")
    rows = {r["post_id"]: r for r in mapped.posts()}
    assert len(rows) == mapped.summary.files[0].imported == 100
    native = do_import(flat, dataset="native")  # same store: same ids, so all duplicates
    assert native.summary.files[0].format == "twitter-v2" and native.summary.files[0].imported == 0
    for r in rows.values():
        assert r["author_key"] and r["likes"] is not None and r["conversation_id"]
        assert r["urls"] == [] and r["hashtags"] == []


# ---------------------------------------------------------------------------------------------
# Presets


def test_ira_preset_autodetected_counts_and_fields(do_import):
    path = shared(IRA_WEEK)
    rows = csv_rows(path)
    assert len(rows) == 2500
    # Rows repeated in the data (same author, minute and text) are one post (content key).
    distinct = {(r["author_id"].lower(), r["publish_date"], r["content"]) for _, r in rows}
    assert len(distinct) == 2461
    imp = do_import(path)
    (f,) = imp.summary.files
    assert f.format == "ira-csv" and f.status == "ok"
    assert (f.read, f.imported, f.duplicate, f.quarantined) == (2500, 2461, 39, 0)

    kinds = Counter(("quote" if r["post_type"] == "Q" else "repost" if r["retweet"] == "1" else "post")
                    for _, r in rows)
    got = imp.store.query("SELECT kind, count(*) n FROM posts GROUP BY kind").to_pylist()
    assert {r["kind"] for r in got} == set(kinds) == {"post", "repost", "quote"}
    assert sum(r["n"] for r in got) == 2461

    langs = {r["lang_declared"] for r in imp.posts()}
    assert {"en", "ru"} <= langs and all(x is None or len(x) == 2 for x in langs)

    (p,) = imp.posts("text LIKE 'Unarmed black men and women killed by police%'")
    assert p["text"] == "Unarmed black men and women killed by police #BlackLivesMatter https://t.co/o4nYjvJF5f"
    assert p["created_at"] == datetime(2016, 10, 1, tzinfo=UTC)
    assert p["kind"] == "post" and p["lang_declared"] == "en" and p["platform"] == "twitter"
    assert p["hashtags"] == ["BlackLivesMatter"] and p["urls"] == ["https://t.co/o4nYjvJF5f"]
    assert p["post_id"].startswith("h:") and p["author_key"].startswith("acct_")
    assert p["author_handle"] is None and p["likes"] is None and p["parent_id"] is None


def test_bad_csv_rows_are_quarantined_alone(do_import, tmp_path):
    lines = shared(IRA_WEEK).read_bytes().splitlines(keepends=True)[:11]
    assert b"Local doctor" in lines[8]
    lines[8] = lines[8].replace(b"doctor", b"doct\xf6r", 1)  # one Latin-1 byte: not UTF-8
    lines.insert(5, b"BlackNewsOutlet,cut short,United States,English\n")
    path = tmp_path / "ira_bad.csv"
    path.write_bytes(b"".join(lines))
    imp = do_import(path)
    (f,) = imp.summary.files
    assert f.format == "ira-csv" and f.status == "ok"
    assert (f.read, f.imported, f.quarantined) == (11, 9, 2)
    q = imp.store.query("SELECT locator, reason FROM quarantine").to_pylist()
    assert sorted(q, key=lambda r: int(r["locator"].split()[1])) == [
        {"locator": "line 6", "reason": "expected 11 fields, found 4"},
        {"locator": "line 10", "reason": "not valid utf-8-sig text"},
    ]


def _qut_rows(n: int = 50) -> tuple[list[list[str]], dict[str, dict]]:
    """QUT CSV rows from the first ``n`` real tweets of brexit.jsonl (twarc2 page)."""
    page = json.loads(BREXIT.read_text(encoding="utf-8").splitlines()[0])
    users = {u["id"]: u for u in page["includes"]["users"]}
    out, tweets = [], {}
    for t in page["data"][:n]:
        refs = {r["type"]: r["id"] for r in t.get("referenced_tweets", [])}
        urls = " ".join(u.get("expanded_url") or u["url"] for u in (t.get("entities") or {}).get("urls", []))
        when = datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        out.append([t["id"], t["author_id"], users[t["author_id"]]["username"], refs.get("retweeted", ""),
                    refs.get("replied_to", ""), t["text"], str(int(when.timestamp())), urls])
        tweets[t["id"]] = t
    return out, tweets


def _write_csv(path: Path, rows: list[list[str]], header: list[str] | None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


def test_qut_preset_from_real_tweets(do_import, tmp_path):
    rows, tweets = _qut_rows()
    path = _write_csv(tmp_path / "qut.csv", rows, QUT_COLUMNS)
    imp = do_import(path)
    (f,) = imp.summary.files
    assert f.format == "qut-csv" and (f.read, f.imported, f.quarantined) == (50, 50, 0)
    assert imp.count("platform = 'other'") == 50
    expected_kinds = Counter("repost" if r[3] else "reply" if r[4] else "post" for r in rows)
    got = {r["kind"]: r["n"] for r in imp.store.query("SELECT kind, count(*) n FROM posts GROUP BY kind").to_pylist()}
    assert got == dict(expected_kinds)

    for r in rows:
        p, t = imp.post(r[0]), tweets[r[0]]
        assert p["created_at"] == datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        assert p["reposted_id"] == (r[3] or None) and p["parent_id"] == (r[4] or None)
        assert len(p["urls"]) == len(r[7].split())
    rt = next(r for r in rows if r[3])
    p = imp.post(rt[0])
    assert p["kind"] == "repost" and p["reposted_id"] == rt[3] and p["author_key"].startswith("acct_")
    # (not a twitter.com/<handle>/... link: the pipeline may pseudonymise the handle in those)
    with_url = next(r for r in rows if r[7] and "twitter.com" not in r[7])
    assert imp.post(with_url[0])["urls"] == with_url[7].split()


def test_qut_header_rules(do_import, tmp_path):
    rows, _ = _qut_rows(20)
    # the toolkit skips the first row whatever its names; a file without one loses nothing here
    renamed = _write_csv(tmp_path / "renamed.csv", rows, ["id", "uid", "name", "rt", "re", "msg", "ts", "links"])
    bare = _write_csv(tmp_path / "bare.csv", rows, None)
    imp = do_import(renamed, bare, fmt="qut-csv")
    assert [(f.read, f.imported, f.duplicate) for f in imp.summary.files] == [(20, 20, 0), (20, 0, 20)]


def test_preset_override_in_mapping_gives_twitter_ids(do_import, tmp_path):
    rows, _ = _qut_rows(100)
    path = _write_csv(tmp_path / "qut.csv", rows, QUT_COLUMNS)
    native = do_import(BREXIT, dataset="native")
    src = mapped_source(write(tmp_path / "qut-twitter.toml", 'preset = "qut-csv"\nplatform = "twitter"\n'))
    assert isinstance(src, MappedSource) and src.name == "qut-csv"
    qut = do_import(path, source=src, dataset="qut")
    (f,) = qut.summary.files
    assert f.read == 100 and f.imported == 0 and f.duplicate == 100  # same platform + ids as twarc2
    assert native.count() == 100


def test_quarantined_row_can_be_mapped_again_from_raw(do_import, tmp_path):
    lines = shared(IRA_WEEK).read_text(encoding="utf-8").splitlines(keepends=True)[:6]
    lines[3] = lines[3].replace("2016-10-01 00:00:00", "1st Oct 2016", 1)
    imp = do_import(write(tmp_path / "ira_date.csv", "".join(lines)))
    assert imp.summary.files[0].quarantined == 1
    (q,) = imp.store.query("SELECT locator, reason, raw_sealed FROM quarantine").to_pylist()
    assert q["locator"] == "line 4" and "created_at" in q["reason"]
    row = orjson.loads(Sealer(imp.store.ws.secret()).open(q["raw_sealed"]))
    assert list(row) == ["author_id", "content", "region", "language", "publish_date", "harvested_date",
                         "following", "followers", "updates", "post_type", "retweet"]
    row["publish_date"] = "2016-10-01 00:00:00"  # fixed by hand
    (draft,) = get_source("ira-csv").map(row)
    assert draft["created_at"] == datetime(2016, 10, 1, tzinfo=UTC) and draft["author_handle"]
