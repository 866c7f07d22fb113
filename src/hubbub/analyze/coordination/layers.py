"""Co-action pairs per layer: which pairs of accounts acted on the same item within a time window.

A *layer* turns each selected post into zero or more actions ``(pid, u, ts, item)``: the post's number,
its author key, its time in microseconds since the epoch (UTC) and a 128-bit hash of the item acted on:

- ``link``: each distinct canonical link of a post that is not a repost (links in reposts are the
  reposted author's, not the account's);
- ``repost``: the post a repost repeats (``reposted_id``); a repost without one (IRA CSVs) uses its
  normalised text, which names the original author and text (``RT @acct_…: …``);
- ``text``: the normalised text of a post that is not a repost: lower case, ``@mentions`` removed,
  whitespace collapsed (the same as coordination-network-toolkit's ``message_preprocessor``); empty
  texts are not items;
- ``reply``: the post replied to (``parent_id``) of a post that is not a repost;
- ``hashtag``: the set of a post's hashtags (case-folded, sorted), for posts with at least one.

Pairs: two accounts ``a``, ``b`` (``a`` first in content order, ``hubbub.canonical``) co-act when an
action of ``a`` and one of ``b`` share the item and their
times differ by at most the layer's window (inclusive). Per pair: ``n_a`` = posts of ``a`` matched by
``b``, ``n_b`` = posts of ``b`` matched by ``a`` (the toolkit's two directed weights), ``weight`` =
max(n_a, n_b), ``hits`` = matched action pairs. A pair is kept when ``weight >= min_weight``.

The join runs in DuckDB on (item, time bucket) with buckets as wide as the window, each action
joined to its own and the two neighbouring buckets, before filtering on |Δt|: never all pairs of an
item, only those close in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from hubbub.canonical import account_rank, masked_text
from hubbub.store.store import Store, arrow_of

_POST_COLS = ("author_key", "created_at", "platform", "post_id", "kind", "reposted_id", "parent_id",
              "urls_canonical", "domains", "hashtags", "text")
LAYERS = ("link", "repost", "text", "reply", "hashtag", "near")
EXACT_LAYERS = LAYERS[:5]

# Whitespace as Python's str.split() sees it (RE2's \s is ASCII only).
_WS = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
# Whitespace other than the space: with runs of two or more, all that the collapse has to replace
# (replacing every single space makes the regex several times slower).
_WS_NOT_SPACE = r"[\t-\r\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
NORM_TEXT = (f"trim(regexp_replace(regexp_replace(lower(text), '@[^{_WS[1:-1]}]*', '', 'g'), "
             f"'{_WS}{{2,}}|{_WS_NOT_SPACE}', ' ', 'g'))")

# Each layer's actions over the selected posts _co_posts(pid, u, ts, kind, reposted_id, parent_id, urls,
# hashtags, text). Fixed SQL: no user or post text is ever formatted into it.
ACTIONS: dict[str, str] = {
    "link": """SELECT pid, u, ts, md5_number(url) AS item FROM (
        SELECT pid, u, ts, unnest(list_distinct(urls)) AS url FROM _co_posts WHERE kind <> 'repost')
        WHERE url <> ''""",
    "repost": f"""SELECT pid, u, ts, CASE WHEN reposted_id IS NOT NULL THEN md5_number('r' || reposted_id)
        WHEN {NORM_TEXT} <> '' THEN md5_number('t' || {NORM_TEXT}) END AS item
        FROM _co_posts WHERE kind = 'repost'""",
    "text": f"""SELECT pid, u, ts, md5_number(norm) AS item FROM (
        SELECT pid, u, ts, {NORM_TEXT} AS norm FROM _co_posts WHERE kind <> 'repost' AND text IS NOT NULL)
        WHERE norm <> ''""",
    "reply": """SELECT pid, u, ts, md5_number(parent_id) AS item FROM _co_posts
        WHERE kind <> 'repost' AND parent_id IS NOT NULL""",
    "hashtag": """SELECT pid, u, ts, md5_number(array_to_string(tags, ' ')) AS item FROM (
        SELECT pid, u, ts, list_sort(list_distinct(list_transform(hashtags, lambda h: lower(h)))) AS tags
        FROM _co_posts) WHERE len(tags) > 0""",
    # made by near.near_pairs: non-reposts with tokens, the item their text's near-duplicate group
    "near": "SELECT pid, u, ts, item FROM _co_near_items",
}

# Pairs over _co_act(pid, u, r, ts, item, b) with b = ts // width; $1 = window (µs), $2 = min weight.
# A pair is written (a, b) with a the account first in content order (r, ``hubbub.canonical``): the
# same way round in every workspace, whatever the keys.
PAIRS = """WITH y AS (SELECT a.pid, a.u, a.r, a.ts, a.item, a.b + o.d AS bb FROM _co_act a,
                      (VALUES (-1), (0), (1)) o(d))
