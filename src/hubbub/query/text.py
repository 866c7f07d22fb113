"""Folding and the regular expressions that match words, prefixes, phrases and NEAR in folded text.

Text and query terms are folded the same way (``hubbub.text.fold.fold``; in the store
``hubbub.query.compile.folded``). Words match on word boundaries, written as explicit character
classes (RE2's ``\\b`` only knows ASCII). Scripts written without spaces (Chinese, Japanese,
Korean, Thai, Lao, Khmer, Myanmar) have no word boundaries to match: their characters match as
substrings.

The expressions are data for RE2 (DuckDB ``regexp_matches``; Spark's Java regex reads them the same
way): every character of the user's text is escaped, and they are passed to the engine as literals.
"""

from __future__ import annotations

import re
import string

from hubbub.text.fold import compat_class, compat_groups, compat_table, fold

WORD = r"\p{L}\p{N}\p{M}_"
SEP = f"[^{WORD}]"  # one character that is not part of a word
_PUNCT = set(string.punctuation)
_SPACELESS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")
_WORD_CHAR = re.compile(r"[\w]")
__all__ = ["chunks", "compat_class", "compat_groups", "compat_table", "escape", "fold", "near_regex",
           "phrase_regex", "spaceless", "term_regex", "terms_regexes"]


def escape(s: str) -> str:
    """``s`` as a literal inside an RE2 / Java regular expression."""
    return "".join("\\" + c if c in _PUNCT else c for c in s)


def spaceless(c: str) -> bool:
    return bool(_SPACELESS.match(c))


def _bounded(c: str) -> bool:
    """Whether a word boundary is required next to character ``c`` of a term."""
    return bool(_WORD_CHAR.match(c)) and not spaceless(c)


def chunks(text: str) -> list[str]:
    """The folded, whitespace-separated parts of a phrase."""
    return fold(text).split()


def term_regex(term: str, prefix: bool = False) -> tuple[str, str | None]:
    """(folded literal, regex or None when a substring test suffices) for a word or ``prefix*``."""
    f = fold(term)
    left = f"(?:^|{SEP})" if _bounded(f[0]) else ""
    right = "" if prefix or not _bounded(f[-1]) else f"(?:{SEP}|$)"
    if not left and not right:
        return f, None
    return f, f"{left}{escape(f)}{right}"


def terms_regexes(terms: list[tuple[str, bool]]) -> list[str]:
    """Regexes that together match where any of ``terms`` (word, prefix) matches as ``term_regex``
    would: one per kind of boundary, the words an alternation (one regex to compile for a list of
    1,000 words, not 1,000)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for term, prefix in terms:
        f = fold(term)
        left = f"(?:^|{SEP})" if _bounded(f[0]) else ""
        right = "" if prefix or not _bounded(f[-1]) else f"(?:{SEP}|$)"
        groups.setdefault((left, right), []).append(escape(f))
    return [f"{left}(?:{'|'.join(dict.fromkeys(bodies))}){right}" for (left, right), bodies in groups.items()]


def _body(text: str, prefix: bool, phrase: bool) -> str:
    """The regex of a word or phrase without its outer boundaries. A phrase is its folded characters
    exactly, punctuation included, with any run of white space matching any other (or none, next to
    a character of a script without spaces)."""
    if not phrase:
        return escape(fold(text)) + (f"[{WORD}]*" if prefix else "")
    cs = chunks(text)
    out = escape(cs[0])
    for a, b in zip(cs, cs[1:], strict=False):
        out += (r"\s*" if spaceless(a[-1]) or spaceless(b[0]) else r"\s+") + escape(b)
    return out


def phrase_regex(text: str) -> tuple[str, str]:
    """(the longest folded part, for a fast substring test first; the phrase's regex)."""
    cs = chunks(text)
    if not cs:
        raise ValueError("phrase without words")
    left = f"(?:^|{SEP})" if _bounded(cs[0][0]) else ""
    right = f"(?:{SEP}|$)" if _bounded(cs[-1][-1]) else ""
    return max(cs, key=len), f"{left}{_body(text, False, True)}{right}"


def _edges(text: str, prefix: bool) -> tuple[str, str]:
    """The boundaries a word or phrase needs on its left and right."""
    f = fold(text).strip()
    left = f"(?:^|{SEP})" if _bounded(f[0]) else ""
    right = f"(?:{SEP}|$)" if _bounded(f[-1]) and not prefix else ""
    return left, right


def near_regex(a: str, a_prefix: bool, a_phrase: bool, b: str, b_prefix: bool, b_phrase: bool,
               distance: int) -> tuple[str, str, str]:
    """(folded literal of a, of b, regex): a and b, in either order, with at most ``distance - 1``
    words between them; with a side in a script without spaces, at most ``distance`` characters."""
    fa, fb = (max(chunks(x), key=len) if p else fold(x) for x, p in ((a, a_phrase), (b, b_phrase)))
    ra, rb = _body(a, a_prefix, a_phrase), _body(b, b_prefix, b_phrase)
    (la, xa), (lb, xb) = _edges(a, a_prefix), _edges(b, b_prefix)
    cjk = any(spaceless(c) for c in fold(a) + fold(b))
    gap = f"(?s:.{{0,{distance}}})" if cjk else f"{SEP}+(?:[{WORD}]+{SEP}+){{0,{distance - 1}}}"
    return fa, fb, f"{la}{ra}{gap}{rb}{xb}|{lb}{rb}{gap}{ra}{xa}"
