"""Reading the documents of a tree: what each holds (an artifact, a problem, or a binary file
skipped), by path. The same code reads for a full scan, an incremental one and the parse
helper process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pygit2

from scanner.repository import git_source
from scanner.repository.git_source import Limits
from scanner.repository.model import (
    FRONT_MATTER_PROBLEM,
    SIZE_PROBLEM,
    SYMLINK_PROBLEM,
    Artifact,
    FieldTable,
    Interner,
    Problem,
    ScanIndex,
    document_artifact,
)


@dataclass(slots=True)
class Parsed:
    """What the documents of a tree held, by path."""

    artifacts: dict[str, Artifact] = field(default_factory=dict)
    problems: dict[str, Problem] = field(default_factory=dict)
    binary: set[str] = field(default_factory=set)
    documents: int = 0
    shared: Interner = field(default_factory=Interner)

    @classmethod
    def of(cls, index: ScanIndex) -> Parsed:
        return cls(
            artifacts={a.path: a for a in index.artifacts},
            problems={p.path: p for p in index.problems},
            binary=set(index.binary),
            documents=index.files_scanned,
        )

    def forget(self, path: str) -> None:
        self.artifacts.pop(path, None)
        self.problems.pop(path, None)
        self.binary.discard(path)

    def add(self, artifacts: list[Artifact], problems: list[Problem], binary: list[str]) -> None:
        """What another process read (its artifacts share this one's field sets after)."""
        for artifact in artifacts:
            artifact.present = self.shared.names(artifact.present)
            artifact.values = self.shared.mapping(artifact.values)
            artifact.lines = self.shared.mapping(artifact.lines)
            self.artifacts[artifact.path] = artifact
        self.problems.update((problem.path, problem) for problem in problems)
        self.binary.update(binary)

    def symlink(self, path: str) -> None:
        self.problems[path] = Problem(
            SYMLINK_PROBLEM,
            path,
            1,
            f"{path} is a symbolic link; links are never followed, so it is not scanned",
        )

    def read(
        self, repo: pygit2.Repository, path: str, oid: Any, limits: Limits, fields: FieldTable
    ) -> None:
        """Read and parse one document (a blob) into what it holds."""
        text, why, size = git_source.read_text(repo, oid, limits)
        if text is None:
            if why == "oversized":
                self.problems[path] = Problem(
                    SIZE_PROBLEM,
                    path,
                    1,
                    f"{path} has {size} bytes, more than the limit of "
                    f"{limits.max_file_bytes}; it was not scanned",
                )
            else:
                self.binary.add(path)
            return
        artifact, error = document_artifact(path, text, fields, self.shared)
        if error is not None:
            message, line = error
            self.problems[path] = Problem(FRONT_MATTER_PROBLEM, path, line, f"{path}: {message}")
        elif artifact is not None:
            self.artifacts[path] = artifact
