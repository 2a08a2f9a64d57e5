"""Azure Database for PostgreSQL and MySQL flexible servers and Cosmos DB accounts (CIS
sections 5.2-5.4): server parameters and firewall rules are data rules in catalogue.yaml; the
private endpoint check registers here."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import Inventory, resources
from scanner.subscription.rules.base import Hit, check
from scanner.subscription.rules.private_link import describe_connections, has_approved_connection

COSMOS = "microsoft.documentdb/databaseaccounts"


@check("DB-014", needs=[resources(COSMOS)])
def cosmos_private_endpoint(inventory: Inventory) -> Iterable[Hit]:
    for account in inventory.resources(COSMOS):
        if not has_approved_connection(account):
            yield Hit(
                subject=str(account.get("id", "")),
                name=str(account.get("name", "")),
                message=f"the account is not reached through a private endpoint "
                f"({describe_connections(account)})",
            )
