"""Repository scans: GxP traceability of Markdown documents with YAML front matter, read from
Git objects at a commit (REQ -> US -> SPEC -> TC), checked by the rules of rules/catalogue.yaml."""

from scanner.repository.engine import EngineOptions, RepositoryEngine
from scanner.repository.git_source import Limits, Source

__all__ = ["EngineOptions", "Limits", "RepositoryEngine", "Source"]
