"""Near-duplicate co-text layer (``near``): two accounts co-act when posts of each, within the window,
have texts whose word-token sets have Jaccard similarity >= the layer's ``threshold`` (default 0.8).

Tokens are those of coordination-network-toolkit's ``tokenize`` (its ``co_similar_tweet`` network): lower
case, ``@mentions`` removed, Unicode words (letters and digits joined across ``'’.:·`` between letters
and ``,;.'’`` between digits), every other non-space character a token of its own (with its combining
marks), each Han / Hiragana character a word; a post's set of distinct tokens is compared. Any
language written with spaces, plus Chinese and Japanese; reposts are not items (as in ``text``).

Exact, not sampled: candidates come from *prefix filtering*. Tokens are ranked rarest first over the
selection's distinct texts; two sets of sizes ``n`` and ``m`` with Jaccard >= t must share a token among
the first ``n - ceil(t * n) + 1`` tokens of each. Posts are joined on (prefix token, time bucket) within
the window, as the exact layers are on (item, time bucket); every candidate pair of distinct texts is
then verified by its true Jaccard similarity. So the pairs are those of the all-pairs definition, found
without comparing every two posts of a window. Texts are tokenised once per distinct text.

Null model item: the near-duplicate group of a post's text (connected components of the verified
text pairs), so the hour's collision probability counts near-duplicates as the same item.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hubbub.analyze.coordination.layers import _WS, Layer, fetch

DEFAULT_THRESHOLD = 0.8
_MARK = "\ue000"  # private-use character marking a joining punctuation mark inside a word
_LETTER_JOIN = f"regexp_replace(##, '([\\pL\\pM])([:·''’.])(\\pL)', '\\1\\2{_MARK}\\3', 'g')"
_DIGIT_JOIN = f"regexp_replace(##, '(\\pN)([,;.''’])(\\pN)', '\\1\\2{_MARK}\\3', 'g')"


def _tokens_sql() -> str:
    x = f"regexp_replace(lower(text), '@[^{_WS[1:-1]}]*', '', 'g')"
    x = f"regexp_replace({x}, '([\\p{{Han}}\\p{{Hiragana}}])', ' \\1 ', 'g')"
    for step in (_LETTER_JOIN, _LETTER_JOIN, _DIGIT_JOIN, _DIGIT_JOIN):  # twice: matches may overlap
        x = step.replace("##", x)
    word = f"(?:[\\pL\\pN\\pM_]|[:·''’.,;]{_MARK})+"
    other = f"[^\\pL\\pN\\pM{_WS[1:-1]}''{_MARK}][\\pM\\x{{200d}}\\x{{fe0f}}]*"
    return (f"list_distinct(list_transform(regexp_extract_all({x}, '{word}|{other}'), "
            f"lambda t: replace(t, '{_MARK}', '')))")


# The token set of column ``text`` (fixed SQL; no user or post text is formatted into it).
TOKENS = _tokens_sql()

# Distinct texts of non-reposts with their token-rank lists (rarest first); $1 = threshold.
_DOCS = f"""CREATE OR REPLACE TEMP TABLE _co_nd_docs AS
WITH d AS (SELECT row_number() OVER (ORDER BY text) AS doc, text, {TOKENS} AS toks
           FROM (SELECT DISTINCT text FROM _co_posts WHERE kind <> 'repost' AND text IS NOT NULL)),
t AS (SELECT doc, unnest(toks) AS tok FROM d),
r AS (SELECT tok, row_number() OVER (ORDER BY count(*), tok) AS rk FROM t GROUP BY tok),
dr AS (SELECT t.doc, list(r.rk ORDER BY r.rk) AS rks FROM t JOIN r ON r.tok = t.tok GROUP BY t.doc)
SELECT d.doc, d.text, dr.rks, len(dr.rks) AS n,
       len(dr.rks) - CAST(ceil($1 * len(dr.rks) - 1e-9) AS BIGINT) + 1 AS pre
