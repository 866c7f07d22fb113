"""Near-duplicate detection on real data: the ``neardup`` step and ``neardup_clusters``.

One week of IRA troll tweets (the smallest file) plus posts made in the test from real texts
(variants of IRA tweets, Japanese tweets from tweet-topic-xl, Arabic ones from xlm-t), imported as
an IRA CSV written to tmp; then a later week is added to check that cluster ids stay put."""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import shared

from hubbub.api import Hubbub
from hubbub.enrich.clusters import components, neardup_clusters, neardup_summary
from hubbub.enrich.steps.neardup import MIN_CHARS, NeardupStep, normalise

IRA = "ira-troll-tweets-2016-election-window/tweets/"
HEADER = ["author_id", "content", "region", "language", "publish_date", "harvested_date", "following",
          "followers", "updates", "post_type", "retweet"]


def _shingles(text: str) -> set[str]:
    t = normalise(text)
    return {t[i:i + 5] for i in range(len(t) - 4)} or {t}


def jaccard(a: str, b: str) -> float:
    x, y = _shingles(a), _shingles(b)
    return len(x & y) / len(x | y)


def _ira_rows(name: str) -> list[dict[str, str]]:
    with open(shared(IRA + name), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _simple_key(text: str) -> str:
    """An independent, cruder normalisation: links removed, lower case, whitespace collapsed."""
    return " ".join(re.sub(r"https?://\S+", " ", text).lower().split())


def _change_middle(text: str, new: str) -> str:
    i = len(text) // 2
    return text[:i] + new + text[i + 1:]


def _variants(rows: list[dict[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Groups of (original, variant) texts built from real texts, by kind."""
    counts = defaultdict(int)
    for r in rows:
        counts[_simple_key(r["content"])] += 1
    rng = random.Random(5)
    english = [r["content"] for r in rows if r["language"] == "English" and "@" not in r["content"]
               and counts[_simple_key(r["content"])] == 1 and len(normalise(r["content"])) >= 70]
    with_digits = sorted({t for t in english if re.search(r"\d", re.sub(r"https?://\S+", "", t))})[:2]
    english = rng.sample(sorted(set(english) - set(with_digits)), 4)
    out: dict[str, list[tuple[str, str]]] = {}
    out["link"] = [(t, re.sub(r"https?://\S+", "", t).strip() + " https://t.co/Zq9Xw8Vu7T https://bit.ly/x") for t in
                   english[:2]]
    out["mention"] = [(english[2], "@Patriot_Jane " + english[2] + " @DailyNewsBot"),
                      (english[3], "RT @SomeoneElse: " + english[3])]
    def renumber(t: str) -> str:  # other numbers, outside links
        parts = re.split(r"(https?://\S+)", t)
        return "".join(p if p.startswith("http") else re.sub(r"\d+", lambda m: str(int(m[0]) * 7 + 3), p)
                       for p in parts)

    out["digits"] = [(with_digits[0], renumber(with_digits[0])), (with_digits[1], renumber(with_digits[1]).upper())]
    out["edit"] = [(t, t.replace(" the ", " a ", 1) if " the " in t else _change_middle(t, "x")) for t in english[:3]]

    ja = [json.loads(line)["text"] for line in open(shared("tweet-topic-xl/ja/ja_train.jsonl"), encoding="utf-8")]
    ja = [t for t in ja if "@" not in t and len(normalise(t)) >= 45][:4]
    out["japanese"] = [(ja[0], ja[0] + " https://t.co/abc123 2022年"), (ja[1], "RT @user: " + ja[1] + "！！"),
                       (ja[2], _change_middle(ja[2], "あ")), (ja[3], ja[3].replace("\n", " ") + " ＃拡散希望")]
    ar = open(shared("xlm-t-sentiment/arabic/val_text.txt"), encoding="utf-8").read().splitlines()
    ar = [t for t in ar if len(normalise(t)) >= 60 and "@" not in t][:3]
    out["arabic"] = [(ar[0], ar[0] + " http://t.co/xyz 2017"), (ar[1], "@someone " + ar[1] + " ،،"),
                     (ar[2], _change_middle(ar[2], "ب"))]
    ru = [r["content"] for r in rows if r["language"] == "Russian" and "@" not in r["content"]
          and counts[_simple_key(r["content"])] == 1 and len(normalise(r["content"])) >= 50]
    ru = sorted(set(ru))[:3]
    out["cyrillic"] = [(ru[0], ru[0] + " https://t.co/RuRuRu 15"), (ru[1], "RT @kto: " + ru[1].upper()),
                       (ru[2], _change_middle(ru[2], "ж"))]
    return out


def _write_csv(path: Path, texts: list[str], day: str, author: str = "TestAuthor") -> None:
    """An IRA-format CSV, one post a minute from 00:00 of ``day`` (so a post's minute is its row)."""
    assert len(texts) < 24 * 60
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i, t in enumerate(texts):
            ts = f"{day} {i // 60:02d}:{i % 60:02d}:00"
            w.writerow([f"{author}{i % 7}", t, "United States", "English", ts, ts, 1, 1, 1, "", 0])


def _keys_by_text(store, path: Path, texts: list[str]) -> dict[str, tuple[str, str]]:
    """The posts imported from a ``_write_csv`` file, by the text written (stored texts differ where
    an @handle was replaced by its account key)."""
    rows = store.query("SELECT platform, post_id, created_at FROM posts WHERE source_file = ?",
                       [path.name]).to_pylist()
    assert len(rows) == len(texts)
    return {texts[r["created_at"].hour * 60 + r["created_at"].minute]: (r["platform"], r["post_id"]) for r in rows}


class World:
    def __init__(self, tmp: Path) -> None:
        self.rows = _ira_rows("tweets_week_2016-10-01.csv")
        self.variants = _variants(self.rows)
        made = [v for group in self.variants.values() for pair in group for v in pair
                if v not in {r["content"] for r in self.rows}]
        extra = tmp / "made.csv"
        _write_csv(extra, made, "2016-10-02")
        self.hb = Hubbub(tmp / "ws", create=True)
        self.hb.import_files([shared(IRA + "tweets_week_2016-10-01.csv"), extra], dataset="base")
        self.made = _keys_by_text(self.hb.store, extra, made)
        (self.run,) = self.hb.enrich(["neardup"], seed=3, batch_size=1000)
        self.store = self.hb.store
        self.before = neardup_clusters(self.store)
        self.cluster = {(r["platform"], r["post_id"]): r["cluster_id"] for r in self.before.to_pylist()}

    def keys_of(self, text: str) -> list[tuple[str, str]]:
        """The post made from ``text``, or the real posts whose stored text it is (without @handles)."""
        if text in self.made:
            return [self.made[text]]
        got = self.store.query("SELECT platform, post_id FROM posts WHERE text = ?", [text]).to_pylist()
        assert got, text
        return [(r["platform"], r["post_id"]) for r in got]

    def cluster_of(self, text: str) -> str | None:
        ids = {self.cluster.get(k) for k in self.keys_of(text)}
        assert len(ids) == 1, (text, ids)
        return ids.pop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("neardup"))
    yield w
    w.hb.close()


def test_step_columns(world: World):
    t = world.store.query("SELECT * FROM enrich_neardup")
    n = world.store.query("SELECT count(*) AS n FROM posts").to_pylist()[0]["n"]
    assert t.num_rows == n == world.run.done
    rows = t.to_pylist()
    for r in rows:
        if r["nd_len"] >= MIN_CHARS:
            assert len(r["nd_band_keys"]) == 32 and len(r["nd_minhash"]) == 128 * 4
        else:
            assert r["nd_band_keys"] is None and r["nd_minhash"] is None
        assert (r["nd_text_hash"] is None) == (r["nd_len"] == 0)
    # link-only posts have nothing left to compare and are in no cluster
    link_only = world.store.query(
        r"SELECT platform, post_id FROM posts WHERE regexp_full_match(text, '\s*(https?://\S+\s*)+')").to_pylist()
    assert len(link_only) >= 5
    assert not {(r["platform"], r["post_id"]) for r in link_only} & set(world.cluster)


def test_known_copypasta_found_by_independent_method(world: World):
    """Groups of texts equal after a cruder normalisation (computed here in plain Python) are each in
    one cluster, and distinct groups of long texts are not merged."""
    groups: dict[str, set[str]] = defaultdict(set)
    authors: dict[str, set[str]] = defaultdict(set)
    for r in world.rows:
        if "@" not in r["content"]:
            k = _simple_key(r["content"])
            groups[k].add(r["content"])
            authors[k].add(r["author_id"])
    multi = [k for k in groups if len(authors[k]) >= 3 and len(k) >= 25]
    assert len(multi) >= 5
    ids = {}
    for k in multi:
        cluster_ids = {world.cluster_of(t) for t in groups[k]}
        assert len(cluster_ids) == 1 and None not in cluster_ids, k
        ids[k] = cluster_ids.pop()
    assert len(set(ids.values())) == len(multi)
    # and the cluster holds at least all of those posts
    sizes = {r["cluster_id"]: r["cluster_size"] for r in world.before.to_pylist()}
    for k in multi:
        n = sum(len(world.keys_of(t)) for t in groups[k])
        assert sizes[ids[k]] >= n


@pytest.mark.parametrize("kind", ["link", "mention", "digits", "edit", "japanese", "arabic", "cyrillic"])
def test_variants_land_with_their_original(world: World, kind: str):
    pairs = world.variants[kind]
    seen = set()
    for original, variant in pairs:
        c = world.cluster_of(original)
        assert c is not None and c == world.cluster_of(variant), (kind, original, variant)
        seen.add(c)
    assert len(seen) == len(pairs)  # unrelated originals stay apart
    if kind in ("japanese", "arabic", "cyrillic", "edit"):  # not exact duplicates: found by MinHash + LSH
        assert any(normalise(o) != normalise(v) for o, v in pairs)


def test_no_space_scripts_are_shingled_by_character(world: World):
    (original, _), *_ = world.variants["japanese"]
    assert " " not in normalise(original)[:20]
    row = world.store.query(
        """SELECT e.nd_band_keys FROM enrich_neardup e JOIN posts p USING (platform, post_id)
        WHERE p.text = ?""", [original]).to_pylist()[0]
    assert len(row["nd_band_keys"]) == 32


def test_precision_and_recall_on_exact_jaccard(world: World):
    rows = world.store.query("SELECT platform, post_id, text, source_file, source_locator FROM posts").to_pylist()
    text = {(r["platform"], r["post_id"]): r["text"] for r in rows}
    # Post ids of id-less CSV rows hash the author's key, which depends on the workspace secret: sample
    # in the order of where posts stand in their files (by file name: folders differ between machines),
    # so the sample is the same in every run.
    where = {(r["platform"], r["post_id"]): (Path(r["source_file"]).name, r["source_locator"]) for r in rows}
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for k, c in sorted(world.cluster.items(), key=lambda kc: where[kc[0]]):
        members[c].append(k)
    rng = random.Random(0)
    js = []
    for c in sorted(members, key=lambda c: where[members[c][0]]):
        for _ in range(3):
            a, b = rng.sample(members[c], 2)
            js.append(jaccard(text[a], text[b]))
    assert len(js) > 300
    js.sort()
    assert js[len(js) // 2] >= 0.9 and sum(j >= 0.5 for j in js) >= 0.97 * len(js)
    # recall: pairs of texts that are near-identical (exact Jaccard >= 0.8) share a cluster
    keys = sorted((k for k in text if len(normalise(text[k])) >= MIN_CHARS), key=where.get)
    sample = rng.sample(keys, 700)
    sh = {k: _shingles(text[k]) for k in sample}
    close = missed = 0
    for i, a in enumerate(sample):
        for b in sample[i + 1:]:
            inter = len(sh[a] & sh[b])
            if inter and inter / len(sh[a] | sh[b]) >= 0.8:
                close += 1
                missed += world.cluster.get(a) is None or world.cluster.get(a) != world.cluster.get(b)
    assert close >= 20 and missed == 0


def test_summary(world: World):
    s = neardup_summary(world.store, world.before)
    assert s.num_rows == len(set(world.cluster.values()))
    assert sum(s["size"].to_pylist()) == world.before.num_rows
    top = s.to_pylist()[0]
    assert top["size"] == max(world.before["cluster_size"].to_pylist())
    assert top["platforms"] == ["twitter"] and top["languages"] and top["text"]
    assert top["first_seen"] <= top["last_seen"]
    # the representative text is the one of the post the cluster is named after
    platform, post_id = top["cluster_id"].split(":", 1)
    assert world.store.query("SELECT text FROM posts WHERE platform = ? AND post_id = ?",
                             [platform, post_id]).to_pylist()[0]["text"] == top["text"]


def test_deterministic(world: World):
    posts = world.store.query("SELECT platform, post_id, text FROM posts ORDER BY platform, post_id")
    stored = world.store.query(
        "SELECT nd_text_hash, nd_len, nd_minhash, nd_band_keys FROM enrich_neardup ORDER BY platform, post_id")
    step = NeardupStep()
    step.setup(3)
    # other batches, other order: the same output per post
    rev = posts.take(pa.array(range(posts.num_rows - 1, -1, -1)))
    parts = [step.run(rev.slice(i, 333)) for i in range(0, rev.num_rows, 333)]
    again = pa.concat_tables(parts)
    again = again.take(pa.array(range(again.num_rows - 1, -1, -1)))
    assert again.to_pylist() == stored.to_pylist()
    other = NeardupStep()
    other.setup(4)
    o = other.run(posts.slice(0, 200))
    assert o["nd_text_hash"] == stored["nd_text_hash"].slice(0, 200)  # seed-free exact key
    assert o["nd_band_keys"] != stored["nd_band_keys"].slice(0, 200)
    assert neardup_clusters(world.store).equals(world.before)


def test_components():
    # 0-1, 2-3-4 chain, 5 alone; every node labelled with its component's smallest node
    assert components(6, [4, 1, 3], [3, 0, 2]).tolist() == [0, 0, 2, 2, 2, 5]
    assert components(3, [], []).tolist() == [0, 1, 2]


def test_ids_stable_when_later_posts_added(world: World, tmp_path: Path):
    """A later week plus more copies of earlier texts, added to a copy of the workspace: every old
    cluster stays whole, and keeps its id unless it merged with another (then the older id wins)."""
    copies = [o for o, _ in world.variants["link"]] + [v for _, v in world.variants["japanese"]]
    old_of_copy = {t: world.cluster_of(t) for t in copies}
    world.store.con.execute("CHECKPOINT")
    shutil.copytree(world.hb.ws.path, tmp_path / "ws")
    later = tmp_path / "later.csv"
    _write_csv(later, copies, "2016-11-16", author="Later")
    with Hubbub(tmp_path / "ws") as hb:
        hb.import_files([shared(IRA + "tweets_week_2016-11-14.csv"), later], dataset="later")
        (r,) = hb.enrich(["neardup"], seed=3)
        assert r.todo > 7000
        after = neardup_clusters(hb.store)
        new = {(x["platform"], x["post_id"]): x["cluster_id"] for x in after.to_pylist()}
        assert len(new) > len(world.cluster)
        first = {x["cluster_id"]: x["first_seen"] for x in neardup_summary(hb.store, world.before).to_pylist()}
        old_by_new: dict[str, set[str]] = defaultdict(set)
        for k, c in world.cluster.items():
            old_by_new[new[k]].add(c)
        kept = 0
        for new_id, olds in old_by_new.items():
            if len(olds) == 1:
                assert new_id == next(iter(olds))
                kept += 1
            else:
                assert new_id == min(olds, key=lambda c: (first[c], c))
        assert kept >= 100
        # each old cluster went into one new cluster (none split)
        members: dict[str, set[str]] = defaultdict(set)
        for k, c in world.cluster.items():
            members[c].add(new[k])
        assert all(len(v) == 1 for v in members.values())
        # the copies joined the clusters of their earlier texts, whose ids did not change
        for t, k in _keys_by_text(hb.store, later, copies).items():
            assert new[k] == old_of_copy[t]

        # signatures made with another seed cannot be compared: refused
        extra = tmp_path / "extra.csv"
        _write_csv(extra, ["one more post that nobody else wrote, enriched with another seed"], "2016-11-17")
        hb.import_files([extra], dataset="other")
        hb.enrich(["neardup"], seed=99)
        with pytest.raises(ValueError, match="seed"):
            neardup_clusters(hb.store)
