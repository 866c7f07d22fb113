"""Synthetic-from-real data for benchmarks and scale tests.

Real records are copied with every long numeric id (post, account, conversation, media key) shifted
by the copy number, so each copy is a distinct set of posts by distinct accounts with the real
texts, entities and structure. Deterministic: same input, same output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

_ID = re.compile(rb'(?<=")(\d{9,20})(?=")')


def real_pages(files: Iterable[Path]) -> list[bytes]:
    """Lines of X API v2 pages (``{"data": [...], "includes": ...}``) from twarc2 JSONL files."""
    out = []
    for f in files:
        for line in Path(f).read_bytes().split(b"\n"):
            if line.startswith(b'{"data": [') or line.startswith(b'{"data":['):
                out.append(line)
    if not out:
        raise ValueError("no X API v2 pages found")
    return out


def reidentify(line: bytes, copy: int) -> bytes:
    if copy == 0:
        return line
    shift = copy * 1_000_003

    def sub(m: re.Match[bytes]) -> bytes:
        return str(int(m.group(1)) + shift).encode()

    return _ID.sub(sub, line)


def twarc_lines(pages: list[bytes], n_posts: int) -> Iterator[bytes]:
    """Page lines, re-identified copy after copy, until about ``n_posts`` tweets were written."""
    per_page = [len(orjson.loads(line)["data"]) for line in pages]
    written = 0
    copy = 0
    while written < n_posts:
        for line, n in zip(pages, per_page, strict=True):
            yield reidentify(line, copy)
            written += max(n, 1)
            if written >= n_posts:
                return
        copy += 1
