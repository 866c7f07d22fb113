"""Keyphrases of short posts in any language, from the post alone (no corpus statistics, so a post's
keyphrases do not depend on the other posts of a batch or a dataset).

1. Text is NFKC-normalised and HTML entities decoded; links, ``@mentions`` (stored as ``@acct_...``)
   and a leading ``RT`` are removed.
2. Words: Japanese (text with kana) is segmented by fugashi + unidic-lite and Chinese (Han without
   kana) by rjieba; there only nouns (with the prefixes and noun-like suffixes attached to them in
   Japanese; ``vn`` and ``eng`` in Chinese) are words, everything else breaks a phrase. Other scripts
   are cut at spaces and punctuation (``\\w+`` with inner apostrophes; an elided form such as
   ``l'approche`` is cut at the apostrophe unless a stop-word list holds it), case folded. Each hashtag
   is a phrase of its own (``#`` breaks a phrase). Tokens without a letter, single letters and runs
   longer than ``MAX_TOKEN_CHARS`` (scripts written without spaces and without a segmenter here:
   Thai, Khmer, ...) break phrases.
3. Stop words (stopwordsiso) of the post's language break phrases: the language given (the
   ``keyphrases`` step gives the detected, else the declared language) when stopwordsiso has a list
   for it, else the language whose list holds most of the post's tokens
   (ties: ``PRIORITY`` order, then alphabetical; no stop words when no list holds any token).
   Japanese and Chinese use their own lists.
4. Candidates are the runs of words between breaks, cut into pieces of at most ``MAX_WORDS`` words,
   scored as in RAKE (Rose et al. 2010): a word scores degree / frequency over the post's candidates,
   a phrase the sum of its words. The ``TOP_K`` best distinct phrases are kept, best first (ties: first
   occurrence first). Words of Chinese and Japanese phrases are joined without spaces.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from hubbub.privacy import MENTION_PATTERN
from hubbub.text.tokens import base_lang

MAX_WORDS = 3
TOP_K = 5
MAX_TOKEN_CHARS = 25
PRIORITY = ("en", "es", "fr", "pt", "de", "it", "nl", "ru", "ar", "tr", "id")
ZH_WORD_TAGS = frozenset({"vn", "eng"})  # besides every tag starting with "n"

_DROP = re.compile(r"(?:https?://|www\.)\S+|\bhttps?\b|" + MENTION_PATTERN + r"|^\s*RT\b:?", re.IGNORECASE)
_PIECE = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_BREAK = None  # marks a phrase break in a token stream


@cache
def _stop_index() -> tuple[tuple[str, ...], dict[str, tuple[int, ...]]]:
    """(languages in tie-break order, token -> indexes of the languages listing it)."""
    import stopwordsiso

    langs = tuple(sorted(stopwordsiso.langs(), key=lambda lang: (lang not in PRIORITY,
                                                                  PRIORITY.index(lang) if lang in PRIORITY else 0,
                                                                  lang)))
    index: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        for w in stopwordsiso.stopwords(lang):
            index.setdefault(w.casefold(), []).append(i)
    return langs, {w: tuple(ids) for w, ids in index.items()}


@cache
def _stopwords(lang: str) -> frozenset[str]:
    import stopwordsiso

    return frozenset(w.casefold() for w in stopwordsiso.stopwords(lang))


@cache
def _tagger() -> Any:
    import fugashi

    return fugashi.Tagger()


def stop_languages() -> tuple[str, ...]:
    """The languages stopwordsiso has a list for."""
    return _stop_index()[0]


def guess_stop_language(tokens: Iterable[str]) -> str | None:
    """The language whose stop-word list holds most of ``tokens`` (None when no list holds any)."""
    langs, index = _stop_index()
    counts = [0] * len(langs)
    hit = False
    for t in tokens:
        for i in index.get(t, ()):
            counts[i] += 1
            hit = True
    if not hit:
        return None
    return langs[max(range(len(langs)), key=counts.__getitem__)]


def _is_word(tok: str) -> bool:
    return tok.isalpha() or (not tok.isdigit() and any(c.isalpha() for c in tok))


def _pieces(text: str) -> list[str]:
    """Case-folded words and punctuation marks; an elided word (``l'approche``, ``c'est``) not in a
    stop-word list as a whole is cut at its apostrophes."""
    found = _PIECE.findall(text.casefold())
    if "'" not in text:
        return found
    _, index = _stop_index()
    out: list[str] = []
    for p in found:
        if "'" in p and p not in index:
            out.extend(x for x in p.split("'") if x)
        else:
            out.append(p)
    return out


def _spaced_stream(text: str, lang: str | None) -> list[str | None]:
    """Words with breaks (None) for punctuation, '#', non-words and stop words."""
    raw = _pieces(text)
    if lang is None:
        lang = guess_stop_language([p for p in raw if len(p) > 1 or p.isalnum()])
    stop = _stopwords(lang) if lang else frozenset()
    return [p if 1 < len(p) <= MAX_TOKEN_CHARS and p not in stop and _is_word(p) else _BREAK for p in raw]


def _japanese_stream(text: str) -> list[str | None]:
    """Nouns (not numerals) and the prefixes / noun-like suffixes attached to them."""
    stop = _stopwords("ja")
    nodes = [(w.surface, w.pos.split(",", 2)) for w in _tagger()(text)]
    out: list[str | None] = []
    for i, (s, pos) in enumerate(nodes):
        noun = pos[0] == "名詞" and pos[1] != "数詞" and s not in stop and not s.isdigit()
        if pos[0] == "接頭辞":
            nxt = nodes[i + 1][1] if i + 1 < len(nodes) else ("",)
            noun = nxt[0] == "名詞" and nxt[1] != "数詞"
        elif pos[0] == "接尾辞" and pos[1] == "名詞的":
            noun = bool(out) and out[-1] is not _BREAK
        out.append(s.casefold() if noun and len(s) <= MAX_TOKEN_CHARS else _BREAK)
    return out


def _chinese_stream(text: str) -> list[str | None]:
    import rjieba

    stop = _stopwords("zh")
    out: list[str | None] = []
    for s, tag in rjieba.tag(text):
        ok = (tag.startswith("n") or tag in ZH_WORD_TAGS) and s.strip() and s not in stop and not s.isdigit()
        out.append(s.casefold() if ok and len(s) <= MAX_TOKEN_CHARS else _BREAK)
    return out


def token_stream(text: str | None, lang: str | None = None) -> tuple[list[str | None], str]:
    """The post's words in order with phrase breaks (None), and the joiner of its words. ``lang``
    (ISO 639-1) chooses the stop words of text written with spaces; by default they are guessed."""
    if not text:
        return [], " "
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    if "&" in text:
        text = html.unescape(text)
    t = _DROP.sub(" ", text)
    if _KANA.search(t):
        return _japanese_stream(t), ""
    if _HAN.search(t):
        return _chinese_stream(t), ""
    lang = base_lang(lang)
    return _spaced_stream(t, lang if lang in _stop_index()[0] else None), " "


def candidates(stream: Sequence[str | None], max_words: int = MAX_WORDS) -> list[tuple[str, ...]]:
    """Runs of words between breaks, cut into pieces of at most ``max_words`` words."""
    out: list[tuple[str, ...]] = []
    run: list[str] = []
    for tok in [*stream, _BREAK]:
        if tok is not _BREAK:
            run.append(tok)
            continue
        for i in range(0, len(run), max_words):
            out.append(tuple(run[i:i + max_words]))
        run = []
    return out


def keyphrases(text: str | None, lang: str | None = None, top_k: int = TOP_K,
               max_words: int = MAX_WORDS) -> list[str]:
    """The post's ``top_k`` keyphrases, best first (see the module docstring)."""
    stream, joiner = token_stream(text, lang)
    cands = candidates(stream, max_words)
    if not joiner:  # a single Chinese or Japanese character says little
        cands = [c for c in cands if len(c) > 1 or len(c[0]) > 1]
    if not cands:
        return []
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for c in cands:
        n = len(c)
        for w in c:
            freq[w] = freq.get(w, 0) + 1
            degree[w] = degree.get(w, 0) + n
    best: dict[str, tuple[float, int]] = {}
    for pos, c in enumerate(cands):
        phrase = joiner.join(c)
        if phrase not in best:
            best[phrase] = (-sum(degree[w] / freq[w] for w in c), pos)
    return sorted(best, key=best.__getitem__)[:top_k]


def versions() -> dict[str, str]:
    """Versions of the packages that shape the output (for provenance)."""
    from importlib.metadata import version

    return {p: version(p) for p in ("stopwordsiso", "rjieba", "fugashi", "unidic-lite")}
