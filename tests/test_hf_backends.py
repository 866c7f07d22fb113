"""Bring-your-own model backends (a Hugging Face sentiment folder, a sentence-transformers folder) and
the embedding presets, run through the enrichment runner on real posts. The models are tiny random
BERTs the tests build and save: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from realposts import workspace, xlmt_texts
from typer.testing import CliRunner

from hubbub.api import Hubbub
from hubbub.enrich.embedders import E5Encoder
from hubbub.enrich.hflocal import ModelFolderError
from hubbub.enrich.options import configure, parse_option_args
from hubbub.enrich.registry import default_steps, get_step
from hubbub.enrich.steps.sentiment_hf import CLASSES, HFSentimentStep, map_labels
from hubbub.serve.cli import app

WORDS = ("the a i you is are not no love hate great good bad terrible awesome happy sad today day this that "
         "movie food so very it de la le et est pas les el en que y muy").split()
HUB_ID = "cardiffnlp/twitter-xlm-roberta-base-sentiment"


def tiny_bert(path: Path, id2label: dict[int, str] | None = None, seed: int = 0,
              bias: list[float] | None = None) -> Path:
    """A random 2-layer BERT (hidden 32) with a word-level tokenizer, saved to ``path``: a sequence
    classifier when ``id2label`` is given, else a plain encoder. ``bias`` zeroes the classifier's
    weights and sets its bias, so every text gets the same known logits."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate([*specials, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    if id2label is None:
        model: torch.nn.Module = BertModel(cfg)
    else:
        cfg.num_labels = len(id2label)
        cfg.id2label = dict(id2label)
        cfg.label2id = {v: k for k, v in id2label.items()}
        model = BertForSequenceClassification(cfg)
        if bias is not None:
            with torch.no_grad():
                model.classifier.weight.zero_()
                model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def posts_ws(tmp_path_factory) -> Path:
    texts = [(t, "en") for t in xlmt_texts("en", 25)] + [(t, "fr") for t in xlmt_texts("fr", 15)]
    texts += [("", None), ("   ", None)]
    return workspace(tmp_path_factory.mktemp("posts"), texts)


