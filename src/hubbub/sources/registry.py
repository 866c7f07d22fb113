"""Every module in ``hubbub.sources`` that defines ``SOURCES = [...]`` contributes formats.
Adding a platform is adding one module (and its tests); nothing else changes."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import hubbub.sources as pkg
from hubbub.sources.base import Source

_NOT_SOURCES = {"base", "files", "registry"}


@cache
def all_sources() -> dict[str, Source]:
    found: dict[str, Source] = {}
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name in _NOT_SOURCES or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"hubbub.sources.{mod.name}")
        for src in getattr(module, "SOURCES", ()):
            if src.name in found:
                raise RuntimeError(f"format {src.name!r} defined twice")
            found[src.name] = src
    return found


def get_source(name: str) -> Source:
    srcs = all_sources()
    try:
        return srcs[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; known formats: {', '.join(sorted(srcs))}") from None


def detect(head: bytes, name: str) -> tuple[Source | None, float]:
    """The source most confident about this file start, and its confidence."""
    best: tuple[Source | None, float] = (None, 0.0)
    for src in all_sources().values():
        try:
            c = src.sniff(head, name)
        except Exception:  # noqa: BLE001 - a sniffer must never stop detection
            c = 0.0
        if c > best[1]:
            best = (src, c)
    return best
