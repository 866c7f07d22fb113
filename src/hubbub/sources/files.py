"""Finding input files and opening them, with .gz, .zst and .zip read transparently."""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import select
import stat
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
    rel: str | None = None  # the path relative to the import root (a folder argument), else the name
    in_folder: bool = False  # found by walking a folder given to import (not named by the user)
    label: str | None = None  # the name shown, when ``path`` is a copy (of a pipe)

    @property
    def display(self) -> str:
        if self.label:
            return self.label
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
    """Expand files and folders (recursively, sorted) into input files; zips into members. A
    broken symbolic link in a folder is an input (reported as failed when read); a path given
    that does not exist raises ``FileNotFoundError``."""
    for p in paths:
        if not p.exists():
            what = "broken symbolic link (its target is missing)" if p.is_symlink() else "no such file or folder"
            raise FileNotFoundError(f"{p}: {what}")
        if p.is_dir():
            for sub in sorted(p.rglob("*")):
                if _skipped(sub.name) or _in_workspace(sub, p):
                    continue
                rel = sub.relative_to(p).as_posix()
                if sub.is_file():
                    yield from _expand_file(sub, rel, in_folder=True)
                elif sub.is_symlink() and not sub.exists():
                    yield InputFile(sub, rel=rel, in_folder=True)
        else:
            yield from _expand_file(p, p.name)


def is_stream(f: InputFile) -> bool:
    """A pipe, FIFO or device (``hubbub import <(zcat f.gz)``): read once, as it comes."""
    if f.member is not None:
        return False
    try:
        mode = os.stat(f.path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


PIPE_WAIT_S = float(os.environ.get("HUBBUB_PIPE_WAIT", "30"))


def spool(f: InputFile, into: Path, wait: float = PIPE_WAIT_S) -> InputFile:
    """Copy a pipe or FIFO into a file under ``into`` (read once, a bounded piece at a time) and
    return it as an input with the original's name. A FIFO no process writes to within ``wait``
    seconds raises ``UnreadableFile`` instead of waiting forever."""
    fd = os.open(f.path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            raise UnreadableFile(f"nothing was written to the pipe within {wait:g} s (no writer)")
        os.set_blocking(fd, True)
        into.mkdir(parents=True, exist_ok=True)
        out = into / f.path.name
        with open(out, "wb") as dst:
            while chunk := os.read(fd, 1 << 20):
                dst.write(chunk)
    finally:
        os.close(fd)
    return InputFile(out, label=str(f.path))


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
            yield InputFile(p, rel=rel, in_folder=in_folder)  # reported as unreadable when opened
            return
        for n in names:
            if not _skipped(Path(n).name):
                yield InputFile(p, n, rel, in_folder)
    else:
        yield InputFile(p, rel=rel, in_folder=in_folder)


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
        _skip_bom(stream)
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


def _skip_bom(stream: IO[bytes]) -> None:
    """A UTF-8 byte order mark before the data is not data (JSON Lines saved by Windows tools)."""
    try:
        if stream.peek(3)[:3] == codecs.BOM_UTF8:  # type: ignore[attr-defined]
            stream.read(3)
    except (OSError, EOFError, ValueError):
        pass  # reported when the data is read


def _decompress(raw: IO[bytes], name: str) -> IO[bytes]:
    lower = name.lower()
    if lower.endswith(".gz"):
        return io.BufferedReader(_GzipReader(raw), buffer_size=1 << 20)
    if lower.endswith((".zst", ".zstd")):
        dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
        return io.BufferedReader(dctx.stream_reader(raw, read_across_frames=True), buffer_size=1 << 20)  # type: ignore[arg-type]
    if isinstance(raw, io.BufferedReader):
        return raw
    return io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[arg-type,type-var]


def size_of(f: InputFile) -> int:
    if f.member is None:
        return os.path.getsize(f.path)
    with zipfile.ZipFile(f.path) as zf:
        return zf.getinfo(f.member).file_size
