"""Sentiment from a Hugging Face sequence-classification model the user has on disk (e.g. an XLM-R
tweet sentiment model): ``hubbub enrich --steps sentiment_hf --option sentiment_hf.model=DIR`` or
``$HUBBUB_SENTIMENT_MODEL=DIR``. Opt-in; nothing is downloaded (a hub id is refused).

The table has the columns of ``enrich_sentiment``: ``sentiment`` (negative / neutral / positive) and
``sentiment_score`` = P(positive) - P(negative). The model's ``id2label`` is mapped to the three
classes: named labels (negative/neg, neutral/neu, positive/pos, any case; "1 star" .. "5 stars" as
1-2 negative, 3 neutral, 4-5 positive), or generic ``LABEL_0..`` with 3 labels (negative, neutral,
positive, as CardiffNLP's models) or 2 (negative, positive, as SST-2 models). Anything else needs the
option ``labels`` (the class of each id in order, e.g. ``labels=positive,negative``). Class
probabilities are the sums of their labels' softmax probabilities; the label is the most likely class.

CPU, ``torch.inference_mode``, ``torch.set_num_threads`` from ``OMP_NUM_THREADS`` (default 1: the
runner runs one process per core). Texts are batched only with texts of the same token length (no
padding), in forward passes of always ``batch`` rows (short ones repeat a row), so a post's result does
not depend on the runner's batch it comes in, to the bit. The step version carries
the model's fingerprint (sha256 of its config, tokenizer and weight files) and the options that change
results (``labels``, ``max_length``): another model or mapping redoes the posts.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.enrich.hflocal import (
    ModelFolderError,
    folder_fingerprint,
    library_versions,
    local_model_folder,
    torch_threads,
)

ENV_MODEL = "HUBBUB_SENTIMENT_MODEL"
CLASSES = ("negative", "neutral", "positive")
_NAMED = {"negative": 0, "neg": 0, "neutral": 1, "neu": 1, "positive": 2, "pos": 2}
_STARS = re.compile(r"^([1-5])\s*stars?$")
_GENERIC = re.compile(r"^label_(\d+)$")


def map_labels(id2label: dict[int, str], override: str | None = None) -> list[int]:
    """For each model label id (0..n-1), the index of its class in ``CLASSES``."""
    n = len(id2label)
    if override:
        names = [x.strip().lower() for x in override.split(",")]
        if len(names) != n or any(x not in CLASSES for x in names):
            raise ValueError(f"option labels={override!r}: give one of {'/'.join(CLASSES)} for each of the "
                             f"model's {n} labels, in id order")
        return [CLASSES.index(x) for x in names]
    labels = [str(id2label[i]).strip().lower() for i in range(n)]
    if all(x in _NAMED for x in labels):
        return [_NAMED[x] for x in labels]
    stars = [_STARS.match(x) for x in labels]
    if all(stars):
        return [0 if int(m.group(1)) <= 2 else 1 if int(m.group(1)) == 3 else 2 for m in stars if m]
    generic = [_GENERIC.match(x) for x in labels]
    if all(generic) and [int(m.group(1)) for m in generic if m] == list(range(n)) and n in (2, 3):
        return [0, 2] if n == 2 else [0, 1, 2]
    raise ValueError(f"cannot map the model's labels {labels} to negative/neutral/positive; "
                     f"give the option labels=CLASS,CLASS,... (one per label id, in order)")


class HFSentimentStep(Step):
    name = "sentiment_hf"
    default = False
    reads = ("text",)
    schema = pa.schema([("sentiment", pa.string()), ("sentiment_score", pa.float32())])
    description = "sentiment from your own Hugging Face classification model folder ($HUBBUB_SENTIMENT_MODEL)"
    OPTIONS = {"model": f"model folder (default ${ENV_MODEL})",
               "labels": "class of each label id, comma-separated, when id2label cannot be mapped",
               "batch": "texts per forward pass (default 32)", "max_length": "tokens per text (default 256)"}

    def __init__(self, model: str | None = None, labels: str | None = None, batch: int | str = 32,
                 max_length: int | str = 256) -> None:
        self.options: dict[str, Any] = {k: v for k, v in (("model", model), ("labels", labels)) if v}
        try:
            self.batch, self.max_length = int(batch), int(max_length)
        except ValueError:
            raise ValueError(f"sentiment_hf: batch and max_length must be integers, got {batch!r}, "
                             f"{max_length!r}") from None
        if self.batch < 1 or self.max_length < 8:
            raise ValueError("sentiment_hf: batch must be >= 1 and max_length >= 8")
        self.options.update(batch=self.batch, max_length=self.max_length)
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def folder(self) -> Path:
        return local_model_folder(self.options.get("model") or os.environ.get(ENV_MODEL), self.name, ENV_MODEL)

    @property
    def version(self) -> str:  # type: ignore[override]
        """Names the model (fingerprint) and the options that change results (labels, max_length)."""
        try:
            fp = folder_fingerprint(self.folder)
        except ModelFolderError:  # not configured: running fails in model() with the reason
            return "1"
        key = f"{fp}|{self.options.get('labels', '')}|{self.max_length}".encode()
        return f"1+{hashlib.sha256(key).hexdigest()[:16]}"

    def _config(self) -> Any:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self.folder, local_files_only=True)

    def label_map(self) -> list[int]:
        cfg = self._config()
        return map_labels({int(k): v for k, v in cfg.id2label.items()}, self.options.get("labels"))

    def model(self) -> dict[str, str]:
        cfg = self._config()
        return {"name": f"Hugging Face {','.join(cfg.architectures or [cfg.model_type])} from {self.folder}",
                "path": str(self.folder), "sha256": folder_fingerprint(self.folder), **library_versions()}

    def params(self) -> dict[str, Any]:
        cfg = self._config()
        lm = self.label_map()
        return {**self.options, "model": str(self.folder), "score": "P(positive) - P(negative)",
                "labels": {str(cfg.id2label[i]): CLASSES[c] for i, c in enumerate(lm)},
                "batching": "same token length only (no padding), fixed rows per pass", "threads": torch_threads()}

    def setup(self, seed: int) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        torch.set_num_threads(torch_threads())
        torch.manual_seed(seed)
        folder = self.folder
        self._label_map = np.asarray(self.label_map())
        self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
        self._model = model.to("cpu").eval()

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(texts, 3) class probabilities; each row depends on its own text only."""
        import torch

        self.setup(0)
        enc = self._tokenizer(texts, truncation=True, max_length=self.max_length)
        ids, extra = enc["input_ids"], [k for k in enc if k != "input_ids"]
        by_len: dict[int, list[int]] = {}
        for i, x in enumerate(ids):
            by_len.setdefault(len(x), []).append(i)
        out = np.zeros((len(texts), len(CLASSES)), np.float64)
        with torch.inference_mode():
            for length in sorted(by_len):
                rows = by_len[length]
                for start in range(0, len(rows), self.batch):
                    chunk = rows[start:start + self.batch]
                    # Always self.batch rows (the chunk's first text repeated): the same tensor shapes
                    # whatever the runner's batches hold, so the same kernels and bit-identical results.
                    padded = chunk + [chunk[0]] * (self.batch - len(chunk))
                    inputs = {"input_ids": torch.tensor([ids[i] for i in padded])}
                    inputs |= {k: torch.tensor([enc[k][i] for i in padded]) for k in extra}
                    p = torch.softmax(self._model(**inputs).logits.float(), dim=-1).numpy()[:len(chunk)]
                    for c in range(len(CLASSES)):
                        out[chunk, c] = p[:, self._label_map == c].sum(axis=1)
        return out

    def run(self, batch: pa.Table) -> pa.Table:
        texts = batch["text"].to_pylist()
        has = np.array([bool(t and t.strip()) for t in texts], bool)
        distinct = sorted({t for t, h in zip(texts, has, strict=True) if h})
        probs = dict(zip(distinct, self.probabilities(distinct), strict=True)) if distinct else {}
        labels: list[str | None] = []
        scores = np.zeros(len(texts), np.float32)
        for i, t in enumerate(texts):
            if not has[i]:
                labels.append(None)
                continue
            p = probs[t]
            labels.append(CLASSES[int(np.argmax(p))])
            scores[i] = np.float32(p[2] - p[0])
        return pa.table({"sentiment": pa.array(labels, pa.string()),
                         "sentiment_score": pa.array(scores, pa.float32(), mask=~has)}, schema=self.schema)


STEPS = [HFSentimentStep()]
