"""The audit log: one row per change made through the API (who, when, what, from where).

Table `{prefix}Audit`: PartitionKey "audit", RowKey = the entry's ULID with every character
inverted (as scan rows are), so the natural order is newest first and pages follow each other
with the table's own continuation. Rows are only ever inserted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ulid import ULID

from common.continuation import Position
from orchestrations.state.scans import inverted
from orchestrations.state.tables import TableStore, utcnow

PARTITION = "audit"


@dataclass(frozen=True)
class AuditEntry:
    action: str  # e.g. "target.registered", "scan.started", "hostKey.pinned"
    actor_kind: str  # "key", "user" or "application"
    actor: str  # key name, user principal name or application (client) id
    actor_role: str
    method: str
    path: str
    status: int
    source: str  # the caller's address, as the front end saw it
    target: str = ""  # "<targetType>:<targetId>" when the change concerns a target
    scans: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)  # route parameters
    actor_id: str = ""  # Entra object id
    at: datetime = field(default_factory=utcnow)
    entry_id: str = field(default_factory=lambda: str(ULID()))


class AuditStore(TableStore):
    TABLE = "Audit"

    def record(self, entry: AuditEntry) -> None:
        self._table.insert(
            {
                "PartitionKey": PARTITION,
                "RowKey": inverted(entry.entry_id),
                "EntryId": entry.entry_id,
                "At": entry.at,
                "Action": entry.action,
                "ActorKind": entry.actor_kind,
                "Actor": entry.actor,
                "ActorId": entry.actor_id,
                "ActorRole": entry.actor_role,
                "Method": entry.method,
                "Path": entry.path[:1024],
                "Status": entry.status,
                "Source": entry.source,
                "Target": entry.target,
                "Scans": ",".join(entry.scans),
                "Details": json.dumps(entry.details),
            }
        )

    def page(
        self, limit: int, continuation: Position | None
    ) -> tuple[list[AuditEntry], Position | None]:
        """Newest first, one page, and the continuation for the next page."""
        entities, following = self._partition_page(PARTITION, limit, continuation)
        return [_entry(e) for e in entities], following


def _entry(entity: dict[str, Any]) -> AuditEntry:
    scans = str(entity.get("Scans") or "")
    return AuditEntry(
        entry_id=str(entity["EntryId"]),
        at=entity["At"],
        action=str(entity["Action"]),
        actor_kind=str(entity["ActorKind"]),
        actor=str(entity["Actor"]),
        actor_id=str(entity.get("ActorId") or ""),
        actor_role=str(entity.get("ActorRole") or ""),
        method=str(entity["Method"]),
        path=str(entity["Path"]),
        status=int(entity["Status"]),
        source=str(entity.get("Source") or ""),
        target=str(entity.get("Target") or ""),
        scans=tuple(s for s in scans.split(",") if s),
        details=json.loads(entity.get("Details") or "{}"),
    )
