"""Private endpoint connections as ARM reports them on a resource (storage accounts, Key Vaults,
Cosmos DB accounts, SQL servers): `properties.privateEndpointConnections[*]`, each with
`properties.privateLinkServiceConnectionState.status` (Approved, Pending, Rejected,
Disconnected). Only an approved connection carries traffic: a pending or rejected one is a
request, not a private endpoint in use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.subscription.inventory import Inventory, dig
from scanner.subscription.rules.base import Check, Hit


def connection_states(resource: Mapping[str, Any]) -> list[str]:
    """The status of each private endpoint connection of a resource, as ARM spells it."""
    connections = dig(resource, "properties.privateEndpointConnections")
    if not isinstance(connections, list):
        return []
    states = []
    for connection in connections:
        status = dig(connection, "properties.privateLinkServiceConnectionState.status")
        states.append(str(status or "unknown"))
    return states


def has_approved_connection(resource: Mapping[str, Any]) -> bool:
    return any(state.casefold() == "approved" for state in connection_states(resource))


def describe_connections(resource: Mapping[str, Any]) -> str:
    states = connection_states(resource)
    if not states:
        return "no private endpoint connection"
    return "private endpoint connection(s) " + ", ".join(sorted(states)) + ", none approved"


def private_endpoint_rule(resource_type: str, noun: str) -> Check:
    """The check of a "reached only through a private endpoint" rule over `resource_type`:
    every resource without an approved connection is a hit (`noun` names it in the message)."""

    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        for resource in inventory.resources(resource_type):
            if not has_approved_connection(resource):
                yield Hit.of(
                    resource,
                    f"the {noun} is not reached through a private endpoint "
                    f"({describe_connections(resource)})",
                )

    return evaluate
