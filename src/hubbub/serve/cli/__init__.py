"""The ``hubbub`` command. ``common`` holds the app, the shared options, output and error mapping (and the
verbs on workspaces and imports); each other module adds its verbs to that app and imports only ``common``."""

from hubbub.serve.cli import analyze, coord, query, topics  # noqa: F401  (each registers its verbs)
from hubbub.serve.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
