"""What a host scan is given: the target's typed configuration, and the engine's names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scanner.engine import EngineInfo

ENGINE_INFO = EngineInfo("host", "Collect", "commandsCompleted", "totalCommands")


class HostTarget(BaseModel):
    """A host scan's target (never credentials)."""

    model_config = ConfigDict(extra="ignore")

    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = None
    scan_type: str = "quick"
