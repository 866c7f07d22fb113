"""Spike detection (hubbub.analyze.spikes) on the IRA 2016 troll tweets, 2016-10-01 … 11-15.

The whole window is imported (the detector needs the days before a surge as its baseline; about
25 s, hence ``slow``). The data set's README names its known bursts: 2016-10-06 (the largest daily
spike of the whole IRA data) and election day 2016-11-08; both must be found, hourly and daily, with
drivers. The statistical pieces are checked against independent computations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from conftest import shared
from scipy import stats

from hubbub.analyze.spikes import (
    baseline,
    bh_qvalues,
    dispersion,
    merge_runs,
    upper_tail,
)
from hubbub.api import Hubbub

IRA = "ira-troll-tweets-2016-election-window/tweets"


@pytest.fixture(scope="module")
def ira(tmp_path_factory):
    hb = Hubbub(tmp_path_factory.mktemp("ira") / "ws", create=True, save_runs=True)
    hb.import_files([shared(IRA)], dataset="ira")
    yield hb
    hb.close()


def _day(s: int, m: int, d: int) -> tuple[datetime, datetime]:
    a = datetime(s, m, d, tzinfo=UTC)
    return a, a.replace(day=d + 1)


def _overlapping(res, day: tuple[datetime, datetime]) -> list[dict]:
    return [s for s in res.spikes.to_pylist() if s["start"] < day[1] and s["end"] > day[0]]


def _drivers(res, spike_id: int, dim: str) -> list[dict]:
    return [d for d in res.drivers.to_pylist() if d["spike_id"] == spike_id and d["dimension"] == dim]


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["hour", "day"])
def test_ira_surges_found_with_drivers(ira, interval):
    res = ira.spikes(interval=interval, dataset="ira")
    assert res.run_id
    oct6 = _overlapping(res, _day(2016, 10, 6))
    elect = _overlapping(res, _day(2016, 11, 8))
    assert oct6 and elect, res.spikes.to_pylist()
    big = max(oct6, key=lambda s: s["excess"])
    assert big["posts"] > 10_000 and big["ratio"] > 3  # 17,075 posts that day against ~1,500-2,500 before
    assert big["peak"].date() == datetime(2016, 10, 6).date()
    assert big["excess"] == max(res.spikes["excess"].to_pylist())  # the largest surge of the window
    ev = max(elect, key=lambda s: s["excess"])
    if interval == "hour":  # the evening of election day (US polls closing: 18:00-01:00 UTC)
        assert ev["start"] >= datetime(2016, 11, 8, 12, tzinfo=UTC) and ev["posts"] > 3_000
    for s in (big, ev):
        assert s["q_value"] <= 0.01 and s["posts"] >= 1.5 * s["expected"]
        assert "expected" in s["baseline"] and "level" in s["baseline"]
        tags = _drivers(res, s["spike_id"], "hashtag")
        assert tags and all(d["posts"] >= 5 and d["excess"] > 0 and d["lift"] >= 1.5 for d in tags)
        assert [d["excess"] for d in tags] == sorted((d["excess"] for d in tags), reverse=True)
        assert _drivers(res, s["spike_id"], "lang")[0]["value"] == "en"
        reps = [r for r in res.posts.to_pylist() if r["spike_id"] == s["spike_id"]]
        assert len(reps) == 3 and all(s["start"] <= r["created_at"] < s["end"] for r in reps)
    # election day is driven by election hashtags
    assert any(re.search(r"trump|election|vote|maga|hillary", d["value"]) for d in _drivers(res, ev["spike_id"],
                                                                                            "hashtag"))
    # the 2016-10-06 surge: the mashup-album campaign and Hurricane Matthew
    oct6_tags = {d["value"] for d in _drivers(res, big["spike_id"], "hashtag")}
    assert {"thefourhorsemen", "theartofwar", "nowplaying", "hurricanematthew"} & oct6_tags
    # representatives carry the spike's top hashtags
    top = {d["value"] for d in _drivers(res, big["spike_id"], "hashtag")}
    rep = [r for r in res.posts.to_pylist() if r["spike_id"] == big["spike_id"]][0]
    assert any("#" + t in rep["text"].lower() for t in top)


@pytest.mark.slow
def test_oct6_surge_explained_by_reposts_accounts_and_coordination(ira):
    """The 2016-10-06 surge (22,824 posts over the hourly baseline): an independent look at that
    window finds 96% reposts, about 214 accounts and the ten most active making a third of the
    posts. The drivers say so, ranked by the share of the excess they explain; hashtags and topics
    explain a few per cent; no cut-off link text is a domain."""
    res = ira.spikes(interval="hour", dataset="ira")
    big = max(res.spikes.to_pylist(), key=lambda s: s["excess"])
    assert big["start"] <= datetime(2016, 10, 6, 20, tzinfo=UTC) < big["end"] and big["excess"] > 20_000
    lo, hi = big["start"].replace(tzinfo=None), big["end"].replace(tzinfo=None)
    window = ira.store.query(
        "SELECT count(*) AS n, count(*) FILTER (WHERE kind = 'repost') AS reposts, "
        "count(DISTINCT author_key) AS accounts FROM posts WHERE created_at >= ? AND created_at < ?",
        [lo, hi]).to_pylist()[0]
    top10 = ira.store.query(
        "SELECT CAST(sum(n) AS BIGINT) AS n FROM (SELECT count(*) AS n FROM posts "
        "WHERE created_at >= ? AND created_at < ? GROUP BY author_key ORDER BY n DESC LIMIT 10)",
        [lo, hi])["n"][0].as_py()
    assert window["reposts"] / window["n"] > 0.95
    assert big["accounts"] == window["accounts"] and 150 < big["accounts"] < 300
    assert big["top10_share"] == pytest.approx(top10 / window["n"], abs=1e-4) and 0.3 < big["top10_share"] < 0.4
    assert 5 <= big["accounts_half_excess"] <= 40  # a few dozen accounts make half of the excess
    drivers = [d for d in res.drivers.to_pylist() if d["spike_id"] == big["spike_id"]]
    shares = [d["share_of_excess"] for d in drivers]
    assert shares == sorted(shares, reverse=True)  # ranked by the share of the excess explained
    for d in drivers:
        assert d["share_of_excess"] == pytest.approx(d["excess"] / big["excess"], abs=1e-3)
    first = drivers[0]
    assert (first["dimension"], first["value"]) == ("kind", "repost") and first["share_of_excess"] > 0.9
    acc = next(d for d in drivers if d["dimension"] == "accounts")
    assert acc["share_of_excess"] > 0.3 and "accounts" in acc["label"] and "acct_" not in acc["label"]
    coord = [d for d in drivers if d["dimension"] == "coordination"]
    assert coord and coord[0]["share_of_excess"] > 0.2  # one coordinated cluster makes a fifth of it or more
    assert "kind repost" in big["top_drivers"] and "accounts" in big["top_drivers"]
    tags = [d for d in drivers if d["dimension"] == "hashtag"]
    assert tags and all(d["share_of_excess"] < 0.05 for d in tags)
    # the hour of the largest excess inside the day-long spike
    peak = max((r for r in res.series.to_pylist() if r["spike_id"] == big["spike_id"]),
               key=lambda r: r["posts"] - r["expected"])
    assert big["peak"] == peak["bucket"] and big["peak_posts"] == peak["posts"]
    domains = {d for d in ira.store.query("SELECT DISTINCT unnest(domains) AS d FROM posts")["d"].to_pylist()}
    assert "t.co" in domains and not domains & {"t…", "w", "open.s", "…", "t.…", "media", "younas"}
    from hubbub.analyze.coordination import coordination  # the clusters' top domains follow the same rule

    co = coordination(ira.store, dataset="ira", context=False)
    top = {d["domain"] for c in co.clusters.to_pylist() for d in c["top_domains"] or []}
    assert "t.co" in top and top <= domains


@pytest.mark.slow
def test_daily_spike_reports_its_peak(ira):
    """The daily run merges 2016-10-05 .. 10-10 into one spike; its peak is 10-06 (17,075 posts)."""
    res = ira.spikes(interval="day", dataset="ira")
    big = max(res.spikes.to_pylist(), key=lambda s: s["excess"])
    assert big["buckets"] >= 3 and big["peak"] == datetime(2016, 10, 6, tzinfo=UTC)
    assert big["peak_posts"] == ira.store.query(
        "SELECT count(*) AS n FROM posts WHERE created_at >= '2016-10-06' AND created_at < '2016-10-07'"
    )["n"][0].as_py() > 15_000
    assert big["peak_expected"] < big["peak_posts"] / 5


@pytest.mark.slow
def test_provenance_and_determinism(ira):
    a = ira.spikes(interval="day", dataset="ira")
    b = ira.spikes(interval="day", dataset="ira")
    assert a.run_id != b.run_id
    assert a.spikes.equals(b.spikes) and a.drivers.equals(b.drivers) and a.posts.equals(b.posts)
    row = ira.store.query("SELECT kind, params, counts FROM runs WHERE run_id = ?", [a.run_id]).to_pylist()[0]
    params, counts = orjson.loads(row["params"]), orjson.loads(row["counts"])
    assert row["kind"] == "analysis:spikes"
    assert params["interval"] == "day" and params["fdr"] == 0.01 and params["selection"]["dataset"] == "ira"
    assert params["posts_selected"] == ira.store.query("SELECT count(*) AS n FROM posts")["n"][0].as_py()
    assert counts["spikes"] == a.spikes.num_rows


@pytest.mark.slow
def test_query_narrows_the_series(ira):
    res = ira.spikes("hashtag:HurricaneMatthew", interval="day", dataset="ira")
    n = ira.store.query("SELECT count(*) AS n FROM posts WHERE list_contains(list_transform(hashtags, "
                        "lambda x: lower(x)), 'hurricanematthew')")["n"][0].as_py()
    assert 100 < res.params["posts_selected"] == n
    assert res.params["selection"] == {"query": "hashtag:HurricaneMatthew", "dataset": "ira"}
    # the hurricane hit Haiti on 4 October and Florida on 6-7 October
    assert any(s["start"] <= datetime(2016, 10, 6, tzinfo=UTC) < s["end"] for s in res.spikes.to_pylist())


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["hour", "day"])
def test_pre_aggregate_path_matches_the_scan(ira, interval):
    """A query of fields the hourly pre-aggregate has reads the series and the language drivers from
    it; spikes, drivers and representative posts are the same as when counting the posts."""
    from hubbub.analyze.spikes import SpikeParams, detect_spikes, selection_aggregate
    from hubbub.query import select

    sel = {"query": "lang:en", "dataset": "ira"}
    assert selection_aggregate(ira.store, sel) is not None
    assert selection_aggregate(ira.store, {"query": "trump", "dataset": "ira"}) is None  # text: not covered
    p = SpikeParams(interval=interval)
    fast = detect_spikes(ira.store, select(ira.store, "lang:en", "ira"), p, selection=sel)
    scan = detect_spikes(ira.store, select(ira.store, "lang:en", "ira"), p)
    assert fast.spikes.num_rows > 0 and fast.drivers.num_rows > fast.spikes.num_rows
    assert set(fast.drivers["dimension"].to_pylist()) >= {"hashtag", "lang"}
    for part in ("series", "spikes", "drivers", "posts"):
        assert getattr(fast, part).equals(getattr(scan, part)), part
    assert fast.dispersion == scan.dispersion


def test_bad_parameters(ira):
    with pytest.raises(ValueError, match="interval"):
        ira.spikes(interval="minute")
    with pytest.raises(ValueError, match="fdr"):
        ira.spikes(fdr=1.5)


# -- the statistics, against independent computations ------------------------------------------
def test_upper_tail_matches_scipy():
    y = np.array([0, 1, 3, 20, 150, 4000], float)
    mu = np.array([2.0, 0.5, 1.0, 10.0, 60.0, 2500.0])
    np.testing.assert_allclose(upper_tail(y, mu, 0.0), stats.poisson.sf(y - 1, mu), rtol=1e-10)
    n = 1 / 0.3
    np.testing.assert_allclose(upper_tail(y, mu, 0.3), stats.nbinom.sf(y - 1, n, n / (n + mu)), rtol=1e-10)


def test_bh_matches_definition():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=40), [1e-6, 2e-4, np.nan]])
    q = bh_qvalues(p)
    ok = ~np.isnan(p)
    m = ok.sum()
    for i in np.flatnonzero(ok):  # q_i = min over p_j >= p_i of p_j m / rank_j
        ranks = np.array([(p[ok] <= p[j]).sum() for j in np.flatnonzero(ok)])
        cand = [p[j] * m / r for j, r in zip(np.flatnonzero(ok), ranks, strict=True) if p[j] >= p[i]]
        assert q[i] == pytest.approx(min(1.0, min(cand)))
    assert np.isnan(q[-1])


def test_merge_runs():
    f = np.array([0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1], bool)
    assert merge_runs(f, 0) == [(1, 2), (4, 4), (7, 7), (11, 11)]
    assert merge_runs(f, 1) == [(1, 4), (7, 7), (11, 11)]
    assert merge_runs(f, 2) == [(1, 7), (11, 11)]
    assert merge_runs(np.zeros(3, bool), 1) == []


def test_baseline_follows_hour_and_weekday_and_controls_false_alarms():
    """Counts drawn from a known hour-of-day x weekday pattern (8 weeks, seed fixed): the baseline
    recovers the pattern, and with the estimated dispersion no bucket is significant at 1% FDR."""
    rng = np.random.default_rng(7)
    hours = np.arange(8 * 7 * 24)
    first = int(datetime(2016, 10, 3, tzinfo=UTC).timestamp()) * 1_000_000  # a Monday
    hod = 1 + 0.8 * np.sin(2 * np.pi * (hours % 24) / 24)
    dow = np.where((hours // 24) % 7 >= 5, 0.5, 1.0)  # weekends at half volume
    rate = 40 * hod * dow
    lam = rate * rng.gamma(20, 1 / 20, hours.size)  # some extra-Poisson noise
    y = rng.poisson(lam).astype(float)
    base = baseline(y, first, "hour", history_days=28, min_history_days=3)
    mu = base["expected"]
    assert np.isnan(mu[:72]).all() and not np.isnan(mu[72:]).any()
    late = slice(28 * 24, None)  # with four weeks of history
    assert np.median(np.abs(mu[late] / rate[late] - 1)) < 0.1
    sat = (hours // 24) % 7 == 5
    assert base["weekday_factor"][late][sat[late]].mean() == pytest.approx(0.5, abs=0.1)
    alpha = dispersion(y, mu)
    assert 0 < alpha < 0.2
    q = bh_qvalues(np.where(np.isnan(mu), np.nan, upper_tail(y, np.nan_to_num(mu, nan=1), alpha)))
    assert np.nanmin(q) > 0.01
    y2 = y.copy()
    y2[40 * 24 + 6] = 4 * lam[40 * 24 + 6]  # one hour at four times its rate is found
    q2 = bh_qvalues(np.where(np.isnan(mu), np.nan, upper_tail(y2, np.nan_to_num(mu, nan=1), alpha)))
    assert np.flatnonzero(q2 <= 0.01).tolist() == [40 * 24 + 6]
