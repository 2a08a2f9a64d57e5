"""What a host scan is given: the target's typed configuration, and the engine's names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scanner.engine import EngineInfo

ENGINE_INFO = EngineInfo("host", "Collect", "commandsCompleted", "totalCommands")
MAX_JUMP_HOSTS = 8


class JumpHost(BaseModel):
    """A jump host on the way to the target (like one entry of OpenSSH's ProxyJump). Its
    username and credentials default to the target's."""

    model_config = ConfigDict(extra="ignore")

    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = None
    credentials_ref: str | None = None
    passphrase_ref: str | None = None


class HostTarget(BaseModel):
    """A host scan's target: references to credentials (names of app settings or Key Vault
    secrets), never credentials."""

    model_config = ConfigDict(extra="ignore")

    hostname: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    username: str | None = None
    scan_type: str = "quick"
    credentials_ref: str | None = None
    passphrase_ref: str | None = None
    proxy_jump: list[JumpHost] | None = Field(None, max_length=MAX_JUMP_HOSTS)
