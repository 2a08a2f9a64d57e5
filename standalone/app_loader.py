"""Import an app's `function_app.py` and index its functions by trigger type."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

HTTP_TRIGGER = "httpTrigger"
ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
TIMER_TRIGGER = "timerTrigger"
DURABLE_CLIENT = "durableClient"
ENTITY_TRIGGER = "entityTrigger"


class AppLoadError(Exception):
    """function_app.py is missing, fails to import or holds no function app."""


@dataclass
class FunctionEntry:
    """One function of the app, with what the host needs to invoke it."""

    name: str
    trigger_type: str
    trigger: dict[str, Any]
    bindings: list[dict[str, Any]]
    fn: Callable[..., Any]
    is_async: bool
    takes_context: bool

    def binding_name(self, binding_type: str) -> str | None:
        for binding in self.bindings:
            if binding.get("type") == binding_type:
                return str(binding["name"])
        return None


@dataclass
class AppIndex:
    """The app's functions grouped by what triggers them."""

    http: list[FunctionEntry] = field(default_factory=list)
    orchestrators: dict[str, FunctionEntry] = field(default_factory=dict)
    activities: dict[str, FunctionEntry] = field(default_factory=dict)
    timers: list[FunctionEntry] = field(default_factory=list)
    unsupported: list[FunctionEntry] = field(default_factory=list)


class InvocationContext(func.Context):  # type: ignore[misc]
    """The `context` argument a function may declare, as the Python worker passes it."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


def _find_app(module: Any) -> Any:
    app = getattr(module, "app", None)
    if isinstance(app, func.FunctionRegister):
        return app
    for value in vars(module).values():
        if isinstance(value, func.FunctionRegister):
            return value
    raise AppLoadError("function_app.py defines no FunctionApp/DFApp instance")


def _entry(function: Any) -> FunctionEntry:
    document = json.loads(function.get_function_json())
    bindings: list[dict[str, Any]] = document.get("bindings", [])
    trigger = next((b for b in bindings if str(b.get("type", "")).endswith("Trigger")), {})
    fn = function.get_user_function()
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    return FunctionEntry(
        name=function.get_function_name(),
        trigger_type=str(trigger.get("type", "")),
        trigger=trigger,
        bindings=bindings,
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        takes_context="context" in parameters and all(b.get("name") != "context" for b in bindings),
    )


def load_app(app_dir: Path) -> AppIndex:
    """Import `app_dir/function_app.py` (as the Python worker does) and index its functions."""
    path = app_dir / "function_app.py"
    if not path.is_file():
        raise AppLoadError(f"{path} not found")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location("function_app", path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AppLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc

    index = AppIndex()
    for function in _find_app(module).get_functions():
        entry = _entry(function)
        if entry.trigger_type == HTTP_TRIGGER:
            index.http.append(entry)
        elif entry.trigger_type == ORCHESTRATION_TRIGGER:
            index.orchestrators[entry.name] = entry
        elif entry.trigger_type == ACTIVITY_TRIGGER:
            index.activities[entry.name] = entry
        elif entry.trigger_type == TIMER_TRIGGER:
            index.timers.append(entry)
        else:
            index.unsupported.append(entry)
    return index
