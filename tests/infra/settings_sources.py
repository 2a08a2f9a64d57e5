"""Where app settings come from: names the code reads, names the Bicep sets, names the docs list.

Used by test_settings_coverage.py; kept separate so each reader can be tested on its own.

- Code: an AST scan of Python files for `os.environ.get("X")`, `os.environ["X"]`,
  `os.getenv("X")`, `os.environ.setdefault/pop("X")` and `"X" in os.environ` (also with
  `from os import environ, getenv`), the key given as a literal or as a module-level string
  constant; plus the env names of pydantic-settings `BaseSettings` fields in
  orchestrations/core/settings.py, and `%NAME%` references in host.json.
- Bicep: the keys of the object literals assigned to variables whose name ends in
  `AppSettings` (infra/modules/function-app.bicep).
- Docs: the rows of the table in docs/settings.md: `| \\`NAME\\` | set by | default | purpose |`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE_PATHS = ("common", "scanner", "orchestrations", "function_app.py")
SETTINGS_MODULE = "orchestrations.core.settings"
DYNAMIC_MARKER = "settings: dynamic"

# "Set by" values in docs/settings.md.
SET_BY_BICEP = "bicep"
NOT_SET_BY_BICEP = frozenset({"optional", "platform", "local"})
SET_BY_VALUES = NOT_SET_BY_BICEP | {SET_BY_BICEP}

_ENVIRON_METHODS = frozenset({"get", "pop", "setdefault"})


@dataclass
class CodeSettings:
    """Setting names the code reads (exact case), pydantic names (case-insensitive), problems."""

    exact: dict[str, list[str]] = field(default_factory=dict)
    case_insensitive: dict[str, list[str]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    def add(self, name: str, where: str, *, case_sensitive: bool = True) -> None:
        target = self.exact if case_sensitive else self.case_insensitive
        target.setdefault(name, []).append(where)


# ---------------------------------------------------------------------------------------------
# Python code


def python_files(root: Path = ROOT, paths: tuple[str, ...] = CODE_PATHS) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        path = root / item
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in sorted(path.rglob("*.py")) if "__pycache__" not in p.parts)
    return files


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            constants[target.id] = value.value
    return constants


class _EnvReadFinder(ast.NodeVisitor):
    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants
        self.environ_names: set[str] = set()  # `from os import environ [as x]`
        self.getenv_names: set[str] = set()  # `from os import getenv [as x]`
        self.os_names: set[str] = set()  # `import os [as x]`
        self.reads: list[tuple[int, str | None]] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "os":
                self.os_names.add(alias.asname or "os")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "os":
            for alias in node.names:
                if alias.name == "environ":
                    self.environ_names.add(alias.asname or "environ")
                elif alias.name == "getenv":
                    self.getenv_names.add(alias.asname or "getenv")

    def _is_environ(self, node: ast.expr) -> bool:
        return self._is_os_name(node, "environ", self.environ_names)

    def _is_getenv(self, node: ast.expr) -> bool:
        return self._is_os_name(node, "getenv", self.getenv_names)

    def _is_os_name(self, node: ast.expr, attribute: str, imported_as: set[str]) -> bool:
        """`os.<attribute>`, or a name it was imported as (`from os import environ`)."""
        if isinstance(node, ast.Name):
            return node.id in imported_as
        return (
            isinstance(node, ast.Attribute)
            and node.attr == attribute
            and isinstance(node.value, ast.Name)
            and node.value.id in self.os_names
        )

    def _key(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        return None

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        is_read = self._is_getenv(func) or (
            isinstance(func, ast.Attribute)
            and func.attr in _ENVIRON_METHODS
            and self._is_environ(func.value)
        )
        if is_read:
            key = self._key(node.args[0]) if node.args else None
            self.reads.append((node.lineno, key))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and self._is_environ(node.value):
            self.reads.append((node.lineno, self._key(node.slice)))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn) and self._is_environ(right):
                self.reads.append((node.lineno, self._key(node.left)))
        self.generic_visit(node)


def env_reads_in_source(source: str, label: str, found: CodeSettings) -> None:
    """Add the settings one Python source reads to `found`."""
    tree = ast.parse(source)
    finder = _EnvReadFinder(_module_constants(tree))
    finder.visit(tree)
    lines = source.splitlines()
    for lineno, key in finder.reads:
        where = f"{label}:{lineno}"
        if key is not None:
            found.add(key, where)
        elif DYNAMIC_MARKER not in lines[lineno - 1]:
            found.unresolved.append(where)


def settings_modules(root: Path = ROOT) -> list[str]:
    """Modules anywhere under orchestrations/ that define pydantic-settings classes
    (core/settings.py and each engine's wiring module)."""
    modules = []
    for path in sorted((root / "orchestrations").rglob("*.py")):
        if "class " in (text := path.read_text(encoding="utf-8")) and "(BaseSettings)" in text:
            parts = path.relative_to(root).with_suffix("").parts
            modules.append(".".join(parts))
    return modules


def pydantic_setting_names(module_name: str = SETTINGS_MODULE) -> list[tuple[str, bool, str]]:
    """(env name, case sensitive, where) for every field of the module's BaseSettings classes."""
    from pydantic import AliasChoices, AliasPath
    from pydantic_settings import BaseSettings

    module = importlib.import_module(module_name)
    names: list[tuple[str, bool, str]] = []
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if not issubclass(cls, BaseSettings) or cls is BaseSettings:
            continue
        if cls.__module__ != module.__name__:
            continue
        config = cls.model_config
        prefix = str(config.get("env_prefix") or "")
        case_sensitive = bool(config.get("case_sensitive", False))
        for field_name, info in cls.model_fields.items():
            where = f"{module_name}.{cls.__name__}.{field_name}"
            aliases: list[str] = []
            alias = info.validation_alias
            if isinstance(alias, str):
                aliases.append(alias)
            elif isinstance(alias, AliasChoices):
                for choice in alias.choices:
                    if isinstance(choice, str):
                        aliases.append(choice)
                    elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                        aliases.append(choice.path[0])
            elif isinstance(alias, AliasPath) and isinstance(alias.path[0], str):
                aliases.append(alias.path[0])
            elif info.alias:
                aliases.append(info.alias)
            if not aliases:
                aliases.append(f"{prefix}{field_name}".upper())
            names.extend((name, case_sensitive, where) for name in aliases)
    return names


def host_json_references(root: Path = ROOT) -> list[str]:
    text = (root / "host.json").read_text(encoding="utf-8")
    return re.findall(r"%([A-Za-z0-9_.:-]+)%", text)


def trigger_references(source: str) -> list[str]:
    """`%NAME%` in string literals: trigger arguments (timer schedules) the host resolves."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names += re.findall(r"^%([A-Za-z0-9_.:-]+)%$", node.value)
    return names


def code_settings(root: Path = ROOT) -> CodeSettings:
    """Everything the app reads: Python env reads, pydantic settings fields, host.json refs,
    `%NAME%` trigger arguments."""
    found = CodeSettings()
    for path in python_files(root):
        label = str(path.relative_to(root))
        source = path.read_text(encoding="utf-8")
        env_reads_in_source(source, label, found)
        for name in trigger_references(source):
            found.add(name, label)
    for module_name in settings_modules(root):
        for name, case_sensitive, where in pydantic_setting_names(module_name):
            found.add(name, where, case_sensitive=case_sensitive)
    for name in host_json_references(root):
        found.add(name, "host.json")
    return found


# ---------------------------------------------------------------------------------------------
# Bicep

_VAR_DECL = re.compile(r"^var\s+([A-Za-z_][A-Za-z0-9_]*)\s*=", re.MULTILINE)
_KEY = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'((?:[^'\\]|\\.)*)')\s*:")


def _after_string(text: str, i: int) -> int:
    """Index of the closing quote of the Bicep string whose opening quote is at `i`."""
    i += 1
    while i < len(text) and text[i] != "'":
        i += 2 if text[i] == "\\" else 1
    return i


def _expression_end(text: str, start: int) -> int:
    """Index just past a Bicep expression starting at `start` (ends at a newline at depth 0)."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            i = _after_string(text, i)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2) + 1 or len(text)
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "\n" and depth == 0:
            return i
        i += 1
    return len(text)


def _value_text(expression: str, start: int) -> str:
    """The text of one property value: up to the `,`, newline or `}` that ends it."""
    nested = 0
    i = start
    while i < len(expression):
        c = expression[i]
        if c == "'":
            i = _after_string(expression, i)
        elif c in "{[(":
            nested += 1
        elif c in "}])":
            if nested == 0:
                break
            nested -= 1
        elif c in "\n," and nested == 0:
            break
        i += 1
    return expression[start:i].strip()


def object_literal_entries(expression: str) -> dict[str, str]:
    """Keys (and value text) of the object literals at the top level of a Bicep expression."""
    entries: dict[str, str] = {}
    stack: list[str] = []
    i = 0
    at_entry_start = False
    while i < len(expression):
        ch = expression[i]
        if at_entry_start and stack == ["{"]:
            match = _KEY.match(expression, i)
            if match:
                key = match.group(1) or match.group(2)
                entries[key] = _value_text(expression, match.end())
            at_entry_start = False
        if ch == "'":
            i += 1
            while i < len(expression) and expression[i] != "'":
                i += 2 if expression[i] == "\\" else 1
        elif expression.startswith("//", i):
            while i < len(expression) and expression[i] != "\n":
                i += 1
            continue
        elif ch in "{[(":
            stack.append(ch)
            at_entry_start = ch == "{"
        elif ch in "}])":
            if stack:
                stack.pop()
        elif ch in "\n,":
            at_entry_start = True
        i += 1
    return entries


@dataclass
class BicepSettings:
    """App settings the Bicep sets: name -> value expression, and where."""

    values: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def covers(self, name: str, *, case_sensitive: bool = True) -> bool:
        """Set directly, or as an identity-based connection (`NAME__credential`, ...)."""

        def norm(value: str) -> str:
            return value if case_sensitive else value.lower()

        wanted = norm(name)
        return any(
            norm(key) == wanted or norm(key).startswith(wanted + "__") for key in self.values
        )


def bicep_settings(root: Path = ROOT) -> BicepSettings:
    found = BicepSettings()
    for path in sorted((root / "infra").rglob("*.bicep")):
        text = path.read_text(encoding="utf-8")
        for match in _VAR_DECL.finditer(text):
            end = _expression_end(text, match.end())
            expression = text[match.end() : end]
            found.variables[match.group(1)] = expression.strip()
            if not match.group(1).lower().endswith("appsettings"):
                continue
            for key, value in object_literal_entries(expression).items():
                found.values[key] = value
                found.where[key] = f"{path.relative_to(root)}:{match.group(1)}"
    return found


# ---------------------------------------------------------------------------------------------
# docs/settings.md

_DOC_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*([A-Za-z-]+)\s*\|")


def documented_settings(root: Path = ROOT) -> dict[str, str]:
    """Setting name -> "set by" value, from the table rows of docs/settings.md."""
    rows: dict[str, str] = {}
    duplicates: list[str] = []
    for line in (root / "docs" / "settings.md").read_text(encoding="utf-8").splitlines():
        match = _DOC_ROW.match(line)
        if not match:
            continue
        name, set_by = match.group(1), match.group(2).lower()
        if name in rows:
            duplicates.append(name)
        rows[name] = set_by
    if duplicates:
        raise ValueError(f"docs/settings.md lists these settings twice: {sorted(duplicates)}")
    return rows
