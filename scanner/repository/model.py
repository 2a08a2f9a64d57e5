"""The GxP artifact model: types and id scheme (artifact_schema.yaml), one parsed document, and
the compact artifact index that travels between the scan's activities by Blob reference.

The index is columnar and positional so 10,000 artifacts stay a few MB of JSON: each artifact is
one list (see `ScanIndex.to_json`), the names of the recorded fields are stored once. It also
holds what the next scan needs to reuse it: what it was parsed with (`fingerprint`), the
documents skipped as binary, and how deep the history walk went.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from scanner.repository import frontmatter

SCHEMA_PATH = Path(__file__).with_name("artifact_schema.yaml")
INDEX_VERSION = 2
MAX_TEXT = 200  # characters kept of a field value (titles, approvers) in the index
_SPEC_REF = re.compile(r"\bSPEC-[0-9]+(?:-[0-9]+)*\b")


@dataclass(frozen=True)
class ArtifactType:
    code: str
    name: str
    id_pattern: re.Pattern[str]
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    types: dict[str, ArtifactType]
    vocabularies: dict[str, tuple[str, ...]]
    parent_field: str
    spec_fields: tuple[str, ...]
    acceptance_field: str
    scenarios_field: str
    body_sections: dict[str, tuple[str, ...]]
    section_titles: dict[str, str]  # lower-case heading -> key of body_sections

    def type_of(self, gxp_id: str) -> str | None:
        prefix, dash, _ = gxp_id.partition("-")  # letters, then a dash
        code = prefix.upper() if dash and prefix.isascii() and prefix.isalpha() else None
        return code if code in self.types else None


@lru_cache(maxsize=1)
def schema() -> Schema:
    raw = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    types = {
        code: ArtifactType(
            code=code,
            name=str(spec["name"]),
            id_pattern=re.compile(spec["id_pattern"]),
            parents=tuple(spec.get("parents") or ()),
        )
        for code, spec in raw["types"].items()
    }
    links = raw["link_fields"]
    return Schema(
        types=types,
        vocabularies={k: tuple(v) for k, v in raw.items() if k.endswith("_values")},
        parent_field=str(links["parent"]),
        spec_fields=tuple(links["specifications"]),
        acceptance_field=str(links["acceptance_criteria"]),
        scenarios_field=str(links["test_scenarios"]),
        body_sections={k: tuple(v) for k, v in raw["body_sections"].items()},
        section_titles={
            str(title).lower(): key
            for key, titles in raw["body_sections"].items()
            for title in titles
        },
    )


def scalar_text(value: Any) -> str | None:
    """A front matter value as text, or None for lists, mappings and nulls."""
    if type(value) is str:  # nearly always
        return value.strip()
    if value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def is_filled(value: Any) -> bool:
    if type(value) is str:
        return bool(value.strip())
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return len(value) > 0
    return True


def count_of(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, list):
        return sum(1 for v in value if is_filled(v))
    return 1 if is_filled(value) else 0


def ids_in(value: Any) -> list[str]:
    """Ids named by a link field: a string or a list of strings."""
    if isinstance(value, list):
        return [t for t in (scalar_text(v) for v in value) if t]
    text = scalar_text(value)
    return [text] if text else []


@dataclass(slots=True)
class Artifact:
    """One GxP document as the rules see it.

    `present` holds the recorded fields that are set and not empty; `values` the text of the
    recorded value fields; `lines` the file line of each recorded field found (0: absent).
    `last_change` is the commit that last changed the document, within the walked history
    (None: older than the walk).
    """

    gxp_id: str
    type: str | None
    path: str
    parents: tuple[str, ...] = ()
    title: str = ""
    values: dict[str, str] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    lines: dict[str, int] = field(default_factory=dict)
    acceptance_criteria: int = 0
    scenarios: int = 0
    spec_refs: tuple[str, ...] = ()
    last_change: str | None = None

    def line_of(self, name: str | None) -> int:
        if name and self.lines.get(name):
            return self.lines[name]
        return self.lines.get("gxp_id") or 1

    def value(self, name: str) -> str | None:
        return self.values.get(name)


class Interner:
    """One shared object for equal field sets and field tables: documents made from the same
    template have the same fields (and often the same lines and values), so 100,000 artifacts
    hold a few hundred of them instead of 100,000 each. Shared tables are never changed."""

    def __init__(self) -> None:
        self._names: dict[frozenset[str], frozenset[str]] = {}
        self._mappings: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

    def names(self, names: frozenset[str]) -> frozenset[str]:
        return self._names.setdefault(names, names)

    def mapping(self, mapping: dict[str, Any]) -> dict[str, Any]:
        return self._mappings.setdefault(tuple(mapping.items()), mapping)


@dataclass(frozen=True)
class FieldTable:
    """Which front matter fields the index records: presence and line of `keys`, the text of
    `values`. Built from the schema and the rule catalogue (collect once, evaluate many)."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    key_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_set", frozenset(self.keys))


