"""Key Vaults (CIS section 3.3): the vault's own properties are data rules in catalogue.yaml;
the checks over keys and secrets (per-vault ARM reads) and private endpoints register here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.subscription.inventory import Inventory, children, dig, resources
from scanner.subscription.rules.base import Hit, check
from scanner.subscription.rules.private_link import private_endpoint_rule

VAULT = "microsoft.keyvault/vaults"
KEYS = children(VAULT, "keys")
SECRETS = children(VAULT, "secrets")


def _rbac_by_vault(inventory: Inventory) -> dict[str, bool]:
    """Vault id (lower case) -> whether its data plane uses Azure RBAC. The API's default for
    an absent enableRbacAuthorization is false (access policies)."""
    rbac: dict[str, bool] = {}
    for vault in inventory.resources(VAULT):
        enabled = dig(vault, "properties.enableRbacAuthorization") is True
        rbac[str(vault.get("id", "")).casefold()] = enabled
    return rbac


def _enabled(item: Mapping[str, Any]) -> bool:
    # attributes.enabled defaults to true; a disabled key or secret cannot be used.
    return dig(item, "properties.attributes.enabled") is not False


def _without_expiry(section: str, rbac: bool, what: str) -> Any:
    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        rbac_by_vault = _rbac_by_vault(inventory)
        for item in inventory.section(section) or []:
            vault = str(item.get("parentId", "")).casefold()
            if vault not in rbac_by_vault or rbac_by_vault[vault] != rbac or not _enabled(item):
                continue
            # attributes.exp: expiry in seconds since 1970-01-01 UTC; absent = never expires.
            if dig(item, "properties.attributes.exp") in (None, "", 0):
                yield Hit(
                    subject=str(item.get("id", "")),
                    name=f"{item.get('parentName', '')}/{item.get('name', '')}",
                    message=f"enabled {what} has no expiration date",
                )

    return evaluate


check("KV-004", needs=[resources(VAULT), KEYS])(_without_expiry(KEYS, True, "key"))
check("KV-005", needs=[resources(VAULT), KEYS])(_without_expiry(KEYS, False, "key"))
check("KV-006", needs=[resources(VAULT), SECRETS])(_without_expiry(SECRETS, True, "secret"))
check("KV-007", needs=[resources(VAULT), SECRETS])(_without_expiry(SECRETS, False, "secret"))


check("KV-008", needs=[resources(VAULT)])(private_endpoint_rule(VAULT, "vault"))


@check("KV-009", needs=[KEYS])
def key_rotation(inventory: Inventory) -> Iterable[Hit]:
    for key in inventory.section(KEYS) or []:
        if not _enabled(key):
            continue
        actions = dig(key, "properties.rotationPolicy.lifetimeActions")
        # action.type is `rotate` or `notify` in ARM (`Rotate`/`Notify` in the data plane):
        # only a rotate action renews the key.
        rotates = isinstance(actions, list) and any(
            str(dig(action, "action.type") or "").casefold() == "rotate" for action in actions
        )
        if not rotates:
            yield Hit(
                subject=str(key.get("id", "")),
                name=f"{key.get('parentName', '')}/{key.get('name', '')}",
                message="the key has no rotation policy that rotates it automatically",
            )
