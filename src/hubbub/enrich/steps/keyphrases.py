"""Keyphrases for every language: up to ``TOP_K`` short phrases (at most ``MAX_WORDS`` words) per post,
best first, from the post alone (``hubbub.text.keyphrases``: stop words per language from stopwordsiso,
Chinese segmented by rjieba, Japanese by fugashi + unidic-lite, RAKE scoring).

The stop words are those of the language the ``lang`` step detected (read from ``enrich_lang``; the
runner runs ``lang`` first when needed), else of the declared language, else of the stop-word vote.

Column ``keyphrases``: list of case-folded phrases (empty when the post has none; null when it has no
text). Hashtags, mentions, links and domains are columns of ``posts`` already (docs/schema.md).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.text import keyphrases as kp


class KeyphrasesStep(Step):
    name = "keyphrases"
    version = "1"
    reads = ("text", "lang_declared")
    requires = ("lang",)
    joins = (("enrich_lang", ("lang",)),)
    schema = pa.schema([("keyphrases", pa.list_(pa.string()))])
    description = "up to 5 keyphrases per post (stop words per language; Chinese and Japanese segmented first)"

    def model(self) -> dict[str, str]:
        return {"name": "hubbub RAKE-style keyphrases (hubbub.text.keyphrases)", **kp.versions()}

    def params(self) -> dict[str, Any]:
        return {"top_k": kp.TOP_K, "max_words": kp.MAX_WORDS, "max_token_chars": kp.MAX_TOKEN_CHARS,
                "stop_language": "enrich_lang.lang, else lang_declared (if stopwordsiso has it), else the "
                                 "best stop-word vote",
                "vote_priority": list(kp.PRIORITY)}

    def setup(self, seed: int) -> None:
        kp.keyphrases("warm up the stop-word lists")

    def run(self, batch: pa.Table) -> pa.Table:
        seen: dict[tuple[str, str | None], list[str]] = {}
        out: list[list[str] | None] = []
        known = set(kp.stop_languages())
        langs = [d if d in known else c for d, c in zip(batch["lang"].to_pylist(), batch["lang_declared"].to_pylist(),
                                                        strict=True)]
        for text, lang in zip(batch["text"].to_pylist(), langs, strict=True):
            if not (text and text.strip()):
                out.append(None)
                continue
            key = (text, lang)
            if key not in seen:
                seen[key] = kp.keyphrases(text, lang)
            out.append(seen[key])
        return pa.table({"keyphrases": pa.array(out, pa.list_(pa.string()))}, schema=self.schema)


STEPS = [KeyphrasesStep()]
