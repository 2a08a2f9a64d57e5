"""The last few artifacts a process loaded, by reference: items of one scan that run in the same
worker share what they read (an index, an inventory section) instead of reading it again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ArtifactCache(Generic[V]):
    """A thread-safe LRU of at most `size` values; one loader per key at a time (the others
    wait for it rather than load the same artifact again)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            try:
                value = load()
                self.put(key, value)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            return value

    def peek(self, key: str) -> V | None:
        """The value when this process holds it; nothing is loaded."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
