"""App Service sites and their web configuration (CIS section 9), runtime stacks (end of
life, known CVEs). Site settings come from the sites, the rest from Resource Graph's
appserviceresources table (`microsoft.web/sites/config`), collected with the sites."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import VULNERABILITIES, WEB_CONFIGS, Inventory
from scanner.subscription.rules.base import (
    Hit,
    Rule,
    describe_vulnerabilities,
    known_vulnerabilities,
    property_rule,
    software_details,
)
from scanner.subscription.software import runtime_software, runtime_stacks, version_tuple

SITE = "microsoft.web/sites"

# Oldest runtime line still supported by its maintainers, as data (at rule authoring,
# 2026; update as runtimes reach end of life). Older lines get no security fixes.
MINIMUM_SUPPORTED: dict[str, tuple[int, ...]] = {
    "python": (3, 10),
    "node": (22,),
    "php": (8, 2),
    "dotnet": (8,),
    "java": (8,),
}
_CIS_BY_RUNTIME = {"php": "9.6", "python": "9.7", "java": "9.8"}


def _outdated_stacks(inventory: Inventory) -> Iterable[Hit]:
    for config in inventory.section(WEB_CONFIGS) or []:
        for stack in runtime_stacks(config):
            minimum = MINIMUM_SUPPORTED.get(stack.name)
            have = version_tuple(stack.version)
            if minimum and have and have[: len(minimum)] < minimum:
                ref = runtime_software(stack)
                yield Hit(
                    subject=str(config.get("siteId") or config.get("id", "")),
                    name=str(config.get("siteName") or config.get("name", "")),
                    message=f"runs {stack.name} {stack.version} ({stack.setting}); the "
                    f"oldest supported line is {'.'.join(map(str, minimum))}",
                    details=software_details(inventory, ref),
                )


def _vulnerable_stacks(inventory: Inventory) -> Iterable[Hit]:
    for config in inventory.section(WEB_CONFIGS) or []:
        for stack in runtime_stacks(config):
            ref = runtime_software(stack)
            vulns = known_vulnerabilities(inventory, ref)
            if vulns:
                yield Hit(
                    subject=str(config.get("siteId") or config.get("id", "")),
                    name=str(config.get("siteName") or config.get("name", "")),
                    message=f"{stack.name} {stack.version} has {len(vulns)} known "
                    f"vulnerabilities: {describe_vulnerabilities(vulns)}",
                    details={"software": ref.as_dict(), "vulnerabilities": vulns},
                )


_CONFIG = {"section": WEB_CONFIGS, "subject_path": "siteId", "family": "appservice"}

RULES = [
    property_rule(
        id="APP-001",
        title="App Service app accepts plain HTTP",
        severity="high",
        family="appservice",
        resource_type=SITE,
        passes_if=[{"path": "properties.httpsOnly", "equals": True}],
        message="HTTPS Only is off",
        description="Without HTTPS Only, clients can reach the app over unencrypted HTTP.",
        remediation="Turn on HTTPS Only (az webapp update --https-only true).",
        cis=["9.2"],
    ),
    property_rule(
        id="APP-002",
        title="App Service app accepts TLS versions below 1.2",
        severity="medium",
        passes_if=[{"path": "properties.minTlsVersion", "at_least": "1.2", "missing": "pass"}],
        message="minimum TLS version is below 1.2",
        description="TLS 1.0 and 1.1 have known weaknesses and are deprecated.",
        remediation="Set the app's minimum TLS version to 1.2.",
        cis=["9.3"],
        **_CONFIG,  # type: ignore[arg-type]
    ),
    property_rule(
        id="APP-003",
        title="App Service app does not require client certificates",
        severity="low",
        family="appservice",
        resource_type=SITE,
        passes_if=[{"path": "properties.clientCertEnabled", "equals": True}],
        message="incoming client certificates are not required",
        description="Mutual TLS lets only clients holding a valid certificate reach the app.",
        remediation="Set 'Client certificate mode' to Require where the callers can present "
        "certificates.",
        cis=["9.4"],
    ),
    property_rule(
        id="APP-004",
        title="App Service app has no managed identity",
        severity="low",
        family="appservice",
        resource_type=SITE,
        passes_if=[{"path": "identity.type", "not_in": ["None"]}],
        message="no managed identity is assigned",
        description="Without a managed identity the app keeps credentials for other services "
        "in its settings or code.",
        remediation="Assign a system- or user-assigned managed identity and use it for "
        "access to Key Vault, storage and databases.",
        cis=["9.5"],
    ),
    property_rule(
        id="APP-005",
        title="App Service app does not use HTTP/2",
        severity="low",
        passes_if=[{"path": "properties.http20Enabled", "equals": True}],
        message="HTTP/2 is off",
        description="HTTP/2 brings protocol-level fixes and head-of-line blocking relief; CIS "
        "recommends the latest HTTP version.",
        remediation="Set 'HTTP version' to 2.0 in the app's configuration.",
        cis=["9.9"],
        **_CONFIG,  # type: ignore[arg-type]
    ),
    property_rule(
        id="APP-006",
        title="App Service app allows plain FTP deployment",
        severity="medium",
        passes_if=[{"path": "properties.ftpsState", "in": ["Disabled", "FtpsOnly"]}],
        message="FTP state allows unencrypted FTP",
        description="Plain FTP sends deployment credentials and content unencrypted.",
        remediation="Set 'FTP state' to Disabled (or FTPS only).",
        cis=["9.10"],
        **_CONFIG,  # type: ignore[arg-type]
    ),
    property_rule(
        id="APP-007",
        title="App Service app has remote debugging enabled",
        severity="medium",
        passes_if=[
            {"path": "properties.remoteDebuggingEnabled", "equals": False, "missing": "pass"}
        ],
        message="remote debugging is on",
        description="Remote debugging opens extra ports and is meant for short sessions only.",
        remediation="Turn remote debugging off.",
        frameworks={"Microsoft cloud security benchmark": ("PV-2",)},
        **_CONFIG,  # type: ignore[arg-type]
    ),
    Rule(
        id="APP-008",
        title="App Service app runs an unsupported runtime version",
        severity="medium",
        family="appservice",
        description="Runtime lines past their end of life get no security fixes.",
        remediation="Move the app to a supported runtime version in its stack settings.",
        cis=tuple(sorted(set(_CIS_BY_RUNTIME.values()))),
        needs=(WEB_CONFIGS, VULNERABILITIES),
        check=_outdated_stacks,
    ),
    Rule(
        id="APP-009",
        title="App Service runtime stack has known vulnerabilities",
        severity="high",
        family="appservice",
        description="The runtime line the app runs on has published vulnerabilities (OSV).",
        remediation="Move the app to a runtime version that fixes them.",
        cis=(),
        needs=(WEB_CONFIGS, VULNERABILITIES),
        check=_vulnerable_stacks,
        frameworks={"Microsoft cloud security benchmark": ("PV-6",)},
    ),
]
