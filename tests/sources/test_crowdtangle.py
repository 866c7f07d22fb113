"""Facebook via CrowdTangle: API responses, PyCooRnet's flattened exports and the CooRnet link-share
table, imported from the shared data (never copied: the API sample comes from an AGPL repository).

Expected numbers were counted independently with the standard library (json / csv.DictReader /
itertools.groupby) over the shared files; each assertion says how."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
from conftest import FORMATS, SHARED

from hubbub.sources.registry import detect, get_source

API = FORMATS / "facebook-crowdtangle-api" / "crowdtangle_api_posts_response.json"
CT = SHARED / "crowdtangle-link-shares-pycoornet"
SHARES_CSV = CT / "ct_shares.csv"
SHARES_JSON = CT / "ct_shares.json"
FLAT_CSV = CT / "sample_ct_out.csv"


def _files(imp) -> dict:
    return {Path(f.path).name: f for f in imp.summary.files}


def test_formats_detected_and_counted(do_import):
    imp = do_import(API, SHARES_JSON, FLAT_CSV, SHARES_CSV)  # no --format
    files = _files(imp)
    assert {n: f.format for n, f in files.items()} == {
        "crowdtangle_api_posts_response.json": "crowdtangle-api",
        "ct_shares.json": "crowdtangle-api",
        "sample_ct_out.csv": "crowdtangle-api",
        "ct_shares.csv": "crowdtangle-csv",
    }
    assert all(f.status == "ok" for f in files.values())
    # json: len(result["posts"]) == 2
    assert (files["crowdtangle_api_posts_response.json"].read, files["crowdtangle_api_posts_response.json"].imported) \
        == (2, 2)
    # json: a list of 5 post objects with distinct platformId
    assert (files["ct_shares.json"].read, files["ct_shares.json"].imported) == (5, 5)
    # csv: 25 rows, and the header has no "date" column: every row is quarantined
    flat = files["sample_ct_out.csv"]
    assert (flat.read, flat.imported, flat.quarantined) == (25, 0, 25)
    # csv: 1,684 rows; groupby(id) over consecutive rows gives 1,058 groups = 1,058 distinct ids
    shares = files["ct_shares.csv"]
    assert (shares.read, shares.imported, shares.duplicate, shares.quarantined) == (1058, 1058, 0, 0)
    assert imp.count() == 2 + 5 + 1058
    assert imp.count("platform = 'facebook' AND kind = 'post'") == imp.count()
    reasons = imp.store.query("SELECT DISTINCT reason FROM quarantine").to_pylist()
    assert len(reasons) == 1 and "missing 'date'" in reasons[0]["reason"]


def test_api_response_posts(do_import):
    imp = do_import(API)
    p = imp.post(imp.pid("facebook", "11430503918_10159078346893919"))
    assert p["post_id"] == f"{p['author_key']}_10159078346893919"  # the page id is replaced by the page's key
    assert p["created_at"] == datetime(2020, 10, 29, 14, 56, 5, tzinfo=UTC)
    assert p["text"] == "Salió el sol 😎 Ánimo mi gente que hoy es JUERNES!!!! 🕺🏻#Perfecta"
    assert p["kind"] == "post" and p["parent_id"] is None and p["conversation_id"] is None
    assert p["hashtags"] == ["Perfecta"]
    # likes = all reactions: 42617 + 10937 + 35 + 123 + 4 + 2 + 0 + 520
    assert (p["likes"], p["reposts"], p["replies"], p["quotes"], p["views"]) == (54238, 303, 1060, None, None)
    assert p["engagement_at"] == datetime(2020, 10, 29, 19, 3, 44, tzinfo=UTC)
    assert p["media_types"] == ["photo"]
    # the photo's own URL (expandedLinks)
    (url,) = p["urls"]
    assert url.startswith("https://www.facebook.com/")
    assert url.endswith("/photos/a.74490428918/10159078346893919/?type=3")
    assert p["domains"] == ["facebook.com"]
    assert p["source_locator"] == "document posts[0]"

    # no message (only OCR imageText); misspelt expandedLinks
    q = imp.post(imp.pid("facebook", "10162931178_10157582304861179"))
    assert q["text"] is None
    assert q["created_at"] == datetime(2020, 10, 29, 17, 0, tzinfo=UTC)
    assert (q["likes"], q["reposts"], q["replies"]) == (22509 + 14248 + 58 + 9 + 29 + 1 + 0 + 410, 15651, 383)
    assert len(q["urls"]) == 1 and q["urls"][0].endswith("/photos/a.241173571178/10157582303601179/?type=3")
    assert q["author_key"] != p["author_key"]


def test_dotted_json_posts(do_import):
    imp = do_import(SHARES_JSON)
    p = imp.post(imp.pid("facebook", "434063346655687_3273484906046836"))  # item 2: no message, link -> expanded
    assert p["created_at"] == datetime(2020, 6, 19, 11, 8, 52, tzinfo=UTC)
    assert p["text"] is None and p["kind"] == "post"
    assert p["urls"] == [
        "https://www.breitbart.com/economy/2020/06/18/weekly-jobless-claims-sink-slightly-to-1-51-million-higher-than-expected/"
    ]
    assert p["domains"] == ["breitbart.com"]
    assert (p["likes"], p["reposts"], p["replies"]) == (0, 0, 0)
    assert p["engagement_at"] == datetime(2020, 7, 17, 20, 53, 28, tzinfo=UTC)
    assert p["media_types"] == []  # a link post's media is its preview image
    assert p["source_locator"] == "line 1 item 2"

    v = imp.post(imp.pid("facebook", "223649167822693_1564592470395016"))
    assert v["text"].startswith("Here we are at the end of The Princess Bride.")
    # likes = 33 like + 1 love + 1 sad; shares 3; comments 0 (statistics.actual.*)
    assert (v["likes"], v["reposts"], v["replies"]) == (35, 3, 0)
    assert v["created_at"] == datetime(2020, 6, 19, 2, 16, 38, tzinfo=UTC)
    assert v["domains"] == ["vox.com"]

    b = imp.post(imp.pid("facebook", "95475020353_10165535201770354"))
    assert b["text"].startswith("New claims for unemployment benefits fell to 1.508 last week")
    assert (b["likes"], b["reposts"], b["replies"]) == (391, 27, 150)


def test_link_share_table(do_import):
    imp = do_import(SHARES_CSV)
    first = imp.post("ct:82580949333")  # line 2, a group's page (handle NA)
    assert first["created_at"] == datetime(2017, 1, 13, 21, 41, 10, tzinfo=UTC)
    assert first["text"] is None and first["kind"] == "post" and first["parent_id"] is None
    assert first["urls"] == [
        "http://www.cubadebate.cu/noticias/2017/01/12/fuentes-no-oficiales-barack-obama-pone-fin-a-la-politica-pies-secos-pies-mojados"
    ]
    assert first["domains"] == ["cubadebate.cu"]
    assert (first["likes"], first["reposts"], first["replies"], first["engagement_at"]) == (None, None, None, None)
    assert first["source_locator"] == "line 2"
    assert first["author_key"].startswith("acct_")

    many = imp.post("ct:83694572280")  # 34 consecutive rows, 34 distinct URLs: one post
    assert len(many["urls"]) == 34
    assert many["urls"][0] == "https://www.ettoday.net/news/20171216/1073839.htm?from=fb_et_news"
    assert many["created_at"] == datetime(2017, 12, 16, 16, 34, 2, tzinfo=UTC)
    assert "cna.com.tw" in many["domains"] and "youtube.com" in many["domains"]

    twice = imp.post("ct:47357910252")  # 2 rows with the same URL: one URL
    assert len(twice["urls"]) == 1

    # the same account (platformId 82409693514, Cubadebate) always gets the same key
    rows = imp.posts("author_key = (SELECT author_key FROM posts WHERE post_id = 'ct:7739558597')")
    assert len(rows) > 1


def test_shared_urls_survive_pseudonymisation(do_import):
    """Pages named like their site (Cubadebate, Vox) share their site's links: the links stay."""
    imp = do_import(SHARES_CSV, SHARES_JSON)
    assert imp.post("ct:7739558597")["urls"] == [
        "http://www.cubadebate.cu/noticias/2017/01/12/fuentes-no-oficiales-barack-obama-pone-fin-a-la-politica-pies-secos-pies-mojados"
    ]
    assert imp.post(imp.pid("facebook", "223649167822693_1564592470395016"))["urls"] == [
        "https://www.vox.com/culture/21294716/vox-book-club-princess-bride-week-3"
    ]


def test_other_files_are_not_taken():
    for p in (CT / "sample_source_urls.csv", CT / "mediacloud_stories_telesurenglish2017-1000.csv",
              FORMATS / "facebook-crowdtangle-api" / "facebook_scraped_post_comments_ar.json"):
        src, _ = detect(p.read_bytes()[:65536], p.name)
        assert src is None or not src.name.startswith("crowdtangle"), p


def test_link_share_record_maps_again_from_its_raw():
    """A quarantined record is retried by parsing its raw bytes as JSON and calling map."""
    src = get_source("crowdtangle-csv")
    with open(SHARES_CSV, "rb") as fh:
        recs = list(src.records(fh))
    assert len(recs) == 1058  # consecutive rows of one post are one record
    rec = next(r for r in recs if isinstance(r.obj, list) and r.obj[0]["id"] == "83694572280")
    (draft,) = src.map(orjson.loads(rec.raw))
    assert draft["post_id"] == "ct:83694572280" and len(draft["urls"]) == 34