def document_artifact(
    path: str, text: str, fields: FieldTable, shared: Interner | None = None
) -> tuple[Artifact | None, tuple[str, int] | None]:
    """(artifact, None) for a GxP document, (None, (message, line)) for a GxP document whose
    front matter cannot be read, (None, None) for any other file. Never raises. Field sets
    and tables are shared through `shared` when given."""
    parsed = frontmatter.parse(text)
    if parsed.error is not None:
        # Only documents that look like GxP artifacts are reported (a Jekyll page is not ours).
        if "gxp_id" in parsed.raw or "parent_id" in parsed.raw:
            return None, (parsed.error, parsed.error_line)
        return None, None
    data = parsed.data
    if data is None or "gxp_id" not in data:
        return None, None
    s = schema()
    raw_id = data.get("gxp_id")
    id_text = scalar_text(raw_id)
    if id_text is None:
        id_text = "" if raw_id is None else f"<{type(raw_id).__name__}>"
    gxp_id: str = id_text
    filled = []
    for name in fields.key_set.intersection(data):
        value = data[name]
        if value.strip() if type(value) is str else is_filled(value):
            filled.append(name)
    present = frozenset(filled)
    values = {}
    for name in fields.values:
        value_text = scalar_text(data.get(name))
        if value_text:
            values[name] = value_text[:MAX_TEXT]
    key_lines = parsed.key_lines
    lines = {k: key_lines[k] for k in fields.key_set.intersection(key_lines)}
    if shared is not None:
        present = shared.names(present)
        values = shared.mapping(values)
        lines = shared.mapping(lines)

    body_sections = frontmatter.titled_sections(parsed.body, s.section_titles)
    criteria = count_of(data.get(s.acceptance_field)) + len(
        frontmatter.list_items(body_sections.get("acceptance_criteria", []))
    )
    scenarios = count_of(data.get(s.scenarios_field)) + len(
        frontmatter.list_items(body_sections.get("test_scenarios", []))
    )
    refs: list[str] = []
    for name in s.spec_fields:
        if name in data:
            refs.extend(ids_in(data[name]))
    if "specifications" in body_sections:
        refs.extend(_SPEC_REF.findall("\n".join(body_sections["specifications"])))
    artifact = Artifact(
        gxp_id=gxp_id,
        type=s.type_of(gxp_id),
        path=path,
        parents=tuple(dict.fromkeys(ids_in(data.get(s.parent_field)))),
        title=(scalar_text(data.get("title")) or "")[:MAX_TEXT],
        values=values,
        present=present,
        lines=lines,
        acceptance_criteria=criteria,
        scenarios=scenarios,
        spec_refs=tuple(dict.fromkeys(refs)),
    )
    return artifact, None


@dataclass(slots=True)
class Problem:
    """A finding made while reading the tree (malformed front matter, oversized, symlink)."""

    rule_id: str
    path: str
    line: int
    message: str


SIZE_PROBLEM = "GXP-PARSE-FILE-SIZE"
SYMLINK_PROBLEM = "GXP-PARSE-SYMLINK"
FRONT_MATTER_PROBLEM = "GXP-PARSE-FRONT-MATTER"


