"""Azure Container Registry: the registry's private endpoints. The other registry rules
(admin user, network access, anonymous pull, content trust, quarantine, encryption) are data
rules in catalogue.yaml."""

from __future__ import annotations

from scanner.subscription.inventory import resources
from scanner.subscription.rules.base import check
from scanner.subscription.rules.private_link import private_endpoint_rule

REGISTRY = "microsoft.containerregistry/registries"

check("ACR-004", needs=[resources(REGISTRY)])(private_endpoint_rule(REGISTRY, "registry"))
