"""Word tokens of post text for counting (topic keywords, keyphrases), in any language.

``tokens(text, lang)`` gives lower-cased words with links, @mentions (account keys),
numbers, 1-character tokens, retweet marks (``rt``) and stop words removed. Chinese is segmented
with rjieba and Japanese with fugashi + unidic-lite (keeping nouns, verbs, adjectives and adjectival
nouns); other languages
split on Unicode word characters (a ``#`` is dropped, the hashtag's word kept). With ``lang=None``
the script decides: kana means Japanese, other Han text Chinese.

``is_stopword(token, lang)``: in the stopwords-iso list of ``lang`` or of English (tweets mix
English into every language), compared without case and accents; with ``lang=None`` (or a
language stopwords-iso lacks) in any list.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

from hubbub.langcodes import DEPRECATED
from hubbub.privacy import MENTION_RE

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_](?:[\w'’\-]*[^\W_])?")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_POSSESSIVE = re.compile(r"['’]s$")
_NUMBERISH = re.compile(r"^[\W\d_]+$")
_JA_KEEP = {"名詞", "動詞", "形容詞", "形状詞"}
_JA_DROP2 = {"数詞", "非自立可能"}
_NOISE = frozenset({"rt", "amp", "via", "https", "http", "www"})  # retweet marks, escaped '&', link debris
_ALIASES = {**DEPRECATED, "zh-cn": "zh", "zh-tw": "zh", "nb": "no", "nn": "no", "gr": "el"}


def base_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    low = lang.lower()
    return _ALIASES.get(low, low.split("-")[0].split("_")[0])


def fold(token: str) -> str:
    """Lower case without accents (stopwords-iso writes some languages unaccented, e.g. Greek)."""
    token = token.lower().replace("’", "'")
    return "".join(c for c in unicodedata.normalize("NFD", token) if not unicodedata.combining(c))


@cache
def _stopwords(lang: str) -> frozenset[str]:
    import stopwordsiso

    return frozenset(fold(w) for w in stopwordsiso.stopwords(lang)) if stopwordsiso.has_lang(lang) else frozenset()


@cache
def _all_stopwords() -> frozenset[str]:
    import stopwordsiso

    return frozenset().union(*(_stopwords(lang) for lang in stopwordsiso.langs()))


def is_stopword(token: str, lang: str | None = None) -> bool:
    t = fold(token)
    base = base_lang(lang)
    if base is None or not _stopwords(base):
        return t in _all_stopwords()
    return t in _stopwords(base) or t in _stopwords("en")


@cache
def _tagger() -> Any:
    import fugashi

    return fugashi.Tagger()


def _japanese(text: str) -> list[str]:
    out = []
    for w in _tagger()(text):
        f = w.feature
        if f.pos1 in _JA_KEEP and f.pos2 not in _JA_DROP2:
            out.append(w.surface)
    return out


def _chinese(text: str) -> list[str]:
    import rjieba

    return [w for w in rjieba.cut(text) if w.strip()]


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def tokens(text: str | None, lang: str | None = None) -> list[str]:
    """Content words of ``text`` (see the module doc), in order, duplicates kept."""
    if not text:
        return []
    text = MENTION_RE.sub(" ", _URL.sub(" ", text))
    base = base_lang(lang)
    if base is None and _HAN.search(text):
        base = "ja" if _KANA.search(text) else "zh"
    if base == "ja":
        raw = _japanese(text)
    elif base == "zh":
        raw = _chinese(text)
    else:
        raw = _words(text)
    out = []
    for w in raw:
        t = _POSSESSIVE.sub("", w.lower()).strip("'’-")
        if len(t) < 2 or _NUMBERISH.match(t) or t.startswith("acct_") or t in _NOISE or is_stopword(t, base):
            continue
        out.append(t)
    return out