FROM d JOIN dr ON dr.doc = d.doc"""

_POSTS = """CREATE OR REPLACE TEMP TABLE _co_nd_posts AS
SELECT p.pid, p.u, k.r, p.ts, d.doc FROM _co_posts p JOIN _co_rank k ON k.u = p.u
JOIN _co_nd_docs d ON d.text = p.text WHERE p.kind <> 'repost'"""

# Candidate post pairs sharing a prefix token within the window, verified by Jaccard; $1 window (µs),
# $2 bucket width (µs), $3 threshold.
_MATCHES = """CREATE OR REPLACE TEMP TABLE _co_nd_match AS
WITH pre AS (SELECT doc, unnest(rks[1:pre]) AS k FROM _co_nd_docs),
act AS (SELECT p.pid, p.u, p.r, p.ts, p.doc, pre.k, p.ts // $2 AS b FROM _co_nd_posts p JOIN pre ON pre.doc = p.doc),
y AS (SELECT act.*, act.b + o.d AS bb FROM act, (VALUES (-1), (0), (1)) o(d)),
cand AS (SELECT DISTINCT x.pid AS px, y.pid AS py, x.u AS a, y.u AS b, x.doc AS dx, y.doc AS dy
         FROM act x JOIN y ON x.k = y.k AND x.b = y.bb WHERE x.r < y.r AND abs(x.ts - y.ts) <= $1),
dp AS (SELECT DISTINCT least(dx, dy) AS d1, greatest(dx, dy) AS d2 FROM cand WHERE dx <> dy),
ok AS (SELECT dp.d1, dp.d2 FROM dp JOIN _co_nd_docs e ON e.doc = dp.d1 JOIN _co_nd_docs f ON f.doc = dp.d2
       WHERE CAST(len(list_intersect(e.rks, f.rks)) AS DOUBLE)
             / (e.n + f.n - len(list_intersect(e.rks, f.rks))) >= $3)
SELECT cand.* FROM cand LEFT JOIN ok ON ok.d1 = least(cand.dx, cand.dy) AND ok.d2 = greatest(cand.dx, cand.dy)
WHERE cand.dx = cand.dy OR ok.d1 IS NOT NULL"""

_PAIRS = """SELECT a, b, count(DISTINCT px) AS n_a, count(DISTINCT py) AS n_b, count(*) AS hits FROM _co_nd_match
GROUP BY a, b HAVING greatest(count(DISTINCT px), count(DISTINCT py)) >= $1 ORDER BY a, b"""

def near_pairs(con: duckdb.DuckDBPyConnection, layer: Layer) -> pa.Table:
    """(a, b, n_a, n_b, hits, weight) of the near-duplicate layer over ``_co_posts``; leaves the actions
    with their near-duplicate group as item in ``_co_near_items`` (``ACTIONS['near']``) for the null model."""
    t = layer.threshold
    try:
        con.execute(_DOCS, [t])
        con.execute(_POSTS)
        con.execute(_MATCHES, [layer.window_us, max(layer.window_us, 1), t])
        pairs = fetch(con, _PAIRS, [layer.min_weight])
        _items(con)
    finally:
        for name in ("_co_nd_docs", "_co_nd_posts", "_co_nd_match"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return pairs.append_column("weight", pc.max_element_wise(pairs["n_a"], pairs["n_b"]))


def _items(con: duckdb.DuckDBPyConnection) -> None:
    n = int(con.execute("SELECT coalesce(max(doc), 0) FROM _co_nd_docs").fetchall()[0][0]) + 1
    dp = fetch(con, "SELECT DISTINCT least(dx, dy) AS d1, greatest(dx, dy) AS d2 FROM _co_nd_match WHERE dx <> dy")
    d1, d2 = dp["d1"].to_numpy(), dp["d2"].to_numpy()
    graph = coo_matrix((np.ones(d1.size, np.int8), (d1, d2)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    con.register("_co_nd_group", pa.table({"doc": np.arange(n, dtype=np.int64), "item": label.astype(np.int64)}))
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE _co_near_items AS
            SELECT p.pid, p.u, p.ts, g.item FROM _co_nd_posts p JOIN _co_nd_group g ON g.doc = p.doc""")
    finally:
        con.unregister("_co_nd_group")
