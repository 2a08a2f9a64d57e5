"""Storage accounts (CIS section 4): the account's own properties are data rules in
catalogue.yaml; checks that compare times, parse durations, join an account to its services'
diagnostic settings or weigh private endpoint connections register here."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from scanner.subscription.inventory import Inventory, children, dig, parse_time, resources
from scanner.subscription.rules.base import Hit, check
from scanner.subscription.rules.private_link import private_endpoint_rule

ACCOUNT = "microsoft.storage/storageaccounts"
DIAGNOSTICS = "providers/Microsoft.Insights/diagnosticSettings"
SERVICE_DIAGNOSTICS = {
    service: children(ACCOUNT, f"{service}Services/default/{DIAGNOSTICS}")
    for service in ("blob", "queue", "table")
}
# The resource-log categories of a storage service: every read, write and delete request.
REQUEST_LOGS = ("StorageRead", "StorageWrite", "StorageDelete")
KEY_AGE = timedelta(days=90)
SAS_LIMIT = timedelta(hours=1)


check("ST-009", needs=[resources(ACCOUNT)])(private_endpoint_rule(ACCOUNT, "account"))


def logged_categories(settings: Iterable[Any]) -> set[str]:
    """The resource-log categories some diagnostic setting sends somewhere. The `allLogs`
    category group covers every category; other groups are not counted."""
    found: set[str] = set()
    for setting in settings:
        for log in dig(setting, "properties.logs") or []:
            if not isinstance(log, dict) or log.get("enabled") is not True:
                continue
            if str(log.get("categoryGroup") or "").casefold() == "alllogs":
                found.update(c.casefold() for c in REQUEST_LOGS)
            elif log.get("category"):
                found.add(str(log["category"]).casefold())
    return found


def _request_logging(service: str) -> Any:
    section = SERVICE_DIAGNOSTICS[service]

    def evaluate(inventory: Inventory) -> Iterable[Hit]:
        by_account: dict[str, list[Any]] = {}
        for setting in inventory.section(section) or []:
            by_account.setdefault(str(setting.get("parentId", "")).casefold(), []).append(setting)
        for account in inventory.resources(ACCOUNT):
            settings = by_account.get(str(account.get("id", "")).casefold(), [])
            logged = logged_categories(settings)
            missing = [c for c in REQUEST_LOGS if c.casefold() not in logged]
            if missing:
                yield Hit.of(
                    account,
                    f"{service} service requests are not logged: no diagnostic setting "
                    f"sends {', '.join(missing)}",
                )

    return evaluate


for _service, _rule_id in (("queue", "ST-012"), ("blob", "ST-013"), ("table", "ST-014")):
    check(_rule_id, needs=[resources(ACCOUNT), SERVICE_DIAGNOSTICS[_service]])(
        _request_logging(_service)
    )


@check("ST-017", needs=[resources(ACCOUNT)])
def access_key_age(inventory: Inventory) -> Iterable[Hit]:
    for account in inventory.resources(ACCOUNT):
        stale = []
        for key in ("key1", "key2"):
            created = parse_time(dig(account, f"properties.keyCreationTime.{key}"))
            # No creation time: the key was never regenerated since Azure began recording it.
            if created is None:
                stale.append(f"{key} (creation time not recorded)")
            elif inventory.now - created > KEY_AGE:
                stale.append(f"{key} ({(inventory.now - created).days} days old)")
        if stale:
            yield Hit.of(
                account,
                f"access keys not regenerated within 90 days: {', '.join(stale)}",
            )


_SPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


def parse_span(text: Any) -> timedelta | None:
    """A .NET TimeSpan as the storage API writes sasExpirationPeriod: `D.HH:MM:SS` (the day
    part optional), e.g. `1.12:05:06`. None for anything else."""
    match = _SPAN.match(str(text).strip()) if isinstance(text, str) else None
    if not match:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@check("ST-018", needs=[resources(ACCOUNT)])
def sas_expiration_policy(inventory: Inventory) -> Iterable[Hit]:
    for account in inventory.resources(ACCOUNT):
        period = dig(account, "properties.sasPolicy.sasExpirationPeriod")
        span = parse_span(period)
        if span is None:
            reason = "no SAS expiration policy" if period in (None, "") else f"period {period!r}"
        elif span > SAS_LIMIT:
            reason = f"SAS may be valid for {period}"
        else:
            continue
        yield Hit.of(
            account,
            f"shared access signatures are not limited to one hour: {reason}",
        )
