"""Finding input files and opening them, with .gz, .zst and .zip read transparently."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

# Documentation found beside data in a folder is not data. (A file named explicitly is always read.)
SKIP_NAMES = {"README", "LICENSE", "LICENCE", "NOTICE", "ATTRIBUTION", ".DS_Store"}
SKIP_SUFFIXES = (".md", ".rst")


class UnreadableFile(Exception):
    """A file that cannot be read at all (empty, corrupt archive, not a known format)."""


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input: a file on disk, or a member of a zip archive (``path`` + ``member``)."""

    path: Path
    member: str | None = None
    in_folder: bool = False  # found by walking a folder given to import (not named by the user)
    rel: str | None = None  # the path relative to the import root (a folder argument), else the name

    @property
    def display(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def relative(self) -> str:
        """The name as stored: relative to the folder given to import (a file given by itself: its
        name), ``archive.zip!member`` for zip members; never the absolute path."""
        base = self.rel or self.path.name
        return f"{base}!{self.member}" if self.member else base

    @property
    def name(self) -> str:
        return self.member or self.path.name


def find_inputs(paths: list[Path]) -> Iterator[InputFile]:
    """Expand files and folders (recursively, sorted) into input files; zips into members."""
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        if p.is_dir():
            for sub in sorted(p.rglob("*")):
                if sub.is_file() and not _skipped(sub.name) and not _in_workspace(sub, p):
                    yield from _expand_file(sub, sub.relative_to(p).as_posix(), in_folder=True)
        else:
            yield from _expand_file(p, p.name)


def _skipped(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(SKIP_SUFFIXES) or name.split(".")[0].upper() in SKIP_NAMES


def _in_workspace(f: Path, top: Path) -> bool:
    """Files of a Hubbub workspace (its store, its secret) are never inputs."""
    for parent in f.parents:
        if (parent / "secret.key").exists() and (parent / "workspace.json").exists():
            return True
        if parent == top:
            break
    return False


def _expand_file(p: Path, rel: str | None = None, in_folder: bool = False) -> Iterator[InputFile]:
    if p.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(p) as zf:
                names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        except zipfile.BadZipFile:
            yield InputFile(p, in_folder=in_folder, rel=rel)  # reported as unreadable when opened
            return
        for n in names:
            if not _skipped(Path(n).name):
                yield InputFile(p, n, in_folder=in_folder, rel=rel)
    else:
        yield InputFile(p, in_folder=in_folder, rel=rel)


def fingerprint(f: InputFile) -> str:
    """sha256 of the stored bytes (compressed as found): identifies a file across re-imports."""
    h = hashlib.sha256()
    if f.member is None:
        with open(f.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    else:
        with zipfile.ZipFile(f.path) as zf, zf.open(f.member) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


@contextmanager
def open_input(f: InputFile) -> Iterator[IO[bytes]]:
    """Open for reading as decompressed bytes. Raises UnreadableFile with a clear reason."""
    stack: list[IO[bytes]] = []
    try:
        if f.member is None:
            if f.path.suffix.lower() == ".zip":
                raise UnreadableFile("not a valid zip archive")
            raw: IO[bytes] = open(f.path, "rb", buffering=1 << 20)
            name = f.path.name
        else:
            try:
                zf = zipfile.ZipFile(f.path)
            except zipfile.BadZipFile as exc:
                raise UnreadableFile(f"not a valid zip archive ({exc})") from None
            stack.append(zf)  # type: ignore[arg-type]
            raw = zf.open(f.member)
            name = f.member
        stack.append(raw)
        stream = _decompress(raw, name)
        if stream is not raw:
            stack.append(stream)
        yield stream
    finally:
        for s in reversed(stack):
            try:
                s.close()
            except Exception:  # noqa: BLE001 - closing a broken stream must not hide the cause
                pass


class _GzipReader(io.RawIOBase):
    """Streaming gzip (multi-member) that hands out every byte it could decompress before
    reporting a truncated file with EOFError, so the records before the cut are kept."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._eof:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                self._eof = True
                if not self._d.eof and (self._d.unconsumed_tail or self._started):
                    raise EOFError("compressed data ends early (truncated file)")
                break
            self._started = True
            try:
                self._buf = self._d.decompress(chunk)
            except zlib.error as exc:
                raise OSError(f"corrupt gzip data: {exc}") from None
            while self._d.eof and self._d.unused_data:
                rest = self._d.unused_data
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._buf += self._d.decompress(rest)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    _started = False


def _decompress(raw: IO[bytes], name: str) -> IO[bytes]:
    lower = name.lower()
    if lower.endswith(".gz"):
        return io.BufferedReader(_GzipReader(raw), buffer_size=1 << 20)
    if lower.endswith((".zst", ".zstd")):
        dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
        return io.BufferedReader(dctx.stream_reader(raw, read_across_frames=True), buffer_size=1 << 20)  # type: ignore[arg-type]
    if isinstance(raw, io.BufferedReader):
        return raw
    return io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[arg-type]


def size_of(f: InputFile) -> int:
    if f.member is None:
        return os.path.getsize(f.path)
    with zipfile.ZipFile(f.path) as zf:
        return zf.getinfo(f.member).file_size
