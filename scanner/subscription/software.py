"""Software named by the inventory, as (ecosystem, name, version) for OSV: AKS Kubernetes
versions, App Service runtime stacks, VM images from catalogues OSV tracks. Pure functions.

OSV ecosystems used here: `Go` / `k8s.io/kubernetes` for Kubernetes (its advisories are filed
against the Go module), `Bitnami` for runtime stacks and Bitnami marketplace images (the Bitnami
vulnerability database covers node, php, python, dotnet, ... and its packaged applications).
App Service names a runtime line (`PYTHON|3.11`), not a patch release, so those queries are
made at line level. Host scans add their own packages (e.g. `Debian:12` / `openssl` / version).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.subscription.inventory import dig

_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class SoftwareRef:
    """A piece of software OSV can be asked about."""

    ecosystem: str
    name: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.ecosystem}|{self.name}|{self.version}"

    def as_dict(self) -> dict[str, str]:
        return {"ecosystem": self.ecosystem, "name": self.name, "version": self.version}

    @classmethod
    def of(cls, value: Mapping[str, Any] | tuple[str, str, str]) -> SoftwareRef:
        if isinstance(value, tuple):
            return cls(*value)
        return cls(str(value["ecosystem"]), str(value["name"]), str(value["version"]))


def version_tuple(text: str) -> tuple[int, ...]:
    """Leading numeric components of a version string: `3.11` -> (3, 11), `~18` -> (18,)."""
    match = _VERSION.search(text or "")
    if not match:
        return ()
    return tuple(int(part) for part in match.groups() if part is not None)


# -- AKS ----------------------------------------------------------------------------------------


def kubernetes_version(cluster: Mapping[str, Any]) -> str | None:
    version = dig(cluster, "properties.currentKubernetesVersion") or dig(
        cluster, "properties.kubernetesVersion"
    )
    return str(version) if version else None


def kubernetes_software(cluster: Mapping[str, Any]) -> SoftwareRef | None:
    version = kubernetes_version(cluster)
    if not version or len(version_tuple(version)) < 2:
        return None
    return SoftwareRef("Go", "k8s.io/kubernetes", version.lstrip("v"))


# -- App Service --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeStack:
    """A runtime an app runs on: `python` 3.11, `node` 18, `php` 8.2, `dotnet` 8, `java` 17."""

    name: str
    version: str
    setting: str  # where it was read, e.g. linuxFxVersion


_FX_NAMES = {
    "python": "python",
    "node": "node",
    "php": "php",
    "dotnetcore": "dotnet",
    "dotnet": "dotnet",
    "java": "java",
}
_WINDOWS_SETTINGS = {
    "pythonVersion": "python",
    "nodeVersion": "node",
    "phpVersion": "php",
    "javaVersion": "java",
}


def runtime_stacks(config: Mapping[str, Any]) -> list[RuntimeStack]:
    """The runtimes a site's web config names (linuxFxVersion, or the Windows settings)."""
    stacks: list[RuntimeStack] = []
    for setting in ("linuxFxVersion", "windowsFxVersion"):
        fx = dig(config, f"properties.{setting}")
        if isinstance(fx, str) and "|" in fx:
            kind, _, version = fx.partition("|")
            name = _FX_NAMES.get(kind.strip().casefold())
            if name and version_tuple(version):
                stacks.append(RuntimeStack(name, version.strip(), setting))
    if stacks:
        return stacks
    for setting, name in _WINDOWS_SETTINGS.items():
        value = dig(config, f"properties.{setting}")
        if isinstance(value, str) and value.strip() and version_tuple(value):
            stacks.append(RuntimeStack(name, value.strip().lstrip("~"), setting))
    return stacks


def runtime_software(stack: RuntimeStack) -> SoftwareRef:
    parts = version_tuple(stack.version)
    return SoftwareRef("Bitnami", stack.name, ".".join(str(p) for p in parts))


# -- VM images ----------------------------------------------------------------------------------


def vm_image(vm: Mapping[str, Any]) -> dict[str, str]:
    image = dig(vm, "properties.storageProfile.imageReference")
    if not isinstance(image, dict):
        return {}
    return {k: str(v) for k, v in image.items() if isinstance(v, str | int)}


def vm_image_software(vm: Mapping[str, Any]) -> SoftwareRef | None:
    """Bitnami marketplace images name an application and its version (e.g. wordpress 6.1.1)."""
    image = vm_image(vm)
    if image.get("publisher", "").casefold() != "bitnami":
        return None
    version = image.get("exactVersion") or image.get("version", "")
    offer = image.get("offer", "")
    if not offer or not version or version.casefold() == "latest" or not version_tuple(version):
        return None
    return SoftwareRef("Bitnami", offer.casefold(), version)


# -- all of it ------------------------------------------------------------------------------------


def software_in(
    clusters: Iterable[Mapping[str, Any]],
    web_configs: Iterable[Mapping[str, Any]],
    vms: Iterable[Mapping[str, Any]],
) -> list[SoftwareRef]:
    """Every distinct software reference in the inventory: the OSV queries of a scan grow
    with distinct (name, version) pairs, not with the number of resources."""
    found: set[SoftwareRef] = set()
    for cluster in clusters:
        ref = kubernetes_software(cluster)
        if ref:
            found.add(ref)
    for config in web_configs:
        found.update(runtime_software(stack) for stack in runtime_stacks(config))
    for vm in vms:
        ref = vm_image_software(vm)
        if ref:
            found.add(ref)
    return sorted(found)
