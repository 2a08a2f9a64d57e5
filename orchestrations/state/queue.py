"""Scans waiting for their turn, and the places of the scans admitted to run, per target kind.

Table `{prefix}ScanQueue`:
- waiting rows: PartitionKey `waiting-{kind}`, RowKey = the scan id (a ULID, so the natural
  order is the trigger order), holding the orchestration input the scan starts with. A row
  goes once the scan's orchestration has started, or the scan was cancelled.
- place rows: PartitionKey `running-{kind}`, RowKey = the place's number (0 .. limit - 1),
  holding the scan admitted to it and since when. A place is taken with an insert (one
  winner) and given back with a delete of the row as it was read, so no more scans than places
  are ever admitted, and scans that end together never contend for one row.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.storage import EntityChangedError, EntityExistsError, eq, le
from orchestrations.state.tables import TableStore


def _waiting(kind: str) -> str:
    return f"waiting-{kind}"


def _places(kind: str) -> str:
    return f"running-{kind}"


@dataclass
class Waiting:
    """A scan waiting for its turn, with what its orchestration starts with."""

    scan_id: str
    instance_id: str
    start: dict[str, Any]


@dataclass
class Place:
    """A place taken by an admitted scan, as read (its ETag gives it back only as read)."""

    number: int
    scan_id: str
    since: datetime
    etag: str | None = None


@dataclass
class Admitted:
    """The places of a kind's admitted scans, by scan id."""

    kind: str
    places: dict[str, Place] = field(default_factory=dict)
    # Second places of a scan (two admitters admitted it at once): given back by the next.
    doubles: list[Place] = field(default_factory=list)

    @property
    def scans(self) -> dict[str, datetime]:
        """Scan id -> since when it holds its place."""
        return {scan_id: place.since for scan_id, place in self.places.items()}

    def free(self, limit: int) -> list[int]:
        """The numbers of the places below `limit` that nobody holds."""
        taken = {place.number for place in self.places.values()}
        return [number for number in range(limit) if number not in taken]


class QueueStore(TableStore):
    """Waiting rows and place rows."""

    TABLE = "ScanQueue"

    # -- waiting ----------------------------------------------------------------------------------

    def enqueue(self, kind: str, waiting: Waiting) -> None:
        self._table.upsert(
            {
                "PartitionKey": _waiting(kind),
                "RowKey": waiting.scan_id,
                "InstanceId": waiting.instance_id,
                "Start": self.storage.pack(
                    waiting.start, f"scans/{waiting.scan_id}/queued-start.json"
                ),
            }
        )

    def first_waiting(self, kind: str, count: int) -> list[Waiting]:
        """The `count` oldest waiting scans of the kind, oldest first."""
        rows, _ = self._table.page([eq("PartitionKey", _waiting(kind))], count)
        return [
            Waiting(row["RowKey"], row["InstanceId"], self.storage.unpack(row["Start"]))
            for row in rows[:count]
        ]

    def waiting_ids(self, kind: str, up_to: str) -> list[str]:
        """Ids of the kind's waiting scans in trigger order, up to and including `up_to`."""
        rows = self._table.query(
            [eq("PartitionKey", _waiting(kind)), le("RowKey", up_to)], select=["RowKey"]
        )
        return [str(row["RowKey"]) for row in rows]

    def remove(self, kind: str, scan_id: str) -> None:
        self._table.delete(_waiting(kind), scan_id)

    # -- places -----------------------------------------------------------------------------------

    def admitted(self, kind: str) -> Admitted:
        found = Admitted(kind)
        for row in self._table.query([eq("PartitionKey", _places(kind))]):
            place = Place(int(row["RowKey"]), row["ScanId"], row["Since"], row.etag)
            if place.scan_id in found.places:
                found.doubles.append(place)
            else:
                found.places[place.scan_id] = place
        return found

    def take(self, kind: str, number: int, scan_id: str, since: datetime) -> bool:
        """Take place `number` for the scan (False: someone holds it)."""
        try:
            self._table.insert(
                {
                    "PartitionKey": _places(kind),
                    "RowKey": f"{number:04d}",
                    "ScanId": scan_id,
                    "Since": since,
                }
            )
        except EntityExistsError:
            return False
        return True

    def give_back(self, kind: str, place: Place) -> None:
        """Free the place if it is still as read (a place taken again meanwhile stays)."""
        with contextlib.suppress(EntityChangedError):
            self._table.delete(_places(kind), f"{place.number:04d}", place.etag)
