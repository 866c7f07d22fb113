"""Steps are found like sources: every module in ``hubbub.enrich.steps`` with ``STEPS = [...]``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import hubbub.enrich.steps as pkg
from hubbub.enrich.base import Step


@cache
def all_steps() -> dict[str, Step]:
    found: dict[str, Step] = {}
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        for step in getattr(importlib.import_module(f"hubbub.enrich.steps.{mod.name}"), "STEPS", ()):
            if step.name in found:
                raise RuntimeError(f"step {step.name!r} defined twice")
            found[step.name] = step
    return found


def default_steps() -> list[Step]:
    return [s for s in all_steps().values() if getattr(s, "default", True)]


def get_step(name: str) -> Step:
    steps = all_steps()
    try:
        return steps[name]
    except KeyError:
        raise KeyError(f"unknown step {name!r}; known steps: {', '.join(sorted(steps))}") from None
