"""The artifact cache: least recently used out first; one load per key even when asked at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from scanner.cache import ArtifactCache


def test_the_least_recently_used_value_goes_first() -> None:
    cache: ArtifactCache[str] = ArtifactCache(2)
    loads: list[str] = []

    def loader(key: str) -> str:
        loads.append(key)
        return key.upper()

    assert cache.get("a", lambda: loader("a")) == "A"
    cache.put("b", "B")
    assert cache.get("a", lambda: loader("a")) == "A"  # a is now the most recent
    cache.put("c", "C")  # b goes
    assert cache.get("b", lambda: loader("b")) == "B"
    assert loads == ["a", "b"]


def test_concurrent_requests_for_one_key_load_it_once() -> None:
    cache: ArtifactCache[int] = ArtifactCache(4)
    calls = 0
    lock = threading.Lock()

    def slow() -> int:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.05)
        return 42

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(lambda _: cache.get("index", slow), range(8)))
    assert values == [42] * 8 and calls == 1
