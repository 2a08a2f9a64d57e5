"""Hosts over SSH: `<hostname>-<port>` is the target id; registration is optional."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from orchestrations.core.models import (
    USERNAME_PATTERN,
    ApiModel,
    Schedulable,
    validate_hostname,
)
from orchestrations.core.settings import AppSettings
from orchestrations.scans.kinds.base import TargetKind
from orchestrations.state.host_keys import host_id
from orchestrations.state.targets import TargetRecord
from scanner.engine import ScanEngine
from scanner.hosts.target import ENGINE_INFO, HostTarget

_SCAN_TYPE_ALIASES = AliasChoices("scanType", "scan_type", "type")


class HostScanRequest(ApiModel):
    target_type: Literal["host"] = "host"
    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] = Field("quick", validation_alias=_SCAN_TYPE_ALIASES)

    _hostname = field_validator("hostname")(validate_hostname)


class HostIn(Schedulable):
    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] = Field("quick", validation_alias=_SCAN_TYPE_ALIASES)
    name: str | None = Field(None, min_length=1, max_length=200)

    _hostname = field_validator("hostname")(validate_hostname)


class HostUpdate(Schedulable):
    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    scan_type: Literal["quick", "full"] | None = Field(None, validation_alias=_SCAN_TYPE_ALIASES)
    name: str | None = Field(None, min_length=1, max_length=200)


class HostKind(TargetKind):
    name, plural, info, target_model = "host", "hosts", ENGINE_INFO, HostTarget
    trigger_model = HostScanRequest
    registration_model, update_model = HostIn, HostUpdate

    def target_id(self, request: Any) -> str:
        return host_id(request.hostname, request.port)

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return HostScanRequest.model_validate(registered.config)

    def engine(self, settings: AppSettings) -> ScanEngine:
        from orchestrations.engines.hosts import create_engine

        return create_engine(settings)
