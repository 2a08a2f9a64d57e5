"""The OSV cache protocol (scanner.subscription.osv.OsvCache) on a Table Storage table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from common.storage import Table

OSV_CACHE_TABLE = "OsvCache"
_MAX_CACHED_CHARS = 30_000
_CACHE_THREADS = 8


class TableOsvCache:
    """The OSV cache protocol on a Table Storage table: one row per key (PartitionKey "q" for
    query answers, "v" for vulnerability details; RowKey a hash of the key), dropped after
    `ttl_hours`."""

    def __init__(self, table: Table, ttl_hours: float) -> None:
        self.table = table
        self.ttl = timedelta(hours=ttl_hours)

    @staticmethod
    def _address(key: str) -> tuple[str, str]:
        return key.split(":", 1)[0] or "k", hashlib.sha256(key.encode("utf-8")).hexdigest()

    def _get(self, key: str) -> tuple[str, Any] | None:
        partition, row = self._address(key)
        entity = self.table.get(partition, row)
        if entity is None:
            return None
        fetched = entity.get("FetchedAt")
        if not isinstance(fetched, datetime) or datetime.now(UTC) - fetched > self.ttl:
            return None
        return key, json.loads(entity.get("Value") or "null")

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        if not keys or self.ttl <= timedelta(0):
            return {}
        with ThreadPoolExecutor(min(_CACHE_THREADS, len(keys))) as pool:
            found = [hit for hit in pool.map(self._get, keys) if hit is not None]
        return dict(found)

    def put_many(self, values: Mapping[str, Any]) -> None:
        if self.ttl <= timedelta(0):
            return
        now = datetime.now(UTC)
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for key, value in values.items():
            text = json.dumps(value)
            if len(text) > _MAX_CACHED_CHARS:
                continue
            partition, row = self._address(key)
            entity = {
                "PartitionKey": partition,
                "RowKey": row,
                "Key": key[:1000],
                "Value": text,
                "FetchedAt": now,
            }
            by_partition.setdefault(partition, []).append(entity)
        for entities in by_partition.values():
            for start in range(0, len(entities), 100):  # a transaction holds 100 operations
                chunk = entities[start : start + 100]
                self.table.batch([("upsert", e) for e in chunk])
