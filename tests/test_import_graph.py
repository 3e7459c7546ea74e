"""The shape of hub/'s imports: no cycles, imports at module top, the demo kept apart.

Read from the source with ``ast``, so it sees what import-linter's contracts (pyproject.toml)
see and more: imports inside functions and under ``TYPE_CHECKING`` count as edges too, since
both are ways of hiding a cycle rather than breaking it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "hub"
# Imports inside functions, outside the command line and the demo; each remaining one has
# a reason written beside it (an entry point loaded on demand, prometheus-client's mode).
MAX_FUNCTION_IMPORTS = 10


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the hub module imported
    in_function: bool
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def hub_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(HUB.rglob("*.py"))}


def is_cli(path: Path) -> bool:
    rel = path.relative_to(HUB).as_posix()
    return path.name == "cli.py" or rel.startswith("demo/")


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module a dotted name lives in (``hub.a.b.name`` -> ``hub.a.b``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def targets(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
            return
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in targets(child):
                    if target == "hub" or target.startswith("hub."):
                        found = _resolve(target, modules)
                        if found is not None and found != name:
                            yield Import(name, found, in_function, child.lineno)
                    else:
                        yield Import(name, target, in_function, child.lineno)
            yield from walk(child, inside)

    yield from walk(tree, False)


def all_imports() -> list[Import]:
    modules = hub_modules()
    return [i for name, path in modules.items() for i in imports_of(name, path, modules)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_among_hub_modules() -> None:
    modules = hub_modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for i in all_imports():
        if i.target in modules:
            edges[i.module].add(i.target)
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_at_most_ten_imports_inside_functions_outside_the_command_line() -> None:
    modules = hub_modules()
    hidden = [f"{modules[i.module].relative_to(ROOT)}:{i.line} imports {i.target}"
              for i in all_imports() if i.in_function and not is_cli(modules[i.module])]
    # One statement may name several modules; count statements.
    statements = sorted(set(h.rpartition(" imports ")[0] for h in hidden))
    assert len(statements) <= MAX_FUNCTION_IMPORTS, "\n".join(hidden)


def test_only_the_command_line_loads_the_demo() -> None:
    modules = hub_modules()
    offenders = [f"{modules[i.module].relative_to(ROOT)}:{i.line}" for i in all_imports()
                 if (i.target == "hub.demo" or i.target.startswith("hub.demo."))
                 and not i.module.startswith("hub.demo") and i.module != "hub.cli"]
    assert offenders == []