SELECT x.u AS a, y.u AS b, count(DISTINCT x.pid) AS n_a, count(DISTINCT y.pid) AS n_b, count(*) AS hits
FROM _co_act x JOIN y ON x.item = y.item AND x.b = y.bb
WHERE x.r < y.r AND abs(x.ts - y.ts) <= $1
GROUP BY x.u, y.u
HAVING greatest(count(DISTINCT x.pid), count(DISTINCT y.pid)) >= $2"""


@dataclass(frozen=True)
class Layer:
    """One layer's parameters: ``window`` in seconds (inclusive), ``min_weight`` (>= 1), ``threshold``:
    the Jaccard similarity two texts need in the ``near`` layer."""

    name: str
    window: float = 60.0
    min_weight: int = 2
    threshold: float = 0.8

    def __post_init__(self) -> None:
        if self.name not in LAYERS:
            raise ValueError(f"unknown layer {self.name!r}; layers: {', '.join(LAYERS)}")
        if not self.window >= 0:
            raise ValueError(f"layer {self.name}: the window must be >= 0 seconds, got {self.window}")
        if self.min_weight < 1:
            raise ValueError(f"layer {self.name}: min_weight must be >= 1, got {self.min_weight}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"layer {self.name}: the similarity threshold must be in (0, 1], got {self.threshold}")

    @property
    def window_us(self) -> int:
        return round(self.window * 1_000_000)


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pa.Table:
    """Fixed SQL with bound parameters only."""
    return arrow_of(con.sql(sql, params=params or None))


def load_posts(store: Store, expr: Any) -> int:
    """Temp table ``_co_posts`` from an Ibis expression over ``posts`` (the selection to analyse); posts are
    numbered ``pid`` in content order (``hubbub.canonical``; copies of one text at one time in the order
    of their accounts), and ``_co_rank`` ranks the accounts.
    Returns the number of posts."""
    con = store.con
    con.execute("DROP TABLE IF EXISTS _co_sel")
    store.ibis.create_table("_co_sel", expr.select(*_POST_COLS), temp=True)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _co_posts AS
        SELECT author_key AS u, epoch_us(created_at) AS ts, platform, post_id, kind, reposted_id, parent_id,
               urls_canonical AS urls, hashtags, text, domains
        FROM _co_sel WHERE author_key IS NOT NULL AND created_at IS NOT NULL""")
    con.execute("DROP TABLE _co_sel")
    rank_accounts(con)
    # copies of one text at one time by several accounts come in the order of their accounts
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _co_posts AS
        SELECT row_number() OVER (ORDER BY p.ts, p.platform, {masked_text("p.text")}, p.kind, k.r, p.post_id) - 1
               AS pid, p.* FROM _co_posts p JOIN _co_rank k ON k.u = p.u""")
    return int(con.execute("SELECT count(*) FROM _co_posts").fetchall()[0][0])


def rank_accounts(con: duckdb.DuckDBPyConnection) -> int:
    """Temp table ``_co_rank(u, r)``: the accounts of ``_co_posts`` in content order (``hubbub.canonical``).
    Returns the number of posts."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _co_rank AS {account_rank('_co_posts')}")
    return int(con.execute("SELECT count(*) FROM _co_posts").fetchall()[0][0])


