"""Stable identities of findings: the same problem in two scans has the same fingerprint.

A fingerprint is a hash of the rule id and the *identity keys* of the finding's location, each
normalized. It survives rescans: line numbers that shift, reworded messages, counts and version
lists in the details never change it. Every engine gets it for free: `Finding` computes it from
its rule id and location (see scanner/engine.py), so engines only need to put the thing a finding
is about under one of the keys below.

- `artifactId`: a GxP document (repository scans), trimmed;
- `file` / `path`: a file, when no `artifactId` names the document; POSIX separators, no
  leading `./`, no repeated `/`;
- `field`: the front matter field a repository finding is about, trimmed;
- `resourceId`: an Azure resource id or a Microsoft Graph path; lower case (ARM ids ignore
  case), no trailing `/`;
- `software`: a piece of software (`{"ecosystem", "name", ...}`): ecosystem and name in lower
  case, never its version (an upgrade that is still vulnerable is the same finding);
- `subject`, `package`, `mount`, `interface`, `port`, `user`, `setting`: what a host finding is
  about, trimmed.

Everything else in a location (line, column, names shown to people, counts, versions,
vulnerability lists) is left out on purpose.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

# Bump when the rules above change: fingerprints of different versions never match.
VERSION = "1"
SARIF_KEY = f"scanFinding/v{VERSION}"
_REPEATED_SLASHES = re.compile(r"/{2,}")
_HOST_KEYS = ("subject", "package", "mount", "interface", "port", "user", "setting")


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def normalize_path(path: Any) -> str:
    text = _text(path).replace("\\", "/")
    text = _REPEATED_SLASHES.sub("/", text)
    while text.startswith("./"):
        text = text[2:]
    return text


def normalize_resource_id(resource_id: Any) -> str:
    return _text(resource_id).rstrip("/").lower()


def identity_keys(location: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The normalized (key, value) pairs of a location that make up a finding's identity."""
    keys: list[tuple[str, str]] = []
    artifact = _text(location.get("artifactId"))
    if artifact:
        keys.append(("artifactId", artifact))
    else:
        path = normalize_path(location.get("file") or location.get("path"))
        if path:
            keys.append(("file", path))
    field = _text(location.get("field"))
    if field:
        keys.append(("field", field))
    resource = normalize_resource_id(location.get("resourceId"))
    if resource:
        keys.append(("resourceId", resource))
    software = location.get("software")
    if isinstance(software, Mapping):
        name = _text(software.get("name")).lower()
        if name:
            keys.append(("software", f"{_text(software.get('ecosystem')).lower()}|{name}"))
    for key in _HOST_KEYS:
        value = _text(location.get(key))
        if value:
            keys.append((key, value))
    return keys


def fingerprint(rule_id: str, location: Mapping[str, Any]) -> str:
    """The finding's stable identity: 32 hex digits."""
    # Unit and record separators cannot occur in ids, paths or field names worth telling apart.
    parts = [VERSION, rule_id.strip()]
    parts += [f"{key}\x1f{value}" for key, value in identity_keys(location)]
    return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()[:32]
