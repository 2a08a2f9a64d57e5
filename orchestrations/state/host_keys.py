"""Known SSH host keys in Table Storage (implements scanner.hosts.host_keys.KnownHostKeys).

Table `{prefix}HostKeys`: PartitionKey = host id `<hostname>-<port>`, RowKey = key type.
Insert-only at first contact, so two workers racing on a new host cannot both win with
different keys; an operator's pin replaces what was recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from common.storage import EntityExistsError, eq
from orchestrations.state.tables import TableStore, safe_key, utcnow
from scanner.hosts.host_keys import KnownHostKey

log = logging.getLogger(__name__)

HOST_KEYS_TABLE = "HostKeys"


def host_id(host: str, port: int) -> str:
    """The host's id, as in /api/v1/hosts/{hostId}: `<hostname>-<port>`."""
    return f"{host}-{port}"


class TableKnownHostKeys(TableStore):
    """Known host keys in Table Storage (implements scanner.hosts.host_keys.KnownHostKeys)."""

    TABLE = HOST_KEYS_TABLE

    def entries(self, host_key_id: str) -> list[dict[str, Any]]:
        return list(self._table.query([eq("PartitionKey", safe_key(host_key_id))]))

    def lookup(self, host: str, port: int) -> list[KnownHostKey]:
        return [
            KnownHostKey(str(e["KeyType"]), str(e["Fingerprint"]))
            for e in self.entries(host_id(host, port))
        ]

    def _key_entity(self, host: str, port: int, key: KnownHostKey, source: str) -> dict[str, Any]:
        return {
            "PartitionKey": safe_key(host_id(host, port)),
            "RowKey": safe_key(key.key_type),
            "Host": host,
            "Port": port,
            "KeyType": key.key_type,
            "Fingerprint": key.fingerprint,
            "RecordedAt": utcnow(),
            "Source": source,
        }

    def remember(self, host: str, port: int, key: KnownHostKey) -> bool:
        try:
            self._table.insert(self._key_entity(host, port, key, "first-contact"))
        except EntityExistsError:
            return False
        log.info(
            "host key of %s recorded: %s %s", host_id(host, port), key.key_type, key.fingerprint
        )
        return True

    def pin(self, host: str, port: int, key: KnownHostKey) -> None:
        """Make `key` the host's only known key (an operator's decision)."""
        self.forget(host, port)
        self._table.upsert(self._key_entity(host, port, key, "api"))
        log.info("host key of %s pinned: %s %s", host_id(host, port), key.key_type, key.fingerprint)

    def forget(self, host: str, port: int) -> int:
        """Forget every key of the host; how many there were."""
        forgotten = 0
        for entity in self.entries(host_id(host, port)):
            self._table.delete(entity["PartitionKey"], entity["RowKey"])
            forgotten += 1
        if forgotten:
            log.info("host key(s) of %s forgotten: %d", host_id(host, port), forgotten)
        return forgotten
