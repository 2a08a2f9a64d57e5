"""Scans waiting for their turn, and the scans admitted to run, per target kind.

Table `{prefix}ScanQueue`:
- waiting rows: PartitionKey `waiting-{kind}`, RowKey = the scan id (a ULID, so the natural
  order is the trigger order), holding the orchestration input the scan starts with. A row
  goes once the scan's orchestration has started, or the scan was cancelled.
- one admission row per kind: PartitionKey `running`, RowKey = the kind, holding the scans
  admitted to run (scan id -> when). It is only ever changed with an ETag condition (or
  created with an insert), so that two callers can never both fill the same free place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from orchestrations.state.tables import TableStore

RUNNING = "running"


def _waiting(kind: str) -> str:
    return f"waiting-{kind}"


@dataclass
class Waiting:
    """A scan waiting for its turn, with what its orchestration starts with."""

    scan_id: str
    instance_id: str
    start: dict[str, Any]


@dataclass
class Admitted:
    """The scans of a kind admitted to run (scan id -> when), as read with its ETag."""

    kind: str
    scans: dict[str, datetime] = field(default_factory=dict)
    etag: str | None = None


class QueueStore(TableStore):
    """Waiting rows and admission rows."""

    TABLE = "ScanQueue"

    # -- waiting ----------------------------------------------------------------------------------

    def enqueue(self, kind: str, waiting: Waiting) -> None:
        self._table.upsert_entity(
            {
                "PartitionKey": _waiting(kind),
                "RowKey": waiting.scan_id,
                "InstanceId": waiting.instance_id,
                "Start": self.storage.pack(
                    waiting.start, f"scans/{waiting.scan_id}/queued-start.json"
                ),
            },
            mode=UpdateMode.REPLACE,
        )

    def first_waiting(self, kind: str, count: int) -> list[Waiting]:
        """The `count` oldest waiting scans of the kind, oldest first."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": _waiting(kind)}, results_per_page=count
        )
        found: list[Waiting] = []
        for page in rows.by_page():
            for row in page:
                found.append(
                    Waiting(row["RowKey"], row["InstanceId"], self.storage.unpack(row["Start"]))
                )
            break
        return found[:count]

    def waiting_ids(self, kind: str, up_to: str) -> list[str]:
        """Ids of the kind's waiting scans in trigger order, up to and including `up_to`."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk and RowKey le @last",
            parameters={"pk": _waiting(kind), "last": up_to},
            select=["RowKey"],
        )
        return [str(row["RowKey"]) for row in rows]

    def remove(self, kind: str, scan_id: str) -> None:
        self._table.delete_entity(_waiting(kind), scan_id)

    # -- admitted ---------------------------------------------------------------------------------

    def admitted(self, kind: str) -> Admitted:
        try:
            row = self._table.get_entity(RUNNING, kind)
        except ResourceNotFoundError:
            return Admitted(kind)
        scans = {k: datetime.fromisoformat(v) for k, v in json.loads(row["Scans"]).items()}
        return Admitted(kind, scans, row.metadata["etag"])

    def save_admitted(self, admitted: Admitted) -> bool:
        """Write the admitted scans if nobody changed them since they were read (False if
        someone did: read them again)."""
        entity = {
            "PartitionKey": RUNNING,
            "RowKey": admitted.kind,
            "Scans": json.dumps({k: v.isoformat() for k, v in admitted.scans.items()}),
        }
        try:
            if admitted.etag is None:
                metadata = self._table.create_entity(entity)
            else:
                metadata = self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=admitted.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return False
        admitted.etag = metadata.get("etag")
        return True