def _copy(ws: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(ws, dest)
    return dest


def _rows(hb: Hubbub, table: str, cols: str) -> list[dict]:
    return hb.store.query(f"SELECT post_id, {cols}, step_version FROM {table} ORDER BY post_id").to_pylist()


def _params(hb: Hubbub, run_id: str) -> dict:
    return orjson.loads(hb.store.query("SELECT params FROM runs WHERE run_id = ?", [run_id]).to_pylist()[0]["params"])


# -- sentiment_hf ---------------------------------------------------------------------------------

def test_label_mapping():
    assert map_labels({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == [0, 1, 2]
    assert map_labels({0: "LABEL_0", 1: "LABEL_1"}) == [0, 2]
    assert map_labels({0: "Positive", 1: "NEG", 2: "neutral"}) == [2, 0, 1]
    assert map_labels({i: f"{i + 1} star{'s' if i else ''}" for i in range(5)}) == [0, 0, 1, 2, 2]
    assert map_labels({0: "joy", 1: "anger"}, "positive,negative") == [2, 0]
    with pytest.raises(ValueError, match="cannot map the model's labels"):
        map_labels({0: "joy", 1: "anger", 2: "sadness"})
    with pytest.raises(ValueError, match="cannot map"):
        map_labels({i: f"LABEL_{i}" for i in range(4)})
    with pytest.raises(ValueError, match="one of negative/neutral/positive for each"):
        map_labels({0: "joy", 1: "anger"}, "positive")


def test_sentiment_hf_through_runner(posts_ws, tmp_path):
    # logits favour id 0, named "positive": every post must come out positive, with the softmax's score
    model = tiny_bert(tmp_path / "m", {0: "positive", 1: "negative", 2: "neutral"}, bias=[2.0, 0.0, 1.0])
    p = np.exp([2.0, 0.0, 1.0]) / np.exp([2.0, 0.0, 1.0]).sum()
    opts = {"sentiment_hf": {"model": str(model)}}
    with Hubbub(_copy(posts_ws, tmp_path / "a")) as hb:
        (r,) = hb.enrich(["sentiment_hf"], options=opts, batch_size=10, workers=1)
        rows = _rows(hb, "enrich_sentiment_hf", "sentiment, sentiment_score")
        params = _params(hb, r.run_id)
        assert hb.enrich(["sentiment_hf"], options=opts)[0].todo == 0  # incremental
    assert r.todo == r.done == len(rows) == 42
    texted = [x for x in rows if x["sentiment"] is not None]
    assert len(texted) == 40  # the two posts without text get nulls
    assert {x["sentiment"] for x in texted} == {"positive"}
    assert all(abs(x["sentiment_score"] - (p[0] - p[1])) < 1e-5 for x in texted)
    assert params["model"]["sha256"] and params["model"]["torch"] and params["model"]["transformers"]
    assert params["params"]["labels"] == {"positive": "positive", "negative": "negative", "neutral": "neutral"}
    step = HFSentimentStep(model=str(model))
    assert rows[0]["step_version"] == step.version != "1"
    # options that change results change the version (the runner redoes the posts); the batch does not
    assert HFSentimentStep(model=str(model), labels="negative,positive,neutral").version != step.version
    assert HFSentimentStep(model=str(model), max_length=64).version != step.version
    assert HFSentimentStep(model=str(model), batch=4).version == step.version


def test_sentiment_hf_deterministic_and_redone_for_another_model(posts_ws, tmp_path, monkeypatch):
    model = tiny_bert(tmp_path / "m", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, seed=3)
    monkeypatch.setenv("HUBBUB_SENTIMENT_MODEL", str(model))  # the env var instead of the option
    with Hubbub(_copy(posts_ws, tmp_path / "a")) as hb:
        hb.enrich(["sentiment_hf"], batch_size=7, workers=1)
        a = _rows(hb, "enrich_sentiment_hf", "sentiment, sentiment_score")
        other = tiny_bert(tmp_path / "m2", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, seed=4)
        (redo,) = hb.enrich(["sentiment_hf"], options={"sentiment_hf": {"model": str(other)}}, workers=1)
        assert redo.todo == 42  # another model: every post again
    with Hubbub(_copy(posts_ws, tmp_path / "b")) as hb:
        hb.enrich(["sentiment_hf"], batch_size=1000, workers=1)
        b = _rows(hb, "enrich_sentiment_hf", "sentiment, sentiment_score")
    assert a == b  # other batches, same rows
    assert {x["sentiment"] for x in a} - {None} <= set(CLASSES)
    assert all(-1 <= x["sentiment_score"] <= 1 for x in a if x["sentiment"])
    assert len({x["sentiment_score"] for x in a if x["sentiment"]}) > 5  # the random model tells posts apart


def test_sentiment_hf_refuses_hub_ids_and_bad_folders(posts_ws, tmp_path, monkeypatch):
    monkeypatch.delenv("HUBBUB_SENTIMENT_MODEL", raising=False)
    with pytest.raises(ModelFolderError, match="never downloads"):
        HFSentimentStep(model=HUB_ID).model()
    with pytest.raises(ModelFolderError, match="no model folder given"):
        HFSentimentStep().model()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match="no config.json"):
        HFSentimentStep(model=str(tmp_path / "empty")).model()
    bad = tiny_bert(tmp_path / "emo", {0: "joy", 1: "anger", 2: "sadness"})
    with Hubbub(_copy(posts_ws, tmp_path / "a")) as hb, pytest.raises(ValueError, match="labels=CLASS"):
        hb.enrich(["sentiment_hf"], options={"sentiment_hf": {"model": str(bad)}}, workers=1)
    with Hubbub(tmp_path / "a") as hb:  # the option that maps them
        (r,) = hb.enrich(["sentiment_hf"], options={"sentiment_hf": {"model": str(bad),
                                                                     "labels": "positive,negative,negative"}})
        assert r.done == 42
    res = CliRunner().invoke(app, ["-w", str(tmp_path / "a"), "enrich", "--steps", "sentiment_hf",
                                   "--option", f"sentiment_hf.model={HUB_ID}"])
    assert res.exit_code == 2 and "never downloads" in res.output


# -- step options ---------------------------------------------------------------------------------

def test_option_parsing_and_validation():
    assert parse_option_args(["embed.encoder=quality", "sentiment_hf.model=/m", "embed.model=/x=y"]) == {
        "embed": {"encoder": "quality", "model": "/x=y"}, "sentiment_hf": {"model": "/m"}}
    for bad in ("embed=quality", "encoder=quality", ".x=1", "embed.encoder"):
        with pytest.raises(ValueError, match="STEP.NAME=VALUE"):
            parse_option_args([bad])
    steps = [get_step("embed"), get_step("lang")]
    (embed, lang) = configure(steps, {"embed": {"encoder": "quality"}})
    assert lang is steps[1] and embed is not steps[0] and embed.version == "1+e5" and steps[0].version == "1"
    with pytest.raises(ValueError, match="takes no options"):
        configure(steps, {"lang": {"x": "1"}})
    with pytest.raises(ValueError, match="unknown option.*colour"):
        configure(steps, {"embed": {"colour": "1"}})
    with pytest.raises(ValueError, match="which is not run"):
        configure(steps, {"entities": {"x": "1"}})
    with pytest.raises(ValueError, match="unknown encoder"):
        configure(steps, {"embed": {"encoder": "word2vec"}})
    assert "sentiment_hf" not in {s.name for s in default_steps()}


# -- embeddings: bring-your-own sentence-transformers, presets ------------------------------------

def tiny_sentence_transformer(path: Path, seed: int) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    bert = tiny_bert(path.parent / f"{path.name}-bert", seed=seed)
    tr = Transformer(str(bert), max_seq_length=64)
    st = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), "mean")], device="cpu")
    st.save(str(path))
    return path


