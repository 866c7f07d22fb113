"""Narratives across platforms and languages (``hubbub narratives``; docs/analyses.md).

Units: the near-duplicate clusters of the selected posts (``neardup`` step; a cluster is one unit)
and every other selected post on its own. A unit's vector is the L2-normalised mean of its posts'
``embed`` vectors (USE multilingual v3: translations and paraphrases in other languages land close).

Two units are linked when their cosine similarity is at least ``threshold`` *and* each is among the
other's ``mutual_k`` most similar units (mutual nearest neighbours keep one generic unit from
chaining unrelated ones together). Narratives are the connected components of two or
more units; with ``cross_only`` only those spanning more than one language or platform are kept.

Calibration of the default threshold (0.5), measured on 150 English and 150 Russian original IRA
tweets of the week of 2016-10-03: unrelated en-ru pairs have cosine median 0.09, 99th percentile
0.33, 99.9th 0.43; the same claim told in English and in Russian by two IRA accounts ("hungry
children eat the trees in Haiti", tests/test_narratives.py) scores 0.56; hand translations 0.8-0.9.

Per narrative: posts, units, languages and platforms, the first time seen on each platform and in
each language, the origin (platform and language of the earliest post) and a representative text
per language (the earliest). Language: ``lang`` step where it ran, else the declared language.

Cost: all-pairs similarity over the units in blocks (``max_units`` largest units, default 5,000:
the rest are reported as left out). Deterministic; every run writes a ``runs`` row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.analyze.runlog import record_run
from hubbub.enrich.clusters import components
from hubbub.store.store import Store

TEXT_CHARS = 200
BLOCK = 2048


@dataclass(frozen=True)
class NarrativeParams:
    threshold: float = 0.5
    mutual_k: int = 5
    max_units: int = 5_000
    cross_only: bool = True

    def check(self) -> None:
        if not -1 < self.threshold <= 1:
            raise ValueError("threshold must be in (-1, 1]")
        if self.mutual_k < 1 or self.max_units < 2:
            raise ValueError("need mutual_k >= 1 and max_units >= 2")


@dataclass
class NarrativeResult:
    narratives: pa.Table  # narrative_id, posts, units, platforms, languages, origin_*, first_seen, text
    spread: pa.Table  # narrative_id, platform, lang, posts, first_seen, post_id, text
    members: pa.Table  # narrative_id, platform, post_id: which posts carry each narrative
    params: dict[str, Any]
    run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        spread = self.spread.to_pylist()
        out = []
        for n in self.narratives.to_pylist():
            rows = [s for s in spread if s["narrative_id"] == n["narrative_id"]]
            n["first_seen_by_platform"] = _first_by(rows, "platform")
            n["first_seen_by_lang"] = _first_by(rows, "lang")
            n["spread"] = rows
            out.append(n)
        return {"run_id": self.run_id, "params": self.params, "narratives": out}


def _first_by(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows:
        k = r[key] or "?"
        if k not in out or r["first_seen"] < out[k]:
            out[k] = r["first_seen"]
    return out


def _posts_with_vectors(store: Store, posts: Any) -> pa.Table:
    from hubbub.query.select import current_rows

    emb = current_rows(store, "enrich_embed", "embed")
    if emb is None:
        raise ValueError("no embeddings yet: run `hubbub enrich --steps lang,neardup,embed` first")
    emb = emb.filter(emb.embedding.notnull()).select("platform", "post_id", "embedding")
    base = posts.select("platform", "post_id", "created_at", "text", "lang_declared")
    lang = current_rows(store, "enrich_lang", "lang")
    if lang is not None:
        base = base.left_join(lang.select("platform", "post_id", "lang"), ["platform", "post_id"])
        base = base.mutate(lang=base.lang.fill_null(base.lang_declared))
    else:
        base = base.mutate(lang=base.lang_declared)
    j = base.join(emb, ["platform", "post_id"])
    j = j.select("platform", "post_id", "created_at", "text", "lang", "embedding")
    return store.to_arrow(j.order_by(["created_at", "platform", "post_id"]))


def _unit_of(store: Store, table: pa.Table) -> np.ndarray:
    """Per post, the index of its unit (near-duplicate cluster, else itself)."""
    keys = [f"{p}:{i}" for p, i in zip(table["platform"].to_pylist(), table["post_id"].to_pylist(), strict=True)]
    cluster: dict[str, str] = {}
    if store.has_table("enrich_neardup"):
        from hubbub.enrich.clusters import neardup_clusters

        c = neardup_clusters(store)
        cluster = {f"{p}:{i}": cid for p, i, cid in zip(c["platform"].to_pylist(), c["post_id"].to_pylist(),
                                                          c["cluster_id"].to_pylist(), strict=True)}
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(cluster.get(k, k), len(ids)) for k in keys], np.int64)


def mutual_links(vec: np.ndarray, threshold: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of rows of the L2-normalised ``vec`` with cosine >= threshold that are among each
    other's ``k`` nearest rows."""
    n = vec.shape[0]
    kk = min(k, n - 1)
    if kk < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    nbr = np.empty((n, kk), np.int64)
    sim = np.empty((n, kk), np.float32)
    for a in range(0, n, BLOCK):
        s = vec[a:a + BLOCK] @ vec.T
        s[np.arange(s.shape[0]), np.arange(a, a + s.shape[0])] = -np.inf
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        nbr[a:a + BLOCK] = part
        sim[a:a + BLOCK] = np.take_along_axis(s, part, axis=1)
    src = np.repeat(np.arange(n), kk)
    dst = nbr.ravel()
    ok = sim.ravel() >= threshold
    src, dst = src[ok], dst[ok]
    pairs = set(zip(src.tolist(), dst.tolist(), strict=True))
    keep = [(a, b) for a, b in pairs if a < b and (b, a) in pairs]
    keep.sort()
    return np.array([a for a, _ in keep], np.int64), np.array([b for _, b in keep], np.int64)


