"""What every Table Storage store here shares: safe keys, the clock, and the ETag-conditional
save (write only if nobody wrote since we read)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

_KEY_UNSAFE = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def safe_key(value: str) -> str:
    """A Table Storage key: the characters Azure forbids in keys replaced by '_'."""
    return _KEY_UNSAFE.sub("_", value)[:512]


def utcnow() -> datetime:
    return datetime.now(UTC)


def save_entity(table: TableClient, entity: dict[str, Any], etag: str | None) -> str | None:
    """Replace the row; with `etag`, only if it is unchanged since it was read. Returns the new
    ETag, or None when someone else wrote (or deleted) it meanwhile."""
    kwargs: dict[str, Any] = {}
    if etag:
        kwargs = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
    try:
        metadata = table.update_entity(entity, mode=UpdateMode.REPLACE, **kwargs)
    except (ResourceModifiedError, ResourceNotFoundError):
        return None
    return str(metadata.get("etag"))


def target_key(target_type: str, target_id: str) -> str:
    """A target's key in the tables that index by target (leases, scans by target)."""
    return safe_key(f"{target_type}:{target_id}")