def account_order(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """{account key: rank} of ``_co_rank``."""
    t = fetch(con, "SELECT u, r FROM _co_rank")
    return dict(zip(t["u"].to_pylist(), t["r"].to_pylist(), strict=True))


def load_qut_csv(con: duckdb.DuckDBPyConnection, paths: list[str], key: Callable[[str], str]) -> int:
    """Temp table ``_co_posts`` straight from coordination-network-toolkit CSVs (8 columns by position,
    first row a header, as the toolkit reads them), without importing them into a store: DuckDB reads
    the files; account ids are replaced by ``key(user_id)`` (pseudonymous keys) before any analysis.
    A message id seen twice keeps its first row (as the toolkit does); links are split on spaces and
    used as written (the store path canonicalises them at import), empty ones dropped."""
    con.execute("DROP TABLE IF EXISTS _co_posts")
    # insertion order is file order, so rowid numbers the rows as read (no window over all rows)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _co_raw AS SELECT * FROM read_csv($files, header = true, all_varchar = true,
            columns = {'message_id': 'VARCHAR', 'user_id': 'VARCHAR', 'username': 'VARCHAR', 'repost_id': 'VARCHAR',
                       'reply_id': 'VARCHAR', 'message': 'VARCHAR', 'timestamp': 'VARCHAR', 'urls': 'VARCHAR'},
            quote = '"', escape = '"', strict_mode = false)""", {"files": paths})
    dup = con.execute("SELECT count(message_id) > count(DISTINCT message_id) FROM _co_raw").fetchall()[0][0]
    if dup:
        con.execute("""DELETE FROM _co_raw WHERE rowid NOT IN (
            SELECT min(rowid) FROM _co_raw GROUP BY message_id) AND message_id IS NOT NULL""")
    ids = con.execute("SELECT DISTINCT user_id FROM _co_raw WHERE user_id IS NOT NULL").fetchall()
    keys = pa.table({"user_id": [i[0] for i in ids], "u": [key(i[0]) for i in ids]})
    con.register("_co_keys", keys)
    try:
        con.execute(
            """CREATE TEMP TABLE _co_posts AS
            SELECT r.rowid AS pid, k.u, CAST(round(CAST(r.timestamp AS DOUBLE) * 1e6) AS BIGINT) AS ts,
                   'other' AS platform, r.message_id AS post_id,
                   CASE WHEN coalesce(r.repost_id, '') <> '' THEN 'repost'
                        WHEN coalesce(r.reply_id, '') <> '' THEN 'reply' ELSE 'post' END AS kind,
                   nullif(r.repost_id, '') AS reposted_id, nullif(r.reply_id, '') AS parent_id,
                   list_filter(string_split(coalesce(r.urls, ''), ' '), lambda x: x <> '') AS urls,
                   CAST([] AS VARCHAR[]) AS hashtags, r.message AS text
            FROM _co_raw r JOIN _co_keys k ON k.user_id = r.user_id""")
    finally:
        con.unregister("_co_keys")
        con.execute("DROP TABLE _co_raw")
    return rank_accounts(con)


def load_actions(con: duckdb.DuckDBPyConnection, layer: Layer) -> int:
    """Temp table ``_co_act`` of the layer's actions on items that at least two accounts acted on."""
    width = max(layer.window_us, 1)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _co_act AS
        WITH act AS ({ACTIONS[layer.name]}),
        shared AS (SELECT item FROM act WHERE item IS NOT NULL GROUP BY item HAVING count(DISTINCT u) > 1)
        SELECT act.pid, act.u, k.r, act.ts, act.item, act.ts // {width} AS b
        FROM act JOIN _co_rank k ON k.u = act.u SEMI JOIN shared ON act.item = shared.item""")
    return int(con.execute("SELECT count(*) FROM _co_act").fetchall()[0][0])


def exact_pairs(con: duckdb.DuckDBPyConnection, layer: Layer) -> pa.Table:
    """(a, b, n_a, n_b, hits, weight) of an exact layer over ``_co_posts`` (load it first); leaves the
    layer's actions in ``_co_act`` for the null model. ``pairs.layer_pairs`` dispatches every layer."""
    load_actions(con, layer)
    t = fetch(con, PAIRS + " ORDER BY a, b", [layer.window_us, layer.min_weight])
    return t.append_column("weight", pc.max_element_wise(t["n_a"], t["n_b"]))


POSTS_SCHEMA = pa.schema([("pid", pa.int64()), ("u", pa.string()), ("ts", pa.int64()), ("platform", pa.string()),
                          ("post_id", pa.string()), ("kind", pa.string()), ("reposted_id", pa.string()),
                          ("parent_id", pa.string()), ("urls", pa.list_(pa.string())),
                          ("hashtags", pa.list_(pa.string())), ("text", pa.string())])


def load_posts_table(con: duckdb.DuckDBPyConnection, posts: pa.Table) -> int:
    """Temp table ``_co_posts`` from an Arrow table of ``POSTS_SCHEMA`` (in-memory analyses, evaluation)."""
    con.register("_co_in", posts.select(POSTS_SCHEMA.names).cast(POSTS_SCHEMA))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _co_posts AS SELECT * FROM _co_in")
    finally:
        con.unregister("_co_in")
    return rank_accounts(con)
