"""Request and response models of the HTTP API: camelCase out, camelCase or snake_case in."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from croniter import croniter
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from orchestrations.credential_refs import REF_PATTERN

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
    value = " ".join(value.split())
    fields = len(value.split(" "))
    valid = (fields == 5 and croniter.is_valid(value)) or (
        fields == 6 and croniter.is_valid(value, second_at_beginning=True)
    )
    if not valid:
        raise ValueError("schedule must be a cron expression of 5 or 6 (seconds first) fields")
    return value


def validate_hostname(value: str) -> str:
    value = value.strip().lower()
    if _HOSTNAME.match(value) or (":" in value and _IPV6.match(value)):
        return value.rstrip(".")
    raise ValueError("hostname must be a DNS name or an IP address")


# -- errors ---------------------------------------------------------------------------------------


class ErrorBody(ApiModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(ApiModel):
    error: ErrorBody
    active_scan_id: str | None = None


# -- how a host is reached ----------------------------------------------------------------------

_JUMP = re.compile(r"^(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:\s\[\]]+)(?::(\d{1,5}))?$")
MAX_JUMP_HOSTS = 8


class JumpHost(ApiModel):
    """One jump host (bastion) on the way to a host, like an entry of OpenSSH's ProxyJump.
    Its username and credentials default to the host's."""

    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    credentials_ref: str | None = Field(None, pattern=REF_PATTERN)
    passphrase_ref: str | None = Field(None, pattern=REF_PATTERN)

    _hostname = field_validator("hostname")(validate_hostname)


def parse_proxy_jump(value: Any) -> Any:
    """OpenSSH's form `[user@]host[:port][,[user@]host[:port]...]` as a list of jump hosts;
    a list is left to the model."""
    if not isinstance(value, str):
        return value
    hops: list[dict[str, Any]] = []
    for part in value.split(","):
        match = _JUMP.match(part.strip())
        if match is None:
            raise ValueError("proxyJump must be [user@]host[:port], comma-separated")
        user, host, port = match.groups()
        hop: dict[str, Any] = {"hostname": host.strip("[]")}
        if user:
            hop["username"] = user
        if port:
            hop["port"] = int(port)
        hops.append(hop)
    return hops


class HostAccess(ApiModel):
    """How a host is reached: its own private key (references to an app setting or Key Vault
    secret, never the key itself) and the jump hosts on the way, in order."""

    credentials_ref: str | None = Field(None, pattern=REF_PATTERN)
    passphrase_ref: str | None = Field(None, pattern=REF_PATTERN)
    proxy_jump: list[JumpHost] | None = Field(None, max_length=MAX_JUMP_HOSTS)

    _proxy_jump = field_validator("proxy_jump", mode="before")(parse_proxy_jump)


def passphrase_needs_a_key(access: Any) -> Any:
    """A whole host (not an update of some of its fields): a passphrase reference comes with
    the key it unlocks."""
    if access.passphrase_ref and not access.credentials_ref:
        raise ValueError("passphraseRef needs credentialsRef (the key it unlocks)")
    for hop in access.proxy_jump or []:
        if hop.passphrase_ref and not hop.credentials_ref:
            raise ValueError("a jump host's passphraseRef needs its credentialsRef")
    return access


# -- scan triggers ------------------------------------------------------------------------------


class HostScanRequest(HostAccess):
    target_type: Literal["host"] = "host"
    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] = Field(
        "quick", validation_alias=AliasChoices("scanType", "scan_type", "type")
    )

    _hostname = field_validator("hostname")(validate_hostname)
    _passphrase = model_validator(mode="after")(passphrase_needs_a_key)


class RepositoryScanRequest(ApiModel):
    target_type: Literal["repository"] = "repository"
    repository_id: str = Field(pattern=ID_PATTERN)
    commit_sha: str | None = Field(None, pattern=COMMIT_PATTERN)


