"""The import graph, built from the source (ast): no cycles, and every import runs down the
declared layers.

Packages, lowest first: common < scanner < orchestrations; standalone (a Functions host for any
app) may import only common. Inside orchestrations: core < identity < state < engines < scans <
api, workflow (side by side: neither imports the other) < blueprints. Inside standalone: the host's
basics < the runtimes (HTTP, timers, workers, Durable) < the host that puts them together.
Every import counts, also one inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "scanner", "orchestrations", "standalone")

# (package, layer): what each may import besides itself; None: anything below in this list.
PACKAGE_IMPORTS = {
    "common": set(),
    "scanner": {"common"},
    "orchestrations": {"common", "scanner"},
    "standalone": {"common"},
}
ORCHESTRATIONS_LAYERS: list[set[str]] = [
    {"core"},
    {"identity"},
    {"state"},
    {"engines"},
    {"scans"},
    {"api", "workflow"},
    {"blueprints"},
]
STANDALONE_BASICS = {
    "settings",
    "routes",
    "keys",
    "app_loader",
    "azurite",
    "host_config",
    "invoker",
    "store_location",
}
STANDALONE_TOP = ["host", "__main__"]  # __main__ starts the host


@dataclass
class Graph:
    edges: dict[str, set[str]] = field(default_factory=dict)
    where: dict[tuple[str, str], int] = field(default_factory=dict)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def build_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> Graph:
    """Module -> modules of `packages` it imports (anywhere in its source)."""
    files = {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    graph = Graph()
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        targets = graph.edges.setdefault(name, set())
        for node in ast.walk(tree):
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from a.b import c`: the module a.b.c when it exists, else a.b itself.
                found = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            for target in found:
                if target in files and target != name:
                    targets.add(target)
                    graph.where.setdefault((name, target), node.lineno)
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph.edges):
        if node not in index:
            visit(node)
    return groups


def layer(module: str) -> tuple[str, int, str]:
    """(package, rank inside it, name of its layer) of a module."""
    parts = module.split(".")
    package = parts[0]
    if package == "orchestrations":
        if len(parts) == 1:
            return package, -1, "orchestrations"  # the package's docstring
        for rank, names in enumerate(ORCHESTRATIONS_LAYERS):
            if parts[1] in names:
                return package, rank, parts[1]
        raise AssertionError(
            f"{module}: not in a declared layer of orchestrations/ (put it in a subpackage, "
            "or declare its layer in tests/test_layers.py)"
        )
    if package == "standalone":
        if len(parts) == 1:
            return package, -1, "standalone"
        if len(parts) == 2 and parts[1] in STANDALONE_BASICS:
            return package, 0, "basics"
        if len(parts) == 2 and parts[1] in STANDALONE_TOP:
            return package, 2 + STANDALONE_TOP.index(parts[1]), parts[1]
        return package, 1, "runtime"
    return package, 0, package


def layer_violations(graph: Graph) -> list[str]:
    problems = []
    for source, targets in sorted(graph.edges.items()):
        package, rank, name = layer(source)
        for target in sorted(targets):
            line = graph.where[(source, target)]
            target_package, target_rank, target_name = layer(target)
            if target_package != package:
                if target_package not in PACKAGE_IMPORTS[package]:
                    problems.append(f"{source}:{line} imports {target} ({package} -> {target})")
                continue
            if target_rank > rank or (target_rank == rank and target_name != name):
                problems.append(
                    f"{source}:{line} imports {target} ({name} -> {target_name}: against the "
                    "layer order)"
                )
    return problems


def test_no_import_cycles() -> None:
    cycles = find_cycles(build_graph(ROOT))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_import_runs_down_the_layers() -> None:
    problems = layer_violations(build_graph(ROOT))
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = build_graph(ROOT)
    # Imported inside create_engine (only processes that scan hosts load paramiko).
    assert "scanner.hosts.engine" in graph.edges["orchestrations.engines.hosts"]
    assert "orchestrations.state.stores" in graph.edges["orchestrations.workflow.activities"]
    assert len(graph.edges) > 100


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    """A tree with a cycle (two lazy imports) and imports against the layers."""
    write(
        tmp_path,
        {
            "common/__init__.py": "",
            "scanner/__init__.py": "",
            "scanner/engine.py": "def f():\n    import orchestrations.core.settings\n",
            "orchestrations/__init__.py": "",
            "orchestrations/core/__init__.py": "",
            "orchestrations/core/settings.py": "from ..state import tables\n",
            "orchestrations/state/__init__.py": "",
            "orchestrations/state/tables.py": (
                "def g():\n    from orchestrations.core import settings\n"
            ),
            "orchestrations/api/__init__.py": "",
            "orchestrations/api/scans.py": "from orchestrations.workflow import activities\n",
            "orchestrations/workflow/__init__.py": "",
            "orchestrations/workflow/activities.py": "import scanner.engine\n",
            "standalone/__init__.py": "",
            "standalone/host.py": "import orchestrations.api.scans\n",
        },
    )
    return tmp_path


def test_a_cycle_and_upward_imports_are_reported(bad_tree: Path) -> None:
    graph = build_graph(bad_tree)
    assert find_cycles(graph) == [
        ["orchestrations.core.settings", "orchestrations.state.tables"],
    ]
    problems = layer_violations(graph)
    assert any(
        p.startswith("scanner.engine:2 imports orchestrations.core.settings") for p in problems
    )
    assert any("core -> state" in p for p in problems)  # the relative import counts
    assert any("api -> workflow" in p for p in problems)  # side by side: not each other
    assert any(p.startswith("standalone.host:1") for p in problems)
    assert not any(p.startswith("orchestrations.workflow.activities") for p in problems)
