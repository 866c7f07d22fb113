from datetime import UTC, datetime

from conftest import FORMATS

V2 = FORMATS / "twitter-api-v2-twarc2"
TWEEPY_V2 = FORMATS / "twitter-api-tweepy-cassettes" / "v2"


def test_twarc2_pages_counts_and_fields(do_import):
    imp = do_import(V2 / "two_tweets.jsonl", V2 / "entities_test.jsonl", V2 / "brexit.jsonl")
    by_file = {f.path.rsplit("/", 1)[-1]: f for f in imp.summary.files}
    assert by_file["two_tweets.jsonl"].imported == 1
    assert by_file["entities_test.jsonl"].imported == 474
    assert by_file["brexit.jsonl"].read == 100
    assert imp.count() == 1 + 474 + 100 - by_file["brexit.jsonl"].duplicate

    rt = imp.post("1394735776701816833")
    assert rt["kind"] == "repost"
    assert rt["reposted_id"] == "1391677057810288641"
    assert rt["created_at"] == datetime(2021, 5, 18, 19, 24, 56, tzinfo=UTC)
    assert rt["hashtags"] == ["POIUYTREWQ"]
    assert rt["author_key"].startswith("acct_")
    # the mentioned handle is pseudonymised in the text too
    assert "bibaigna96" not in rt["text"]
    assert rt["text"].startswith("RT @acct_") and rt["text"].endswith(": #POIUYTREWQ")
    assert rt["likes"] == 0 and rt["reposts"] == 1
    assert rt["mentions"] and rt["mentions"][0].startswith("acct_")


def test_flat_tweets(do_import):
    imp = do_import(V2 / "flat.jsonl")
    assert imp.summary.files[0].imported == 100
    rows = imp.posts()
    assert {r["kind"] for r in rows} <= {"post", "reply", "repost", "quote"}
    assert all(r["created_at"] is not None and r["text"] for r in rows)


def test_urls_expanded_and_canonical(do_import):
    imp = do_import(V2 / "many_urls.jsonl")
    (p,) = imp.posts()
    assert p["urls"] == ["https://uiadrian.gumroad.com/l/web-design-guide/?offer_code=twk0uc9f7"]
    assert p["urls_canonical"] == ["https://uiadrian.gumroad.com/l/web-design-guide?offer_code=twk0uc9f7"]
    assert all(not u.startswith("https://t.co/") for u in p["urls"]), p["urls"]
    assert p["domains"] == ["uiadrian.gumroad.com"]


def test_streaming_with_error_lines_quarantined(do_import):
    imp = do_import(V2 / "streaming_output_with_error.jsonl")
    f = imp.summary.files[0]
    assert f.quarantined == 1 and f.imported == 7
    q = imp.store.query("SELECT locator, reason FROM quarantine").to_pylist()
    assert q[0]["locator"].startswith("line ") and "JSON" in q[0]["reason"]


def test_non_tweet_outputs_are_skipped_not_failed(do_import):
    imp = do_import(V2 / "counts.jsonl", V2 / "users.jsonl")
    for f in imp.summary.files:
        assert f.status == "ok" and f.imported == 0 and f.skipped > 0


def test_reimport_adds_nothing(do_import):
    imp = do_import(V2 / "brexit.jsonl")
    n = imp.count()
    skipped = do_import(V2 / "brexit.jsonl")
    assert skipped.summary.files[0].status == "already-imported"
    again = do_import(V2 / "brexit.jsonl", force=True)
    assert again.summary.files[0].imported == 0
    assert again.summary.files[0].duplicate == again.summary.files[0].read
    assert again.count() == n


def test_tweepy_v2_cassettes(do_import):
    imp = do_import(TWEEPY_V2 / "client_search_recent_tweets.json", TWEEPY_V2 / "client_get_tweet.json")
    assert imp.summary.total("imported") >= 2
    assert all(f.status == "ok" for f in imp.summary.files)


