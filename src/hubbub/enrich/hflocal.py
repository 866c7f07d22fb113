"""Bring-your-own model folders (Hugging Face transformers, sentence-transformers): checked to be a
local folder before anything loads (Hubbub never downloads), fingerprinted for provenance, run on
CPU with the thread count the environment asks for."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from hubbub.errors import BadParameter

# Files that define what a model computes (weights, config, tokenizer); README and the like do not count.
_FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".pt", ".pth", ".msgpack")


class ModelFolderError(BadParameter):
    """A model path that is not a usable local folder."""


def local_model_folder(path: str | os.PathLike[str] | None, what: str, env: str) -> Path:
    """The model folder ``path``, or a clear error (a hub id is refused: nothing is downloaded)."""
    if not path:
        raise ModelFolderError(f"{what}: no model folder given; pass the option 'model' or set ${env}")
    p = Path(path).expanduser()
    if not p.is_dir():
        hint = ""
        if not p.exists() and str(path).count("/") == 1 and not str(path).startswith((".", "/", "~")):
            hint = (f" It looks like a Hugging Face hub id: Hubbub never downloads models. Download it yourself "
                    f"(e.g. `hf download {path} --local-dir DIR`) and pass DIR.")
        raise ModelFolderError(f"{what}: {path!r} is not a local model folder.{hint}")
    if not (p / "config.json").is_file() and not (p / "modules.json").is_file():
        raise ModelFolderError(f"{what}: {p} holds no config.json (save the model with save_pretrained / save)")
    return p.resolve()


@cache
def folder_fingerprint(folder: Path) -> str:
    """sha256 over the relative names and contents of the folder's model files (sorted)."""
    h = hashlib.sha256()
    for f in sorted(x for x in folder.rglob("*") if x.is_file() and x.suffix in _FINGERPRINT_SUFFIXES):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def torch_threads() -> int:
    """Threads for torch: ``OMP_NUM_THREADS`` when set, else 1 (the runner runs a process per core)."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS") or 1))
    except ValueError:
        return 1


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("transformers", "torch", "tokenizers")}
