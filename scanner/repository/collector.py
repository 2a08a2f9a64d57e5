"""The cyclic garbage collector paused while a scan builds or reads its large structures.

An index of 100,000 artifacts is a few million small objects, none of them in reference cycles
(reference counting frees them). Each collection the allocations trigger would walk all of them,
and every other index this process keeps: a sixth of a large scan's time. The pause is shared
by concurrent scans in one process: the collector runs again when the last of them is done.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
