"""Target kinds: how a scan request or a registered target becomes a ScanTarget and an engine.

One class per kind; `KINDS` is the registry the API, the orchestrator and the scheduler use.
An app may register more kinds (the tests register a synthetic one with `register_kind`).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, ClassVar

from orchestrations.api_models import (
    ApiModel,
    HostIn,
    HostScanRequest,
    HostUpdate,
    RepositoryIn,
    RepositoryScanRequest,
    RepositoryUpdate,
    SubscriptionIn,
    SubscriptionScanRequest,
    SubscriptionUpdate,
)
from orchestrations.settings import AppSettings
from orchestrations.target_store import TargetRecord
from scanner.engine import ScanEngine, ScanTarget

_INSTANCE_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


class EngineUnavailableError(Exception):
    """No scan engine is installed for this target type."""


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
    requires_registration: ClassVar[bool] = False

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
        """The ScanTarget a trigger request describes (registered settings fill the gaps)."""
        # Defaults of the request < the registered target's settings < what the request says.
        defaults = request.model_dump(exclude={"target_type"})
        explicit = request.model_dump(exclude={"target_type"}, exclude_unset=True)
        config = {**defaults, **(registered.config if registered else {}), **explicit}
        config = {k: v for k, v in config.items() if v is not None}
        return ScanTarget(target_type=self.name, target_id=self.target_id(request), config=config)

    def request_for(self, registered: TargetRecord) -> ApiModel:
        """The trigger request a schedule sends for a registered target."""
        raise NotImplementedError

    def engine(self, settings: AppSettings) -> ScanEngine:
        raise EngineUnavailableError(f"no scan engine is installed for {self.name} targets")


def load_engine(module_name: str, kind: str, settings: AppSettings) -> ScanEngine:
    """The engine built by `module_name.create_engine(settings)`; each engine's wiring module
    (orchestrations/<kind>_engine.py) holds its settings and builds it."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise EngineUnavailableError(f"no scan engine is installed for {kind} targets") from exc
    engine: ScanEngine = module.create_engine(settings)
    return engine


class HostKind(TargetKind):
    name = "host"
    plural = "hosts"
    trigger_model = HostScanRequest
    registration_model = HostIn
    update_model = HostUpdate

    def target_id(self, request: Any) -> str:
        return f"{request.hostname}-{request.port}"

    def resolve(self, request: Any, registered: TargetRecord | None) -> ScanTarget:
        from orchestrations.host_engine import require_key

        target = super().resolve(request, registered)
        require_key(target.config)
        return target

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return HostScanRequest.model_validate(registered.config)

    def engine(self, settings: AppSettings) -> ScanEngine:
        return load_engine("orchestrations.host_engine", self.name, settings)


class RepositoryKind(TargetKind):
    name = "repository"
    plural = "repositories"
    trigger_model = RepositoryScanRequest
    registration_model = RepositoryIn
    update_model = RepositoryUpdate
    requires_registration = True

    def target_id(self, request: Any) -> str:
        return str(request.repository_id)

    def registration_id(self, registration: Any) -> str:
        if registration.id:
            return str(registration.id)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", registration.name).strip("-._").lower()
        return slug[:64] or "repository"

    def registration_config(self, registration: Any, settings: AppSettings) -> dict[str, Any]:
        # Imported here: the repository engine's package loads pygit2.
        from scanner.repository.urls import RepositoryUrlError, check_repository_url

        try:
            check_repository_url(registration.url, settings.repo_allow_local_paths)
        except RepositoryUrlError as exc:
            raise InvalidTargetError(str(exc)) from exc
        return super().registration_config(registration, settings)

    def resolve(self, request: Any, registered: TargetRecord | None) -> ScanTarget:
        if registered is None:
            raise TargetNotFoundError(f"repository {request.repository_id!r} is not registered")
        target = super().resolve(request, registered)
        target.config.pop("repository_id", None)
        return target

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return RepositoryScanRequest(repository_id=registered.target_id, commit_sha=None)

    def engine(self, settings: AppSettings) -> ScanEngine:
        return load_engine("orchestrations.repository_engine", self.name, settings)


class SubscriptionKind(TargetKind):
    name = "subscription"
    plural = "subscriptions"
    trigger_model = SubscriptionScanRequest
    registration_model = SubscriptionIn
    update_model = SubscriptionUpdate

    def target_id(self, request: Any) -> str:
        return str(request.subscription_id).lower()

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return SubscriptionScanRequest(
            subscription_id=registered.target_id, rules=registered.config.get("rules")
        )

    def engine(self, settings: AppSettings) -> ScanEngine:
        return load_engine("orchestrations.subscription_engine", self.name, settings)


KINDS: dict[str, TargetKind] = {}


def register_kind(kind: TargetKind) -> None:
    KINDS[kind.name] = kind


def kind_by_plural(plural: str) -> TargetKind | None:
    return next((k for k in KINDS.values() if k.plural == plural), None)


for _kind in (HostKind(), RepositoryKind(), SubscriptionKind()):
    register_kind(_kind)


def infer_target_type(body: dict[str, Any]) -> str | None:
    """The seed stories post without targetType; the fields tell which kind is meant."""
    explicit = body.get("targetType", body.get("target_type"))
    if explicit is not None:
        return str(explicit)
    for key, kind in (
        ("hostname", "host"),
        ("repositoryId", "repository"),
        ("repository_id", "repository"),
        ("subscriptionId", "subscription"),
        ("subscription_id", "subscription"),
    ):
        if key in body:
            return kind
    return None
