"""scanctl is a client of the HTTP API and nothing more: it imports nothing of the service,
the service imports nothing of it, and the Function App's package leaves it out."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.host_process import ROOT

SERVICE = ("orchestrations", "standalone", "scanner", "function_app")


def imported_modules(folder: Path) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in folder.rglob("*.py") if folder.is_dir() else [folder]:
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[path] = names
    return found


def test_scanctl_imports_nothing_of_the_service() -> None:
    for path, names in imported_modules(ROOT / "scanctl").items():
        service = {n for n in names if n.split(".")[0] in SERVICE}
        assert not service, f"{path.relative_to(ROOT)} imports {service}"


def test_the_service_imports_nothing_of_scanctl() -> None:
    for top in (*SERVICE[:-1], "function_app.py"):
        for path, names in imported_modules(ROOT / top).items():
            assert not {n for n in names if n.split(".")[0] == "scanctl"}, path


def test_the_function_app_package_leaves_the_client_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()}
    assert "scanctl" in ignored
