"""Small workspaces of real posts for the enrichment-step tests: texts from the shared XLM-T sentiment
(en, fr, es, ...) and TweetTopicXL (ja) sets, imported through a JSON Lines column mapping."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from conftest import shared

from hubbub.api import Hubbub
from hubbub.sources.tabular import mapped_source

XLMT = {"en": "english", "fr": "french", "es": "spanish", "de": "german", "ar": "arabic", "pt": "portuguese"}
MAPPING = {"format": "jsonl", "platform": "twitter", "post_id": "id", "created_at": "created_at", "text": "text",
           "lang_declared": "lang"}


def xlmt_texts(lang: str, n: int, step: int = 7) -> list[str]:
    """``n`` real validation tweets in ``lang`` (every ``step``-th line)."""
    lines = shared(f"xlm-t-sentiment/{XLMT[lang]}/val_text.txt").read_text(encoding="utf-8").split("\n")
    return [t for t in lines[::step] if t.strip()][:n]


def ja_texts(n: int) -> list[str]:
    rows = shared("tweet-topic-xl/ja/ja_validation.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(r)["text"] for r in rows][:n]


def write_posts(path: Path, texts: list[tuple[str, str | None]]) -> Path:
    """A JSON Lines file of posts (text, declared language) with ids 1..n."""
    with path.open("wb") as fh:
        for i, (text, lang) in enumerate(texts, 1):
            fh.write(orjson.dumps({"id": str(i), "created_at": "2022-07-01T12:00:00Z", "text": text, "lang": lang})
                     + b"\n")
    return path


def workspace(tmp: Path, texts: list[tuple[str, str | None]]) -> Path:
    ws = tmp / "ws"
    with Hubbub(ws, create=True) as hb:
        summary = hb.import_files([write_posts(tmp / "posts.jsonl", texts)], dataset="t",
                                  source=mapped_source(MAPPING))
        assert summary.files[0].adds_up()
    return ws
