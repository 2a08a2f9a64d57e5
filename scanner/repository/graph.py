"""The trace graph REQ -> US -> SPEC -> TC over an artifact index, built once per index and
shared by every rule (collect once, evaluate many)."""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property

from scanner.repository.model import Artifact, ScanIndex


class TraceGraph:
    """Lookups by id, children by parent id, and the counts the coverage rules need."""

    def __init__(self, index: ScanIndex) -> None:
        self.index = index
        self.artifacts = index.artifacts
        by_id: dict[str, list[int]] = defaultdict(list)
        for position, artifact in enumerate(self.artifacts):
            if artifact.gxp_id:
                by_id[artifact.gxp_id].append(position)
        self.by_id: dict[str, list[int]] = dict(by_id)
        children: dict[str, list[int]] = defaultdict(list)
        for position, artifact in enumerate(self.artifacts):
            for parent in artifact.parents:
                children[parent].append(position)
        self.children: dict[str, list[int]] = dict(children)

    def get(self, gxp_id: str) -> Artifact | None:
        """The document with this id (the first one when the id is duplicated)."""
        positions = self.by_id.get(gxp_id)
        return self.artifacts[positions[0]] if positions else None

    def children_of(self, artifact: Artifact, type_: str | None = None) -> list[Artifact]:
        if type_ is not None:
            return list(self._typed_children.get((artifact.gxp_id, type_), ()))
        return [self.artifacts[i] for i in self.children.get(artifact.gxp_id, ())]

    def _count_children(self, artifact: Artifact, type_: str) -> int:
        return len(self._typed_children.get((artifact.gxp_id, type_), ()))

    @cached_property
    def _typed_children(self) -> dict[tuple[str, str | None], list[Artifact]]:
        """Children by (parent id, type), in document order (the coverage rules ask for one
        type at a time, for every artifact)."""
        typed: dict[tuple[str, str | None], list[Artifact]] = defaultdict(list)
        for artifact in self.artifacts:
            for parent in artifact.parents:
                typed[parent, artifact.type].append(artifact)
        return dict(typed)

    def specifications_of(self, story: Artifact) -> list[str]:
        """Ids of the story's specifications: those it names and those naming it as parent."""
        ids = list(story.spec_refs)
        ids += [c.gxp_id for c in self.children_of(story, "SPEC")]
        return list(dict.fromkeys(ids))

    def tests_of(self, story: Artifact) -> list[Artifact]:
        """TC documents tracing to the story directly or through one of its specifications."""
        tests = self.children_of(story, "TC")
        for spec_id in self.specifications_of(story):
            spec = self.get(spec_id)
            if spec is not None:
                tests += self.children_of(spec, "TC")
        return list({id(t): t for t in tests}.values())

    def count(self, artifact: Artifact, name: str) -> int | None:
        """Derived counts for the declarative rules; None: `name` is not a derived count."""
        if name == "acceptance_criteria":
            return artifact.acceptance_criteria
        if name == "test_scenarios":
            if artifact.type == "US":
                return artifact.scenarios + len(self.tests_of(artifact))
            return artifact.scenarios
        if name == "implementing_specifications":
            return len(self.specifications_of(artifact))
        if name == "stories":
            return self._count_children(artifact, "US")
        if name == "tests":
            return self._count_children(artifact, "TC")
        return None

    @cached_property
    def traced_to_requirement(self) -> set[str]:
        """Ids from which the parent links lead up to an existing requirement (no cycles)."""
        traced: set[str] = set()
        stack = [a.gxp_id for a in self.artifacts if a.type == "REQ"]
        seen: set[str] = set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            traced.add(current)
            for child in self.children.get(current, ()):
                stack.append(self.artifacts[child].gxp_id)
        # Specifications a story names are traced through that story too.
        for artifact in self.artifacts:
            if artifact.type == "US" and artifact.gxp_id in traced:
                for spec_id in artifact.spec_refs:
                    if spec_id not in traced and spec_id in self.by_id:
                        traced.add(spec_id)
                        stack.append(spec_id)
        while stack:
            current = stack.pop()
            for child in self.children.get(current, ()):
                child_id = self.artifacts[child].gxp_id
                if child_id not in traced:
                    traced.add(child_id)
                    stack.append(child_id)
        return traced