def find_narratives(store: Store, posts: Any, params: NarrativeParams | None = None,
                    selection: dict[str, Any] | None = None) -> NarrativeResult:
    """Narratives among the posts of the Ibis table ``posts`` (already filtered by the caller)."""
    p = params or NarrativeParams()
    p.check()
    t = _posts_with_vectors(store, posts)
    n_posts = t.num_rows
    unit = _unit_of(store, t) if n_posts else np.zeros(0, np.int64)
    n_units = int(unit.max()) + 1 if n_posts else 0
    size = np.bincount(unit, minlength=n_units)
    first = np.full(n_units, -1, np.int64)  # posts are in time order: a unit's first post
    first[unit[::-1]] = np.arange(n_posts)[::-1]
    chosen = np.lexsort((first, -size))[:p.max_units]  # largest units, then earliest
    narratives, spread, members = _empty()
    if n_posts:
        emb = t["embedding"].combine_chunks()
        dim = len(emb[0].as_py())
        vec = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), np.float32).reshape(n_posts, dim)
        sums = np.zeros((n_units, dim), np.float32)
        np.add.at(sums, unit, vec)
        uvec = sums[chosen]
        uvec /= np.maximum(np.linalg.norm(uvec, axis=1, keepdims=True), 1e-12)
        a, b = mutual_links(uvec, p.threshold, p.mutual_k)
        label = components(chosen.size, a, b)
        comp_of_unit = np.full(n_units, -1, np.int64)
        comp_of_unit[chosen] = label
        narratives, spread, members = _describe(t, comp_of_unit[unit], unit, p.cross_only)
    embed_models = sorted(set(store.to_arrow(store.table("enrich_embed").select("embed_model").distinct())
                              ["embed_model"].to_pylist()) - {None})
    rec = {"analysis": "narratives", **asdict(p), "selection": selection or {}, "seed": None,
           "model": {"embedding": embed_models, "link": "cosine >= threshold between mutual k-nearest units"},
           "posts_with_vectors": n_posts, "units": n_units, "units_left_out": max(0, n_units - p.max_units)}
    run_id = record_run(store, "narratives", rec, {"narratives": narratives.num_rows})
    return NarrativeResult(narratives, spread, members, rec, run_id)


