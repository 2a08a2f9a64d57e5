"""A target kind: how a scan request or a registered target becomes a ScanTarget.

A kind names its request models (trigger, registration, update), the typed target its scanner
package defines, and the engine's names (readable without building the engine).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from orchestrations.core.models import ApiModel
from orchestrations.core.settings import AppSettings
from orchestrations.engines.wiring import EngineUnavailableError
from orchestrations.state.targets import TargetRecord
from scanner.engine import EngineInfo, ScanEngine, ScanTarget

_INSTANCE_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


class TargetNotFoundError(Exception):
    """The scan names a registered target that does not exist."""


class InvalidTargetError(ValueError):
    """The target's settings are not acceptable (e.g. a local path where none is allowed)."""


def instance_id_for(target_type: str, target_id: str) -> str:
    """The Durable instance id of a target's scans, e.g. `host-example.com-22`."""
    return f"{target_type}-{_INSTANCE_UNSAFE.sub('_', target_id)}"[:256]


class TargetKind:
    """Base: subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    plural: ClassVar[str | None] = None
    trigger_model: ClassVar[type[ApiModel]]
    registration_model: ClassVar[type[ApiModel] | None] = None
    update_model: ClassVar[type[ApiModel] | None] = None
    # The scanner's typed target; None: the configuration is passed as it is.
    target_model: ClassVar[type[BaseModel] | None] = None
    info: ClassVar[EngineInfo]

    def target_id(self, request: Any) -> str:
        raise NotImplementedError

    def registration_id(self, registration: Any) -> str:
        return self.target_id(registration)

    def registration_config(self, registration: Any, settings: AppSettings) -> dict[str, Any]:
        """Kind-specific settings stored with a registered target."""
        fields = registration.model_dump(exclude={"id", "name", "schedule"})
        return {k: v for k, v in fields.items() if v is not None}

    def display_name(self, registration: Any) -> str:
        return str(getattr(registration, "name", None) or self.registration_id(registration))

    def resolve(self, request: Any, registered: TargetRecord | None) -> ScanTarget:
        """The ScanTarget a trigger request describes (registered settings fill the gaps),
        checked once against the scanner's typed target."""
        # Defaults of the request < the registered target's settings < what the request says.
        defaults = request.model_dump(exclude={"target_type"})
        explicit = request.model_dump(exclude={"target_type"}, exclude_unset=True)
        config = {**defaults, **(registered.config if registered else {}), **explicit}
        config = {k: v for k, v in config.items() if v is not None}
        if self.target_model is not None:
            try:
                typed = self.target_model.model_validate(config)
            except ValidationError as exc:
                raise InvalidTargetError(f"the {self.name} target is not valid: {exc}") from exc
            config = typed.model_dump(exclude_none=True)
        return ScanTarget(target_type=self.name, target_id=self.target_id(request), config=config)

    def request_for(self, registered: TargetRecord) -> ApiModel:
        """The trigger request a schedule sends for a registered target."""
        raise NotImplementedError

    def engine(self, settings: AppSettings) -> ScanEngine:
        """Build the kind's engine (the registry keeps one per process: `engine_for`)."""
        raise EngineUnavailableError(f"no scan engine is installed for {self.name} targets")
