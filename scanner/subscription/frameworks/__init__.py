"""Compliance frameworks as data: each one's controls (id, section, profile level, automated or
manual assessment, our own short title) in a YAML file next to this module. The rule catalogue
validates its `cis` ids against the CIS Azure list; compliance reports are built from them.

A framework file is checked when it is loaded: unique string ids made of dotted numbers, every
control in a declared section whose id is the control's id prefix, levels 1 or 2."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

_HERE = Path(__file__).parent
# Framework key (as the API names it) -> its file.
FRAMEWORK_FILES = {"cis-azure": _HERE / "cis_azure_v3.0.0.yaml"}
_DOTTED = r"^\d+(\.\d+)*$"


class FrameworkError(ValueError):
    """A framework file is malformed, or a framework key is unknown."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(pattern=_DOTTED)
    title: StrictStr = Field(min_length=3)


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(pattern=_DOTTED)
    section: StrictStr = Field(pattern=_DOTTED)
    level: Literal[1, 2]
    assessment: Literal["automated", "manual"]
    title: StrictStr = Field(min_length=8)

    @model_validator(mode="after")
    def _in_its_section(self) -> Control:
        if not self.id.startswith(self.section + "."):
            raise ValueError(f"control {self.id} does not sit under section {self.section}")
        return self


class _FrameworkFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    framework: StrictStr
    name: StrictStr
    version: StrictStr
    sections: list[Section] = Field(min_length=1)
    controls: list[Control] = Field(min_length=1)


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    version: str
    sections: tuple[Section, ...]
    controls: tuple[Control, ...]

    @property
    def title(self) -> str:
        return f"{self.name} v{self.version}"

    def control_ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.controls)

    def section_title(self, section_id: str) -> str:
        return next((s.title for s in self.sections if s.id == section_id), section_id)


def parse(text: str, key: str) -> Framework:
    """A framework from its YAML text; raises FrameworkError when it is malformed."""
    try:
        data = _FrameworkFile.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise FrameworkError(f"framework {key}: {exc}") from exc
    if data.framework != key:
        raise FrameworkError(f"framework file of {key} names itself {data.framework}")
    sections = {s.id for s in data.sections}
    if len(sections) != len(data.sections):
        raise FrameworkError(f"framework {key}: a section is listed twice")
    seen: set[str] = set()
    for control in data.controls:
        if control.id in seen:
            raise FrameworkError(f"framework {key}: control {control.id} is listed twice")
        if control.section not in sections:
            raise FrameworkError(
                f"framework {key}: control {control.id} names unknown section {control.section}"
            )
        seen.add(control.id)
    return Framework(
        key=key,
        name=data.name,
        version=data.version,
        sections=tuple(data.sections),
        controls=tuple(data.controls),
    )


def known_frameworks() -> tuple[str, ...]:
    return tuple(FRAMEWORK_FILES)


@cache
def framework(key: str) -> Framework:
    """The framework `key` (e.g. "cis-azure"); FrameworkError names the known ones otherwise."""
    path = FRAMEWORK_FILES.get(key)
    if path is None:
        raise FrameworkError(f"unknown framework {key!r} (known: {', '.join(known_frameworks())})")
    return parse(path.read_text(encoding="utf-8"), key)


def cis_azure() -> Framework:
    """The CIS Microsoft Azure Foundations Benchmark the subscription rules map to."""
    return framework("cis-azure")


__all__ = ["Control", "Framework", "FrameworkError", "Section", "cis_azure", "framework"]