_TS = pa.timestamp("us", tz="UTC")
_NARR = pa.schema([("narrative_id", pa.string()), ("posts", pa.int64()), ("units", pa.int64()),
                   ("platforms", pa.list_(pa.string())), ("languages", pa.list_(pa.string())),
                   ("origin_platform", pa.string()), ("origin_lang", pa.string()), ("first_seen", _TS),
                   ("last_seen", _TS), ("text", pa.string())])
_SPREAD = pa.schema([("narrative_id", pa.string()), ("platform", pa.string()), ("lang", pa.string()),
                     ("posts", pa.int64()), ("first_seen", _TS), ("post_id", pa.string()), ("text", pa.string())])
_MEMBERS = pa.schema([("narrative_id", pa.string()), ("platform", pa.string()), ("post_id", pa.string())])


def _empty() -> tuple[pa.Table, pa.Table, pa.Table]:
    return _NARR.empty_table(), _SPREAD.empty_table(), _MEMBERS.empty_table()


def _describe(t: pa.Table, comp: np.ndarray, unit: np.ndarray, cross_only: bool
              ) -> tuple[pa.Table, pa.Table, pa.Table]:
    rows = t.select(["platform", "post_id", "created_at", "text", "lang"]).to_pylist()
    members: dict[int, list[int]] = {}
    for i, c in enumerate(comp.tolist()):
        if c >= 0:
            members.setdefault(c, []).append(i)
    narr, spread, member_rows = [], [], []
    for idx in members.values():
        units = len({int(unit[i]) for i in idx})
        plats = sorted({rows[i]["platform"] for i in idx})
        langs = sorted({rows[i]["lang"] or "?" for i in idx})
        if units < 2 or (cross_only and len(plats) < 2 and len(langs) < 2):
            continue
        head = rows[idx[0]]  # posts are in (created_at, platform, post_id) order
        nid = f"{head['platform']}:{head['post_id']}"
        narr.append({"narrative_id": nid, "posts": len(idx), "units": units, "platforms": plats, "languages": langs,
                     "origin_platform": head["platform"], "origin_lang": head["lang"],
                     "first_seen": head["created_at"], "last_seen": rows[idx[-1]]["created_at"],
                     "text": _short(head["text"])})
        member_rows.extend({"narrative_id": nid, "platform": rows[i]["platform"], "post_id": rows[i]["post_id"]}
                           for i in idx)
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for i in idx:
            r = rows[i]
            key = (r["platform"], r["lang"] or "?")
            if key not in seen:
                seen[key] = {"narrative_id": nid, "platform": key[0], "lang": key[1], "posts": 0,
                             "first_seen": r["created_at"], "post_id": r["post_id"], "text": _short(r["text"])}
            seen[key]["posts"] += 1
        spread.extend(sorted(seen.values(), key=lambda s: (s["first_seen"], s["platform"], s["lang"])))
    narr.sort(key=lambda n: (-n["posts"], n["first_seen"], n["narrative_id"]))
    order = {n["narrative_id"]: k for k, n in enumerate(narr)}
    spread.sort(key=lambda s: (order[s["narrative_id"]], s["first_seen"], s["platform"], s["lang"]))
    return (pa.Table.from_pylist(narr, schema=_NARR), pa.Table.from_pylist(spread, schema=_SPREAD),
            pa.Table.from_pylist(member_rows, schema=_MEMBERS))


def _short(text: str | None, n: int = TEXT_CHARS) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[:n - 1] + "…"
