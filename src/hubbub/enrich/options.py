"""Step options: ``hubbub enrich --option step.key=value`` and ``Hubbub.enrich(options={"step": {...}})``.

A step that takes options lists them in ``OPTIONS`` (name -> help) and takes them as keyword
arguments of its constructor. ``configure`` builds a new instance with them (the registry's instance
is never changed); the new instance's ``version`` and ``model()`` name what the options chose, so the
runner redoes posts done with other options, and its ``params()`` record them in provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubbub.enrich.base import Step

StepOptions = Mapping[str, Mapping[str, Any]]


def parse_option_args(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["embed.encoder=quality", ...]`` -> ``{"embed": {"encoder": "quality"}}``."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        step, dot, name = key.strip().partition(".")
        if not (sep and dot and step and name):
            raise ValueError(f"option {pair!r}: expected STEP.NAME=VALUE, e.g. embed.encoder=quality")
        out.setdefault(step, {})[name.strip()] = value.strip()
    return out


def configure(steps: Sequence[Step], options: StepOptions | None) -> list[Step]:
    """``steps`` with their options applied (a new instance for each step given options)."""
    if not options:
        return list(steps)
    names = [s.name for s in steps]
    for name in options:
        if name not in names:
            raise ValueError(f"options for step {name!r}, which is not run (steps run: {', '.join(names)})")
    out = []
    for step in steps:
        opts = options.get(step.name)
        if opts:
            known: dict[str, str] = getattr(step, "OPTIONS", {})
            if not known:
                raise ValueError(f"step {step.name!r} takes no options")
            unknown = sorted(set(opts) - set(known))
            if unknown:
                raise ValueError(f"step {step.name!r}: unknown option(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(f'{k} ({v})' for k, v in known.items())}")
            step = type(step)(**{**getattr(step, "options", {}), **opts})
        out.append(step)
    return out