def test_default_fields_only_tweets_get_time_from_snowflake_id(do_import):
    imp = do_import(TWEEPY_V2 / "client_search_recent_tweets.json")
    p = imp.post("1578516068309794817")
    # the text is the time the tweet was sent (tweepy's test bot), in UTC
    assert p["created_at"].strftime("%Y-%m-%d %H:%M:%S") == "2022-10-07 22:42:12"
    assert p["author_key"] is None


def _tweets_in(path) -> list[dict]:
    """Tweet objects in a v2 file, read independently of Hubbub: `data` of every page or
    recorded response body (object or list), or one flattened tweet per line."""
    import json

    raw = path.read_text()
    if not raw.strip():
        return []
    try:
        docs = [json.loads(raw)]
    except json.JSONDecodeError:
        docs = []
        for line in raw.splitlines():
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the deliberately broken lines of streaming_output_with_error.jsonl
    out = []
    for doc in docs:
        bodies = [r["body"] for r in doc] if isinstance(doc, list) else [doc]
        for b in bodies:
            if not isinstance(b, dict):
                continue
            data = b.get("data") if "data" in b else (b if "text" in b and "id" in b else None)
            items = data if isinstance(data, list) else [data] if data else []
            out += [t for t in items if isinstance(t, dict) and "text" in t]
    return out


def test_every_v2_sample_file_counted(do_import):
    files = sorted(p for p in [*V2.iterdir(), *TWEEPY_V2.iterdir()] if p.suffix in (".json", ".jsonl"))
    imp = do_import(*files)
    by = {f.path: f for f in imp.summary.files}
    total = 0
    seen: set[str] = set()
    for p in files:
        f = by[str(p)]
        tweets = _tweets_in(p)
        if p.name == "empty.json":
            assert f.status == "failed" and f.error == "empty file"
            continue
        if f.status == "already-imported":  # byte-identical to a file before it
            continue
        assert f.status == "ok", (p, f)
        assert f.read - f.quarantined - f.skipped == len(tweets), p.name
        new = {t["id"] for t in tweets} - seen
        assert f.imported == len(new), p.name
        seen |= new
        total += f.imported
    assert imp.count() == total == len(seen) > 1300
    # a reply, found independently: its parent is the replied-to tweet
    reply = next(t for p in files for t in _tweets_in(p)
                 if any(r["type"] == "replied_to" for r in t.get("referenced_tweets") or ())
                 and not any(r["type"] == "retweeted" for r in t.get("referenced_tweets") or ()))
    stored = imp.post(reply["id"])
    assert stored["kind"] == "reply"
    assert stored["parent_id"] == next(r["id"] for r in reply["referenced_tweets"] if r["type"] == "replied_to")
    assert stored["conversation_id"] == reply.get("conversation_id")


def test_api_html_escapes_undone_in_text(do_import):
    """The X API sends text with & < > escaped as &amp; &lt; &gt;; stored text is what people wrote."""
    raw = (V2 / "media_policy_violation_off.jsonl").read_text(encoding="utf-8")
    assert "&amp;" in raw
    imp = do_import(V2 / "media_policy_violation_off.jsonl")
    texts = [p["text"] for p in imp.posts()]
    assert not any("&amp;" in t or "&lt;" in t or "&gt;" in t for t in texts)
    assert any(" & " in t for t in texts)


def _retweets_with_originals(path):
    """(retweet id, retweeted author's handle, original's whole text) for every retweet in a twarc2
    file whose original is in the page's includes, read straight from the JSON."""
    import orjson

    out = []
    for line in path.read_bytes().splitlines():
        page = orjson.loads(line)
        inc = page.get("includes") or {}
        tweets = {t["id"]: t for t in inc.get("tweets") or ()}
        users = {u["id"]: u["username"] for u in inc.get("users") or ()}
        for t in page.get("data") or ():
            for r in t.get("referenced_tweets") or ():
                if r["type"] == "retweeted" and r["id"] in tweets:
                    o = tweets[r["id"]]
                    full = (o.get("note_tweet") or {}).get("text") or o["text"]
                    full = full.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                    out.append((t["id"], users[o["author_id"]], full))
    return out


