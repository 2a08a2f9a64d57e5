"""Call a function the way the Python worker does: trigger value, durable client, context."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from standalone.app_loader import DURABLE_CLIENT, FunctionEntry, InvocationContext


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
