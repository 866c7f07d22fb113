"""Folding: the one rule by which post text, hashtags, topic labels and query terms are compared.

Each compatibility character that stands for one character is replaced by it (Unicode NFKC of that
character: fullwidth ``ｐ`` → ``p``, mathematical ``𝐩`` → ``p``, no-break space → space), then the
text is lower-cased (without Greek final-sigma rule) and accents are stripped (Unicode NFD without
marks, i.e. categories Mn, Mc, Me, recomposed so that Hangul syllables stay whole). Compatibility
characters that stand for several (ligatures ``ﬁ``, ``①``, ``㎏``) are kept as they are.

In the store the same fold is ``hubbub.query.compile.folded``: DuckDB
``strip_accents(lower(translate(text, ...)))`` with the tables of ``compat_groups`` (checked equal to
``fold`` for every character by the tests).
"""

from __future__ import annotations

import unicodedata
from functools import cache


@cache
def compat_table() -> dict[int, str]:
    """Every compatibility character whose NFKC form is one other character → that character. (The
    planes above U+1FFFF have none; the tests check.)"""
    out = {}
    for cp in range(0x20000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        n = unicodedata.normalize("NFKC", c)
        if len(n) == 1 and n != unicodedata.normalize("NFC", c):
            out[cp] = n
    return out


def char_class(cps: list[int]) -> str:
    """An RE2 character class of code points ``cps`` (sorted), as ranges."""
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])

    def esc(cp: int) -> str:
        return "\\" + chr(cp) if chr(cp) in "\\[]^-" else chr(cp)

    return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges) + "]"


@cache
def compat_groups() -> tuple[tuple[str, str, str], ...]:
    """``compat_table`` as (character class, from, to) for DuckDB ``translate``, in two groups: the
    common (Latin-1 to U+1FFF, fullwidth and halfwidth forms) and the rest, so that a text with a
    fullwidth letter pays for a short table (``translate`` reads its whole table for every row)."""
    table = compat_table()
    common = [cp for cp in table if cp < 0x2000 or 0xFF00 <= cp <= 0xFFEF]
    rest = [cp for cp in table if not (cp < 0x2000 or 0xFF00 <= cp <= 0xFFEF)]
    return tuple((char_class(g), "".join(chr(cp) for cp in g), "".join(table[cp] for cp in g))
                 for g in (common, rest))


@cache
def compat_class() -> str:
    """A character class of every character ``compat_table`` replaces."""
    return char_class(sorted(compat_table()))


def fold(text: str) -> str:
    """The folded form of ``text`` (compatibility characters replaced, lower case, no accents)."""
    t = text.translate(compat_table()).replace("Σ", "σ").lower()  # DuckDB has no final-sigma rule
    t = "".join(c for c in unicodedata.normalize("NFD", t) if unicodedata.category(c)[0] != "M")
    return unicodedata.normalize("NFC", t)  # Hangul syllables stay whole, as in DuckDB
