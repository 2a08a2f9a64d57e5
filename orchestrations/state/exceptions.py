"""Exceptions (accepted findings) in Table Storage.

Table `{prefix}Exceptions`: PartitionKey "exception", RowKey = the exception's ULID (oldest
first). The table stays small (people write every row), so readers take it whole; expired rows
are kept and shown as expired until someone deletes them.
"""

from __future__ import annotations

from typing import Any

from common.storage import EntityNotFoundError, eq
from orchestrations.state.tables import TableStore
from scanner.mutelist import FindingException

PARTITION = "exception"
# More than any team keeps open; a listing stops here rather than read without end.
MAX_EXCEPTIONS = 5000


class ExceptionStore(TableStore):
    TABLE = "Exceptions"

    def add(self, exception: FindingException) -> None:
        self._table.insert(_entity(exception))

    def get(self, exception_id: str) -> FindingException | None:
        entity = self._table.get(PARTITION, exception_id)
        return None if entity is None else _exception(entity)

    def all(self) -> list[FindingException]:
        """Every exception, expired ones included, oldest first."""
        found = []
        for entity in self._table.query([eq("PartitionKey", PARTITION)]):
            found.append(_exception(entity))
            if len(found) >= MAX_EXCEPTIONS:
                break
        return found

    def delete(self, exception_id: str) -> bool:
        """False when there was no such exception."""
        if self.get(exception_id) is None:
            return False
        try:
            self._table.delete(PARTITION, exception_id)
        except EntityNotFoundError:  # someone else deleted it meanwhile
            return False
        return True


def _entity(exception: FindingException) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": exception.exception_id,
        "Reason": exception.reason,
        "Owner": exception.owner,
        "ExpiresAt": exception.expires_at,
        "CreatedAt": exception.created_at,
        "CreatedBy": exception.created_by,
        "Fingerprint": exception.fingerprint,
        "RuleId": exception.rule_id,
        "Pattern": exception.pattern,
        "TargetId": exception.target_id,
    }


def _exception(entity: dict[str, Any]) -> FindingException:
    return FindingException(
        exception_id=str(entity["RowKey"]),
        reason=str(entity.get("Reason") or ""),
        owner=str(entity.get("Owner") or ""),
        expires_at=entity["ExpiresAt"],
        created_at=entity["CreatedAt"],
        created_by=str(entity.get("CreatedBy") or ""),
        fingerprint=str(entity.get("Fingerprint") or ""),
        rule_id=str(entity.get("RuleId") or ""),
        pattern=str(entity.get("Pattern") or ""),
        target_id=str(entity.get("TargetId") or ""),
    )
