"""Git repositories: registered first (id, URL, branch, credentials reference), then scanned."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from orchestrations.core.models import (
    COMMIT_PATTERN,
    ID_PATTERN,
    REF_PATTERN,
    ApiModel,
    Schedulable,
)
from orchestrations.core.settings import AppSettings
from orchestrations.scans.kinds.base import (
    InvalidTargetError,
    TargetKind,
    TargetNotFoundError,
)
from orchestrations.state.targets import TargetRecord
from scanner.engine import ScanEngine, ScanTarget
from scanner.repository.target import ENGINE_INFO, RepositoryTarget
from scanner.repository.urls import RepositoryUrlError, check_repository_url

_BRANCH_PATTERN = r"^[^\s~^:?*\[\\]+$"


class RepositoryScanRequest(ApiModel):
    target_type: Literal["repository"] = "repository"
    repository_id: str = Field(pattern=ID_PATTERN)
    commit_sha: str | None = Field(None, pattern=COMMIT_PATTERN)


class RepositoryIn(Schedulable):
    id: str | None = Field(None, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2048)
    default_branch: str = Field("main", min_length=1, max_length=255, pattern=_BRANCH_PATTERN)
    credentials_ref: str | None = Field(None, max_length=256, pattern=REF_PATTERN)


class RepositoryUpdate(Schedulable):
    name: str | None = Field(None, min_length=1, max_length=200)
    url: str | None = Field(None, min_length=1, max_length=2048)
    default_branch: str | None = Field(None, min_length=1, max_length=255, pattern=_BRANCH_PATTERN)
    credentials_ref: str | None = Field(None, max_length=256, pattern=REF_PATTERN)


class RepositoryKind(TargetKind):
    name, plural, info, target_model = "repository", "repositories", ENGINE_INFO, RepositoryTarget
    trigger_model = RepositoryScanRequest
    registration_model, update_model = RepositoryIn, RepositoryUpdate

    def target_id(self, request: Any) -> str:
        return str(request.repository_id)

    def registration_id(self, registration: Any) -> str:
        if registration.id:
            return str(registration.id)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", registration.name).strip("-._").lower()
        return slug[:64] or "repository"

    def registration_config(self, registration: Any, settings: AppSettings) -> dict[str, Any]:
        try:
            check_repository_url(registration.url, settings.repo_allow_local_paths)
        except RepositoryUrlError as exc:
            raise InvalidTargetError(str(exc)) from exc
        return super().registration_config(registration, settings)

    def resolve(self, request: Any, registered: TargetRecord | None) -> ScanTarget:
        if registered is None:
            raise TargetNotFoundError(f"repository {request.repository_id!r} is not registered")
        return super().resolve(request, registered)

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return RepositoryScanRequest(repository_id=registered.target_id, commit_sha=None)

    def engine(self, settings: AppSettings) -> ScanEngine:
        from orchestrations.engines.repositories import create_engine

        return create_engine(settings)
