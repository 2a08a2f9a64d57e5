"""Call a function the way the Python worker does: trigger value, durable client, context; and
an activity with its JSON input and output (what the activity worker processes run)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
from azure.functions.durable_functions import ActivityTriggerConverter

from standalone.app_loader import (
    ACTIVITY_TRIGGER,
    DURABLE_CLIENT,
    FunctionEntry,
    InvocationContext,
)


async def invoke(
    entry: FunctionEntry,
    trigger_value: Any,
    client_binding: Callable[[], str],
    executor: ThreadPoolExecutor,
) -> Any:
    """Run `entry` with its trigger argument; sync functions run on `executor`."""
    kwargs: dict[str, Any] = {}
    for binding in entry.bindings:
        if binding is entry.trigger:
            kwargs[binding["name"]] = trigger_value
        elif binding.get("type") == DURABLE_CLIENT:
            kwargs[binding["name"]] = client_binding()
    if entry.takes_context:
        kwargs["context"] = InvocationContext(entry.name, "")
    if entry.is_async:
        return await entry.fn(**kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(entry.fn, **kwargs))


def run_activity(
    entry: FunctionEntry, input_json: str | None, loop: asyncio.AbstractEventLoop
) -> str:
    """Invoke an activity as the Python worker does: decode input, call, encode the result."""
    datum = func.meta.Datum(type="json", value=input_json if input_json is not None else "null")
    value = ActivityTriggerConverter.decode(datum, trigger_metadata=None)
    kwargs: dict[str, Any] = {entry.binding_name(ACTIVITY_TRIGGER) or "input": value}
    if entry.takes_context:
        kwargs["context"] = InvocationContext(entry.name, "")
    if entry.is_async:
        result = asyncio.run_coroutine_threadsafe(entry.fn(**kwargs), loop).result()
    else:
        result = entry.fn(**kwargs)
    return str(ActivityTriggerConverter.encode(result, expected_type=None).value)
