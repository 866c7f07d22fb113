"""Declared language codes as stored (``lang_declared``): ISO 639, or NULL when undetermined.

Platforms declare languages with a few codes that are not (or no longer) ISO 639: X/Twitter
writes the withdrawn ISO 639-1 codes ``in`` (Indonesian, now ``id``) and ``iw`` (Hebrew, now
``he``), and marks texts it could not classify with ``und`` and the private-use codes ``qam``
(mentions only), ``qct`` (cashtags only), ``qht`` (hashtags only), ``qme`` (media links only),
``qst`` (very short text) and ``zxx`` (no linguistic content). ``declared_lang`` is the one place
these are mapped; the import pipeline applies it to every source.
"""

from __future__ import annotations

import re
from typing import Any

# Withdrawn ISO 639-1 codes -> their replacements (ISO 639 registration authority).
DEPRECATED = {"in": "id", "iw": "he", "ji": "yi", "jw": "jv", "mo": "ro"}
# No language: undetermined, no linguistic content, multiple, uncoded.
UNDETERMINED = frozenset({"und", "zxx", "mul", "mis"})
_LOCAL_USE = re.compile(r"q[a-t][a-z]")  # ISO 639-2 reserved for local use (qaa-qtz): X's qam, qht, qme, qst ...


def declared_lang(value: Any) -> str | None:
    """The ISO 639 code for a declared language, the region or script part kept
    (``in`` -> ``id``, ``iw-IL`` -> ``he-IL``); None for none or undetermined."""
    if not isinstance(value, str):
        return None
    s = value.strip()
    if not s:
        return None
    low = s.lower()
    cut = next((i for i, c in enumerate(low) if c in "-_"), len(low))
    base = low[:cut]
    if base in UNDETERMINED or _LOCAL_USE.fullmatch(base):
        return None
    new = DEPRECATED.get(base)
    return new + s[cut:] if new else s
