"""Azure Container Registry: the registry's private endpoints. The other registry rules
(admin user, network access, anonymous pull, content trust, quarantine, encryption) are data
rules in catalogue.yaml."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import Inventory, resources
from scanner.subscription.rules.base import Hit, check
from scanner.subscription.rules.private_link import describe_connections, has_approved_connection

REGISTRY = "microsoft.containerregistry/registries"


@check("ACR-004", needs=[resources(REGISTRY)])
def no_private_endpoint(inventory: Inventory) -> Iterable[Hit]:
    for registry in inventory.resources(REGISTRY):
        if not has_approved_connection(registry):
            yield Hit(
                subject=str(registry.get("id", "")),
                name=str(registry.get("name", "")),
                message=f"the registry has {describe_connections(registry)}",
            )
