"""Azure Database for PostgreSQL and MySQL flexible servers and Cosmos DB accounts (CIS
sections 5.2-5.4): server parameters and firewall rules are data rules in catalogue.yaml; the
private endpoint check registers here."""

from __future__ import annotations

from scanner.subscription.inventory import resources
from scanner.subscription.rules.base import check
from scanner.subscription.rules.private_link import private_endpoint_rule

COSMOS = "microsoft.documentdb/databaseaccounts"

check("DB-014", needs=[resources(COSMOS)])(private_endpoint_rule(COSMOS, "account"))