def test_retweets_carry_the_whole_text_of_their_original(do_import):
    """Issue 9.2: the API cuts a retweet's text; 2sets.jsonl holds all 145 originals."""
    rts = _retweets_with_originals(V2 / "2sets.jsonl")
    assert len(rts) == 145
    imp = do_import(V2 / "2sets.jsonl", dataset="named", keep_handles=True)
    for rid, handle, full in rts:
        assert imp.post(rid)["text"] == f"RT @{handle}: {full}"
    assert imp.count("kind = 'repost' AND text LIKE '%…'") == sum(full.endswith("…") for _, _, full in rts)


def test_full_retweet_text_is_searchable_and_pseudonymised(tmp_path):
    from hubbub.api import Hubbub

    rts = _retweets_with_originals(V2 / "2sets.jsonl")
    with_phrase = [r for r in rts if "cost the country" in r[2]]
    assert with_phrase
    with Hubbub(tmp_path / "ws", create=True) as hb:
        hb.import_files([V2 / "2sets.jsonl"], dataset="p")
        assert hb.count('"cost the country"') == len(with_phrase)
        for rid, handle, _ in with_phrase:
            (text,) = [r["text"] for r in hb.store.query("SELECT text FROM posts WHERE post_id = ?", [rid]).to_pylist()]
            assert text.startswith("RT @acct_") and handle.lower() not in text.lower()
        # quotes are not cut: a quote's text is the quoting tweet's own
        assert hb.store.query("SELECT count(*) AS n FROM posts WHERE kind = 'quote' AND text LIKE '%…'"
                              ).to_pylist()[0]["n"] == 0


def test_flattened_retweets_carry_the_whole_text(do_import):
    import orjson

    imp = do_import(V2 / "flat.jsonl", dataset="named", keep_handles=True)
    n = 0
    for line in (V2 / "flat.jsonl").read_bytes().splitlines():
        t = orjson.loads(line)
        for r in t.get("referenced_tweets") or ():
            if r["type"] == "retweeted" and r.get("text"):
                full = r["text"].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                assert imp.post(t["id"])["text"] == f"RT @{r['author']['username']}: {full}"
                n += 1
    assert n == 47  # 39 of them cut in the file


def test_twitter_language_codes_are_iso_639_or_undetermined(do_import, tmp_path):
    """Issue 9.8: X writes ``in`` for Indonesian and ``und``/``qst``/... for no language. The same
    mapping applies to API v2, v1.1 and a CSV of the same tweets."""
    import csv

    from hubbub.sources.tabular import mapped_source

    files = [V2 / "2sets.jsonl", V2 / "kpop.jsonl", V2 / "edited.jsonl", V2 / "withheld.jsonl",
             FORMATS / "twitter-api-tweepy-cassettes" / "v1.1" / "usertimeline.json"]
    declared: dict[str, str] = {}
    for p in files[:4]:
        declared.update({t["id"]: t["lang"] for t in _tweets_in(p) if "lang" in t})
    assert {"in", "und", "qst"} <= set(declared.values())
    imp = do_import(*files)
    stored = {r["post_id"]: r["lang_declared"] for r in imp.posts("platform = 'twitter'")}
    for tid, lang in declared.items():
        want = {"in": "id"}.get(lang, None if lang in ("und", "qst", "zxx", "qme", "qht", "qam") else lang)
        assert stored[tid] == want, (tid, lang)
    assert not {"in", "und", "qst", "zxx"} & set(stored.values())
    assert "id" in stored.values()

    with (tmp_path / "tweets.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "created_at", "text", "lang"])
        for t in _tweets_in(V2 / "2sets.jsonl"):
            w.writerow([t["id"], t["created_at"], t["text"], t.get("lang", "")])
    src = mapped_source({"format": "csv", "platform": "twitter", "post_id": "id", "created_at": "created_at",
                         "text": "text", "lang_declared": "lang"})
    csv_imp = do_import(tmp_path / "tweets.csv", dataset="csv", source=src)
    rows = csv_imp.posts("dataset = 'csv'")
    assert {r["lang_declared"] for r in rows} == {stored[r["post_id"]] for r in rows}
