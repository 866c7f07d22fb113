"""The import graph of ``src/hubbub``: no cycles, and no layer imports a higher one.

Read from the source with ``ast`` (every ``import`` and ``from … import``, at any depth: a lazy import
inside a function is still a dependency). Layers, lowest first, as docs/architecture.md draws the data
flow: shared helpers, then sources → store → ingest → enrich → query → analyze → eval → api → serve.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hubbub

SRC = Path(hubbub.__file__).parent

# Top-level package or module of hubbub -> its layer. A module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    # shared helpers, imported from anywhere
    "__init__": 0, "errors": 0, "schema": 0, "text": 0, "urls": 0, "privacy": 0, "parallel": 0, "synth": 0,
    "plugins": 0, "langcodes": 0,
    "sources": 1,
    "store": 2,
    "ingest": 3,
    "enrich": 4,
    "query": 5,
    "analyze": 6,
    "eval": 7,
    "jobs": 8, "api": 8,
    "serve": 9,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # `from pkg import mod` depends on pkg.mod when that is a module, else on pkg
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t.startswith("hubbub") and t != name:
                    graph[name].add(t)
    # A package's __init__ is imported by every import of its submodules; that is not a dependency of
    # the package on the importer, so only explicit imports count (as collected above).
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    assert top in LAYERS, f"{module}: add its top-level package {top!r} to LAYERS in this test"
    return LAYERS[top]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_checker_sees_cycles_and_layer_violations() -> None:
    g = {"hubbub.a": {"hubbub.b"}, "hubbub.b": {"hubbub.c"}, "hubbub.c": {"hubbub.a"}, "hubbub.d": {"hubbub.a"}}
    assert _cycles(g) == [["hubbub.a", "hubbub.b", "hubbub.c"]]
    assert _layer("hubbub.serve.cli") > _layer("hubbub.store.store")
    real = _graph()
    assert "hubbub.store.store" in real["hubbub.ingest.importer"]  # the parser reads real imports


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles in src/hubbub:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_layer_imports_a_higher_one() -> None:
    bad = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
           for m, targets in sorted(_graph().items()) for t in sorted(targets) if _layer(t) > _layer(m)]
    assert not bad, "\n".join(bad)