def test_embed_sentence_transformers_folder(posts_ws, tmp_path):
    st = tiny_sentence_transformer(tmp_path / "st", seed=1)
    opts = {"embed": {"encoder": "st", "model": str(st)}}
    with Hubbub(_copy(posts_ws, tmp_path / "a")) as hb:
        (r,) = hb.enrich(["embed"], options=opts, batch_size=9, workers=1)
        a = _rows(hb, "enrich_embed", "embedding, embed_model")
        params = _params(hb, r.run_id)
        other = tiny_sentence_transformer(tmp_path / "st2", seed=2)
        (redo,) = hb.enrich(["embed"], options={"embed": {"model": str(other)}}, workers=1)  # model alone: st
        after = _rows(hb, "enrich_embed", "embedding, embed_model")
    with Hubbub(_copy(posts_ws, tmp_path / "b")) as hb:
        hb.enrich(["embed"], options=opts, batch_size=1000, workers=1)
        b = _rows(hb, "enrich_embed", "embedding, embed_model")
    assert r.done == 42 and a == b  # deterministic whatever the batches
    vecs = np.array([x["embedding"] for x in a if x["embedding"] is not None], np.float32)
    assert vecs.shape == (40, 32)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert {x["embed_model"] for x in a} == {f"sentence-transformers st {a[0]['step_version'][2:]}", None}
    assert a[0]["step_version"].startswith("1+st-") and params["model"]["sha256"]
    assert params["model"]["sentence-transformers"] and params["params"]["encoder"].startswith("st-")
    # another folder: every post is embedded again and no row keeps the first encoder
    assert redo.todo == 42
    assert {x["embed_model"] for x in after} - {None} == {f"sentence-transformers st2 {after[0]['step_version'][2:]}"}
    with pytest.raises(ModelFolderError, match="never downloads"):
        configure([get_step("embed")], {"embed": {"encoder": "st", "model": "sentence-transformers/LaBSE"}})


def test_quality_preset_e5():
    enc = E5Encoder()
    en = ["The train to Berlin is late again this morning.", "I love cooking pasta with fresh tomatoes."]
    es = ["El tren a Berlín vuelve a llegar tarde esta mañana.", "Me encanta cocinar pasta con tomates frescos."]
    m = enc.encode(en + es)
    assert m.shape == (4, 384) and m.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    sim = m[:2] @ m[2:].T
    assert sim[0, 0] > sim[0, 1] and sim[1, 1] > sim[1, 0]
    assert np.array_equal(enc.encode([en[1]])[0], m[1])  # a vector does not depend on its batch