class SubscriptionScanRequest(ApiModel):
    target_type: Literal["subscription"] = "subscription"
    subscription_id: str = Field(pattern=GUID_PATTERN)
    rules: list[str] | None = Field(None, max_length=500)

    @field_validator("subscription_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("rules")
    @classmethod
    def _rule_ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for rule in value:
                if not re.match(RULE_ID_PATTERN, rule):
                    raise ValueError(f"rule id {rule[:64]!r} is not valid")
        return value


class RepositoryScanTrigger(ApiModel):
    """Body of POST /api/v1/repositories/{id}/scan (seed 000)."""

    commit_sha: str | None = Field(None, pattern=COMMIT_PATTERN)


class SubscriptionTrigger(ApiModel):
    """Body of POST /api/scans/trigger (seed 001); empty: the configured subscriptions."""

    subscription_id: str | None = Field(None, pattern=GUID_PATTERN)
    rules: list[str] | None = Field(None, max_length=500)


class ScanAccepted(ApiModel):
    scan_id: str
    status: str
    target_type: str
    target_id: str
    status_url: str
    status_query_get_uri: str
    message: str


class ScanAcceptedList(ScanAccepted):
    scans: list[ScanAccepted]


# -- scan status --------------------------------------------------------------------------------


class ItemSummary(ApiModel):
    item_id: str
    title: str
    status: str
    findings: int
    error: str | None = None
    duration_ms: int


class ScanStatus(ApiModel):
    """One scan. Engine counters (e.g. rulesCompleted, totalRules, artifactsFound) appear
    both in `counters` and as top-level fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str
    scan_id: str
    target_type: str
    target_id: str
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    progress: int = Field(ge=0, le=100)
    current_phase: str
    current_step: str | None = None
    counters: dict[str, int]
    trigger: str
    instance_id: str
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    results: dict[str, Any] | None = None
    items: list[ItemSummary] | None = None


class ScanList(ApiModel):
    items: list[ScanStatus]
    continuation_token: str | None = None


# -- targets registry ---------------------------------------------------------------------------


class TargetOut(ApiModel):
    """A registered target; its kind-specific settings appear as top-level fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str
    target_type: str
    name: str
    schedule: str | None = None
    created_at: datetime
    updated_at: datetime
    last_scanned_at: datetime | None = None
    last_scan_id: str | None = None
    last_status: str | None = None


class TargetList(ApiModel):
    items: list[TargetOut]
    continuation_token: str | None = None


class RepositoryIn(ApiModel):
    id: str | None = Field(None, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2048)
    default_branch: str = Field("main", min_length=1, max_length=255, pattern=r"^[^\s~^:?*\[\\]+$")
    credentials_ref: str | None = Field(None, max_length=256, pattern=r"^[A-Za-z0-9_.-]+$")
    schedule: str | None = None

    _schedule = field_validator("schedule")(validate_schedule)


class RepositoryUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    url: str | None = Field(None, min_length=1, max_length=2048)
    default_branch: str | None = Field(
        None, min_length=1, max_length=255, pattern=r"^[^\s~^:?*\[\\]+$"
    )
    credentials_ref: str | None = Field(None, max_length=256, pattern=r"^[A-Za-z0-9_.-]+$")
    schedule: str | None = None

    _schedule = field_validator("schedule")(validate_schedule)


class HostIn(HostAccess):
    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] = Field(
        "quick", validation_alias=AliasChoices("scanType", "scan_type", "type")
    )
    name: str | None = Field(None, min_length=1, max_length=200)
    schedule: str | None = None

    _hostname = field_validator("hostname")(validate_hostname)
    _schedule = field_validator("schedule")(validate_schedule)
    _passphrase = model_validator(mode="after")(passphrase_needs_a_key)


class HostUpdate(HostAccess):
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] | None = Field(
        None, validation_alias=AliasChoices("scanType", "scan_type", "type")
    )
    name: str | None = Field(None, min_length=1, max_length=200)
    schedule: str | None = None

    _schedule = field_validator("schedule")(validate_schedule)


class SubscriptionIn(ApiModel):
    subscription_id: str = Field(pattern=GUID_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=200)
    rules: list[str] | None = Field(None, max_length=500)
    schedule: str | None = None

    _schedule = field_validator("schedule")(validate_schedule)

    @field_validator("subscription_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class SubscriptionUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    rules: list[str] | None = Field(None, max_length=500)
    schedule: str | None = None

    _schedule = field_validator("schedule")(validate_schedule)


class Health(ApiModel):
    status: str
    service: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
