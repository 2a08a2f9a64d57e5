"""The JSON style of every model the service exchanges over HTTP, and the shared field checks."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from common import cron

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
)
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
USERNAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9._-]{0,31}$"
RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
COMMIT_PATTERN = r"^[0-9a-fA-F]{4,40}$"
# A credentials reference: the name of an app setting or Key Vault secret.
REF_PATTERN = r"^[A-Za-z0-9_.-]{1,256}$"


class ApiModel(BaseModel):
    """Accepts `fieldName` and `field_name`; rejects unknown fields; dumps camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    def out(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


def validate_schedule(value: str | None) -> str | None:
    """Cron: 5 fields (minute first) or NCRONTAB's 6 (seconds first); UTC."""
    if value is None or not value.strip():
        return None
    if not cron.is_valid(value):
        raise ValueError("schedule must be a cron expression of 5 or 6 (seconds first) fields")
    return cron.normalized(value)


def validate_hostname(value: str) -> str:
    value = value.strip().lower()
    if _HOSTNAME.match(value) or (":" in value and _IPV6.match(value)):
        return value.rstrip(".")
    raise ValueError("hostname must be a DNS name or an IP address")


def validate_rule_ids(value: list[str] | None) -> list[str] | None:
    if value is not None:
        for rule in value:
            if not re.match(RULE_ID_PATTERN, rule):
                raise ValueError(f"rule id {rule[:64]!r} is not valid")
    return value


class Schedulable(ApiModel):
    """A target's registration or update: kind-specific fields and an optional cron schedule."""

    schedule: str | None = None

    _schedule = field_validator("schedule")(validate_schedule)
