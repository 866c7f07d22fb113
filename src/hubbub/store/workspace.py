"""A workspace is a folder: ``workspace.json``, ``secret.key`` (mode 0600) and the store."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

from hubbub.errors import UserError

DEFAULT_WORKSPACE = "hubbub-data"
ENV_WORKSPACE = "HUBBUB_WORKSPACE"


class WorkspaceError(UserError):
    pass


def default_path() -> Path:
    return Path(os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE)


@dataclass
class Workspace:
    path: Path

    @property
    def secret_path(self) -> Path:
        return self.path / "secret.key"

    @property
    def store_path(self) -> Path:
        return self.path / "store.duckdb"

    @property
    def meta_path(self) -> Path:
        return self.path / "workspace.json"

    def exists(self) -> bool:
        return self.meta_path.exists() and self.secret_path.exists()

    def secret(self) -> bytes:
        try:
            data = self.secret_path.read_bytes()
        except FileNotFoundError:
            raise WorkspaceError(
                f"{self.path}: no workspace secret; run `hubbub init --workspace {self.path}`"
            ) from None
        mode = self.secret_path.stat().st_mode & 0o777
        if mode & 0o077:
            raise WorkspaceError(
                f"{self.secret_path}: permissions {oct(mode)} are too open; run `chmod 600 {self.secret_path}`"
            )
        return bytes.fromhex(data.decode().strip())


def init_workspace(path: Path) -> tuple[Workspace, bool]:
    """Create the folder, its secret (0600) and metadata. Returns (workspace, created)."""
    ws = Workspace(path)
    if ws.exists():
        return ws, False
    _check_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot create the workspace folder ({exc.strerror or exc})") from None
    if not ws.secret_path.exists():
        fd = os.open(ws.secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    from hubbub import __version__
    from hubbub.schema import SCHEMA_VERSION

    ws.meta_path.write_bytes(
        orjson.dumps({"hubbub": __version__, "schema_version": SCHEMA_VERSION}, option=orjson.OPT_INDENT_2)
    )
    return ws, True


def _check_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path}: is a file, not a workspace folder (give --workspace a folder)")


def open_workspace(path: Path | None = None, create: bool = False) -> Workspace:
    path = path or default_path()
    _check_folder(path)
    ws = Workspace(path)
    if ws.exists():
        return ws
    if create:
        return init_workspace(path)[0]
    raise WorkspaceError(f"{path}: not a Hubbub workspace; run `hubbub init --workspace {path}` first")
