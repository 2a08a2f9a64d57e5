"""App Service sites and their web configuration (CIS section 9), runtime stacks (end of
life, known CVEs). Site settings come from the sites, the rest from Resource Graph's
appserviceresources table (`microsoft.web/sites/config`), collected with the sites."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import (
    VULNERABILITIES,
    WEB_CONFIGS,
    Inventory,
    children,
    dig,
)
from scanner.subscription.rules.base import (
    Hit,
    check,
    describe_vulnerabilities,
    known_vulnerabilities,
    software_details,
)
from scanner.subscription.software import runtime_software, runtime_stacks, version_tuple

# Oldest runtime line still supported by its maintainers, as data (at rule authoring,
# 2026; update as runtimes reach end of life). Older lines get no security fixes.
MINIMUM_SUPPORTED: dict[str, tuple[int, ...]] = {
    "python": (3, 10),
    "node": (22,),
    "php": (8, 2),
    "dotnet": (8,),
    "java": (8,),
}


@check("APP-008", needs=[WEB_CONFIGS, VULNERABILITIES])
def outdated_stacks(inventory: Inventory) -> Iterable[Hit]:
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


@check("APP-009", needs=[WEB_CONFIGS, VULNERABILITIES])
def vulnerable_stacks(inventory: Inventory) -> Iterable[Hit]:
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


PUBLISHING_POLICIES = children("microsoft.web/sites", "basicPublishingCredentialsPolicies")


@check("APP-011", needs=[PUBLISHING_POLICIES])
def basic_publishing_credentials(inventory: Inventory) -> Iterable[Hit]:
    """One finding per site naming the endpoints (ftp, scm) that still take basic credentials;
    `allow` is true by default, so only an explicit false closes an endpoint."""
    allowed: dict[str, list[str]] = {}
    for policy in inventory.section(PUBLISHING_POLICIES) or []:
        site = str(policy.get("parentId", ""))
        endpoints = allowed.setdefault(site, [])
        if dig(policy, "properties.allow") is not False:
            endpoints.append(str(policy.get("name", "?")))
    for site, endpoints in sorted(allowed.items()):
        if endpoints:
            yield Hit(
                subject=site,
                name=site.rsplit("/", 1)[-1],
                message=f"basic authentication is allowed for {', '.join(sorted(endpoints))}",
                details={"endpoints": sorted(endpoints)},
            )
