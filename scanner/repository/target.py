"""What a repository scan is given: the target's typed configuration, and the engine's names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scanner.engine import EngineInfo

ENGINE_INFO = EngineInfo("repository", "Evaluate", "rulesCompleted", "totalRules")


class RepositoryTarget(BaseModel):
    """A repository scan's target: where the repository is and which commit to read (HEAD of
    `default_branch` when `commit_sha` is not given). `credentials_ref` names a secret; the
    credential itself is never part of a target."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(min_length=1, max_length=2048)
    default_branch: str = "main"
    credentials_ref: str | None = None
    commit_sha: str | None = None