@dataclass(slots=True)
class ScanIndex:
    """Everything the rules evaluate: the artifacts at one commit (in path order), the problems
    met reading the tree (in path order, at most one per path), and the commits of the history
    walk (for suspect links).

    `walked` is how many commits the history walk could see (the whole history, at most the
    limit); `history` keeps the part of it that artifact ranks refer to.
    """

    commit: str
    ref: str
    artifacts: list[Artifact]
    problems: list[Problem] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # rank -> {sha, time}
    files_scanned: int = 0
    binary: list[str] = field(default_factory=list)  # documents skipped as binary, in order
    fields: FieldTable = field(default_factory=lambda: FieldTable((), ()))
    fingerprint: str = ""
    walked: int = 0
    # The newest commits of the history (history.log_entries); stored apart from the index.
    log: list[dict[str, Any]] = field(default_factory=list)
    # Where its artifacts and its history are stored, part by part (stored_index.py), once
    # they are.
    stored: list[tuple[tuple[Artifact, ...], str]] = field(
        default_factory=list, compare=False, repr=False
    )
    stored_history: list[tuple[tuple[dict[str, Any], ...], str]] = field(
        default_factory=list, compare=False, repr=False
    )

    @property
    def skipped(self) -> dict[str, int]:
        oversized = sum(1 for p in self.problems if p.rule_id == SIZE_PROBLEM)
        symlinks = sum(1 for p in self.problems if p.rule_id == SYMLINK_PROBLEM)
        return {"oversized": oversized, "binary": len(self.binary), "symlink": symlinks}

    def counts_by_type(self) -> dict[str, int]:
        counts = {code: 0 for code in schema().types}
        counts["unknown"] = 0
        for artifact in self.artifacts:
            counts[artifact.type or "unknown"] += 1
        return counts

    # -- compact JSON --------------------------------------------------------------------

    def ranks(self) -> dict[str, int]:
        """Position in `history` (0 = newest) of each walked commit."""
        return {commit["sha"]: rank for rank, commit in enumerate(self.history)}

    def rank_of(self, artifact: Artifact, ranks: dict[str, int]) -> int:
        """The history position of the artifact's last change; -1 when older than the walk."""
        return ranks.get(artifact.last_change, -1) if artifact.last_change else -1

    def to_json(self) -> dict[str, Any]:
        fields = self.fields
        key_bit = {k: 1 << i for i, k in enumerate(fields.keys)}
        ranks = self.ranks()
        # Artifacts share their field sets and tables (see `Interner`): each distinct one is
        # encoded once, and the rows share the encoded lists.
        masks: dict[int, int] = {}
        value_rows: dict[int, list[str | None]] = {}
        line_rows: dict[int, list[int]] = {}
        rows = []
        for position, a in enumerate(self.artifacts):
            mask = masks.get(id(a.present))
            if mask is None:
                mask = masks[id(a.present)] = sum(key_bit.get(name, 0) for name in a.present)
            vals = value_rows.get(id(a.values))
            if vals is None:
                vals = value_rows[id(a.values)] = [a.values.get(v) for v in fields.values]
            lines = line_rows.get(id(a.lines))
            if lines is None:
                lines = line_rows[id(a.lines)] = [a.lines.get(k, 0) for k in fields.keys]
            rows.append(
                [
                    a.gxp_id,
                    a.type,
                    position,
                    list(a.parents),
                    a.title,
                    vals,
                    mask,
                    lines,
                    a.acceptance_criteria,
                    a.scenarios,
                    list(a.spec_refs),
                    self.rank_of(a, ranks),
                ]
            )
        return {
            "version": INDEX_VERSION,
            "commit": self.commit,
            "ref": self.ref,
            "keys": list(fields.keys),
            "values": list(fields.values),
            "paths": [a.path for a in self.artifacts],
            "rows": rows,
            "problems": [[p.rule_id, p.path, p.line, p.message] for p in self.problems],
            "history": self.history,
            "walked": self.walked,
            "filesScanned": self.files_scanned,
            "binary": self.binary,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ScanIndex:
        if doc.get("version") != INDEX_VERSION:
            raise ValueError(f"artifact index version {doc.get('version')!r} is not supported")
        keys = tuple(doc["keys"])
        values = tuple(doc["values"])
        fields = FieldTable(keys, values)
        paths = doc["paths"]
        history = doc["history"]
        shared = Interner()
        masks: dict[int, frozenset[str]] = {}
        # Rows read from a stored index share their value and line lists (stored_index): each
        # list becomes its table once (the lists stay alive in `doc`, so their ids are theirs).
        value_tables: dict[int, dict[str, Any]] = {}
        line_tables: dict[int, dict[str, Any]] = {}
        artifacts = []
        for row in doc["rows"]:
            gxp_id, type_, path_i, parents, title, vals, mask, lines, ac, sc, refs, rank = row
            present = masks.get(mask)
            if present is None:
                present = masks[mask] = frozenset(k for i, k in enumerate(keys) if mask >> i & 1)
            value_table = value_tables.get(id(vals))
            if value_table is None:
                value_table = value_tables[id(vals)] = shared.mapping(
                    {n: v for n, v in zip(values, vals, strict=True) if v is not None}
                )
            line_table = line_tables.get(id(lines))
            if line_table is None:
                line_table = line_tables[id(lines)] = shared.mapping(
                    {k: n for k, n in zip(keys, lines, strict=True) if n}
                )
            artifacts.append(
                Artifact(
                    gxp_id=gxp_id,
                    type=type_,
                    path=paths[path_i],
                    parents=tuple(parents),
                    title=title,
                    values=value_table,
                    present=shared.names(present),
                    lines=line_table,
                    acceptance_criteria=ac,
                    scenarios=sc,
                    spec_refs=tuple(refs),
                    last_change=history[rank]["sha"] if rank >= 0 else None,
                )
            )
        return cls(
            commit=doc["commit"],
            ref=doc["ref"],
            artifacts=artifacts,
            problems=[Problem(*p) for p in doc["problems"]],
            history=history,
            files_scanned=doc["filesScanned"],
            binary=doc["binary"],
            fields=fields,
            fingerprint=doc["fingerprint"],
            walked=doc["walked"],
        )
