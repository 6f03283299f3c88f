"""The package rules of docs/ARCHITECTURE.md, checked on the source: no import cycles, `forms`
and `gis` independent of `server` and Flask, services free of click, local imports explained."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "forms", "gis")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if "client" not in path.relative_to(REPO).parts
    }


MODULES = _sources()


def _imports(name: str, path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(imported module, node, at module level) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module; `from module import name` not
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            found.append((target, node, id(node) in top_level))
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _node, _top in _imports(name, path):
            while target and target not in MODULES:  # `import a.b.c` of a name inside a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_module_and_function_level_imports():
    graph = _graph()
    assert "server.services.coverage.visits" in graph["server.services.processing.pipeline"]
    # server/cli imports its services inside each command: still an edge of the graph
    assert "server.services.processing.pipeline" in graph["server.cli.submissions"]


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_a_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", ["forms", "gis"])
def test_forms_and_gis_never_import_server_or_flask(package):
    offending = [
        f"{name} imports {target}"
        for name, path in MODULES.items() if name.split(".")[0] == package
        for target, _node, _top in _imports(name, path)
        if target.split(".")[0] in ("server", "flask", "flask_sqlalchemy", "flask_login")
    ]
    assert offending == []


def test_services_do_not_import_click():
    offending = [
        name for name, path in MODULES.items() if name.startswith("server.services")
        for target, _node, _top in _imports(name, path) if target.split(".")[0] == "click"
    ]
    assert offending == []


def _explained(lines: list[str], index: int) -> bool:
    """A comment on the import's line or in the block of imports and comments right above it."""
    if "#" in lines[index]:
        return True
    index -= 1
    while index >= 0 and lines[index].strip().startswith(("#", "from ", "import ")):
        if lines[index].strip().startswith("#"):
            return True
        index -= 1
    return False


def test_local_imports_of_our_own_modules_give_a_reason():
    """A function-level import of the project's own code says why in a comment (on its line or
    just above) or is in a CLI command module, whose convention is to import services per
    command."""
    unexplained = []
    for name, path in MODULES.items():
        if name.startswith("server.cli"):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for target, node, top in _imports(name, path):
            if top or target.split(".")[0] not in PACKAGES:
                continue
            if not _explained(lines, node.lineno - 1):
                unexplained.append(f"{path.relative_to(REPO)}:{node.lineno} imports {target}")
    assert unexplained == []
