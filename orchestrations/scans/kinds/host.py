"""Hosts over SSH: `<hostname>-<port>` is the target id; registration is optional.

A host may name its own private key (`credentialsRef`, `passphraseRef`: app settings or Key
Vault secrets, by name) and the jump hosts on the way to it (`proxyJump`, like OpenSSH's
ProxyJump: a list, or `[user@]host[:port]`, comma-separated).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from orchestrations.core.models import (
    REF_PATTERN,
    USERNAME_PATTERN,
    ApiModel,
    Schedulable,
    validate_hostname,
)
from orchestrations.core.settings import AppSettings
from orchestrations.scans.kinds.base import InvalidTargetError, TargetKind
from orchestrations.state.host_keys import host_id
from orchestrations.state.targets import TargetRecord
from scanner.engine import ScanEngine, ScanTarget
from scanner.hosts.failures import NO_KEY
from scanner.hosts.target import ENGINE_INFO, MAX_JUMP_HOSTS, HostTarget

_SCAN_TYPE_ALIASES = AliasChoices("scanType", "scan_type", "type")
_JUMP = re.compile(r"^(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:\s\[\]]+)(?::(\d{1,5}))?$")


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


class HostScanRequest(HostAccess):
    target_type: Literal["host"] = "host"
    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] = Field("quick", validation_alias=_SCAN_TYPE_ALIASES)

    _hostname = field_validator("hostname")(validate_hostname)
    _passphrase = model_validator(mode="after")(passphrase_needs_a_key)


class HostIn(Schedulable, HostAccess):
    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] = Field("quick", validation_alias=_SCAN_TYPE_ALIASES)
    name: str | None = Field(None, min_length=1, max_length=200)

    _hostname = field_validator("hostname")(validate_hostname)
    _passphrase = model_validator(mode="after")(passphrase_needs_a_key)


class HostUpdate(Schedulable, HostAccess):
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] | None = Field(None, validation_alias=_SCAN_TYPE_ALIASES)
    name: str | None = Field(None, min_length=1, max_length=200)


class HostKind(TargetKind):
    name, plural, info, target_model = "host", "hosts", ENGINE_INFO, HostTarget
    trigger_model = HostScanRequest
    registration_model, update_model = HostIn, HostUpdate

    def target_id(self, request: Any) -> str:
        return host_id(request.hostname, request.port)

    def resolve(self, request: Any, registered: TargetRecord | None) -> ScanTarget:
        """Refused when triggered (422), not failed later, when the scan would have no key to
        log in with: the host names none (its jump hosts fall back to the host's) and the
        service has none."""
        from orchestrations.engines.hosts import has_service_key

        target = super().resolve(request, registered)
        if not target.config.get("credentials_ref") and not has_service_key():
            raise InvalidTargetError(NO_KEY)
        return target

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return HostScanRequest.model_validate(registered.config)

    def engine(self, settings: AppSettings) -> ScanEngine:
        from orchestrations.engines.hosts import create_engine

        return create_engine(settings)
