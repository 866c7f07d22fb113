"""Readers for the labelled sets' own file layouts (one text per line; JSON Lines with "text"),
shared by the evaluations and the training scripts. A missing file is named in the error."""

from __future__ import annotations

import json
from pathlib import Path


def need(path: Path, what: str = "data file") -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} missing: {path}")
    return path


def read_lines(path: Path, what: str = "data file") -> list[str]:
    """One item per line, as in the TweetEval and XLM-T ``*_text.txt`` / ``*_labels.txt`` files."""
    lines = need(path, what).read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_jsonl_texts(path: Path, what: str = "data file") -> list[str]:
    """The ``text`` of every JSON object of a JSON Lines file (TweetTopicXL)."""
    out = []
    for i, line in enumerate(need(path, what).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(str(json.loads(line)["text"]))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{i}: not a JSON object with 'text' ({e})") from None
    return out
