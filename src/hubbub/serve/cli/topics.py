"""``hubbub topic ID``: one topic of the ``topic`` enrichment step (the list with its evolution: ``hubbub topics``)."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from hubbub.serve.cli.common import JsonOpt, WorkspaceOpt, _emit, _fail, _open, app


@app.command("topic", context_settings={"ignore_unknown_options": True})  # `hubbub topic -1`: outliers
def topic_cmd(
    topic_id: Annotated[int, typer.Argument(help="Topic id (see `hubbub topics`).")],
    limit: Annotated[int, typer.Option("--limit", help="Posts to show, most similar first.")] = 20,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """One topic's representative posts and the posts most similar to it."""
    with _open(workspace, read_only=True) as hb:
        try:
            parts = hb.topic(topic_id, limit)
        except ValueError as exc:
            _fail(str(exc))
    if not any(t.num_rows for t in parts.values()):
        _fail(f"no topic {topic_id}: `hubbub topics` lists them")
    if as_json:
        typer.echo(orjson.dumps({k: v.to_pylist() for k, v in parts.items()},
                                option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC, default=str).decode())
        return
    for name, table in parts.items():
        _emit(table, False, f"topic {topic_id}: {name.replace('_', ' ')}")
