"""Storage, SQL, database and Key Vault rules over the shapes Azure really returns: enum values
that mean "off", defaults when a property is absent, and the alternative spellings the APIs
accept. Payloads start from the published examples (tests/support/azure_fakes/examples/, see
SOURCE.md there) with single fields edited."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.subscription import inventory as inv
from scanner.subscription.inventory import Inventory
from scanner.subscription.rules import all_rules
from scanner.subscription.rules.storage import logged_categories, parse_span

EXAMPLES = Path(__file__).resolve().parents[4] / "tests/support/azure_fakes/examples"
NOW = datetime(2026, 6, 1, tzinfo=UTC)

ACCOUNT = "microsoft.storage/storageaccounts"
SERVER = "microsoft.sql/servers"
VAULT = "microsoft.keyvault/vaults"
COSMOS = "microsoft.documentdb/databaseaccounts"


def example(provider: str, name: str) -> dict[str, Any]:
    document = json.loads((EXAMPLES / provider / name).read_text(encoding="utf-8"))
    return copy.deepcopy(document["responses"]["200"]["body"])


def row(body: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """A Resource Graph row from an ARM GET body: lower-case type, edited properties (None
    removes a property, as an account that never set it)."""
    out = copy.deepcopy(body)
    out["type"] = str(out["type"]).lower()
    for key, value in properties.items():
        if value is None:
            out["properties"].pop(key, None)
        else:
            out["properties"][key] = value
    return out


def child(body: dict[str, Any], parent: dict[str, Any], **properties: Any) -> dict[str, Any]:
    out = row(body, **properties)
    out["parentId"] = parent["id"]
    out["parentName"] = parent["name"]
    return out


def subjects(rule_id: str, sections: dict[str, Any]) -> list[str]:
    inventory = Inventory(load=lambda name: sections.get(name), subscription_id="s", now=NOW)
    return [hit.subject for hit in all_rules()[rule_id].check(inventory)]


# -- storage ---------------------------------------------------------------------------------


def account(**properties: Any) -> dict[str, Any]:
    return row(example("storage", "StorageAccountGetProperties.json"), **properties)


@pytest.mark.parametrize(
    ("value", "finding"),
    [(None, True), (True, True), (False, False)],
)
def test_shared_key_access_absent_means_allowed(value: bool | None, finding: bool) -> None:
    # 2023-05-01: "The default value is null, which is equivalent to true."
    found = subjects("ST-016", {inv.resources(ACCOUNT): [account(allowSharedKeyAccess=value)]})
    assert bool(found) is finding


@pytest.mark.parametrize(
    ("value", "finding"),
    [(None, True), (True, True), (False, False)],
)
def test_cross_tenant_replication_absent_on_old_accounts_means_allowed(
    value: bool | None, finding: bool
) -> None:
    found = subjects(
        "ST-015", {inv.resources(ACCOUNT): [account(allowCrossTenantReplication=value)]}
    )
    assert bool(found) is finding


@pytest.mark.parametrize(
    ("value", "finding"),
    [(None, True), ("Enabled", True), ("Disabled", False), ("SecuredByPerimeter", False)],
)
def test_public_network_access_secured_by_perimeter_is_not_public(
    value: str | None, finding: bool
) -> None:
    found = subjects("ST-008", {inv.resources(ACCOUNT): [account(publicNetworkAccess=value)]})
    assert bool(found) is finding


def test_private_endpoint_counts_only_approved_connections() -> None:
    approved = example("keyvault", "getPrivateEndpointConnection.json")
    pending = copy.deepcopy(approved)
    pending["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"
    accounts = [
        account(privateEndpointConnections=[approved]),
        account(privateEndpointConnections=[pending]),
        account(),
    ]
    for index, item in enumerate(accounts):
        item["id"] += str(index)
    found = subjects("ST-009", {inv.resources(ACCOUNT): accounts})
    assert found == [accounts[1]["id"], accounts[2]["id"]]


def test_access_keys_older_than_90_days_or_never_recorded() -> None:
    fresh = {"key1": "2026-05-01T00:00:00.0000000Z", "key2": "2026-04-01T00:00:00Z"}
    stale = {"key1": "2026-05-01T00:00:00Z", "key2": "2021-03-18T04:42:22.4322836Z"}
    accounts = [account(keyCreationTime=fresh), account(), account(keyCreationTime=None)]
    accounts[0]["id"] += "-fresh"
    accounts[2]["id"] += "-unrecorded"
    found = subjects("ST-017", {inv.resources(ACCOUNT): accounts})
    assert found == [accounts[1]["id"], accounts[2]["id"]]  # the example's keys date from 2021
    accounts[1]["properties"]["keyCreationTime"] = stale
    assert subjects("ST-017", {inv.resources(ACCOUNT): accounts[1:2]}) == [accounts[1]["id"]]


def test_sas_expiration_period_is_a_timespan() -> None:
    assert parse_span("1.12:05:06") is not None
    assert parse_span("01:00:00") == parse_span("0.01:00:00")
    assert parse_span("1 day") is None and parse_span(None) is None
    policies = [
        {"sasExpirationPeriod": "0.01:00:00", "expirationAction": "Log"},
        {"sasExpirationPeriod": "1.00:00:00", "expirationAction": "Block"},
        None,
    ]
    accounts = [account(sasPolicy=p) for p in policies]
    for index, item in enumerate(accounts):
        item["id"] += str(index)
    found = subjects("ST-018", {inv.resources(ACCOUNT): accounts})
    assert found == [accounts[1]["id"], accounts[2]["id"]]


def test_request_logging_needs_read_write_and_delete_or_all_logs() -> None:
    def setting(*logs: dict[str, Any]) -> dict[str, Any]:
        return {"properties": {"logs": list(logs)}}

    every = setting({"categoryGroup": "allLogs", "enabled": True})
    split = setting(
        {"category": "StorageRead", "enabled": True},
        {"category": "StorageWrite", "enabled": True},
        {"category": "StorageDelete", "enabled": False},
    )
    assert {"storageread", "storagewrite", "storagedelete"} <= logged_categories([every])
    assert "storagedelete" not in logged_categories([split])
    assert "storagedelete" in logged_categories(
        [split, setting({"category": "StorageDelete", "enabled": True})]
    )


def test_blob_soft_delete_needs_blob_and_container_retention() -> None:
    parent = account()
    blob = example("storage", "BlobServicesGet.json")  # blob retention on, container absent
    section = inv.children(ACCOUNT, "blobServices/default")
    assert subjects("ST-010", {section: [child(blob, parent)]}) == [parent["id"]]
    both = child(blob, parent, containerDeleteRetentionPolicy={"enabled": True, "days": 7})
    assert subjects("ST-010", {section: [both]}) == []


@pytest.mark.parametrize(
    ("rule_id", "resource", "properties", "finding"),
    [
        ("ST-005", ACCOUNT, {"publicNetworkAccess": "SecuredByPerimeter"}, False),
        ("ST-005", ACCOUNT, {"publicNetworkAccess": None}, True),
        ("ST-007", ACCOUNT, {"minimumTlsVersion": "TLS1_3"}, False),
        ("ST-007", ACCOUNT, {"minimumTlsVersion": None}, True),  # documented default: TLS 1.0
        ("ST-004", ACCOUNT, {"allowBlobPublicAccess": None}, True),
        ("ST-001", ACCOUNT, {"supportsHttpsTrafficOnly": None}, False),  # default true
        ("SQL-002", SERVER, {"publicNetworkAccess": "SecuredByPerimeter"}, False),
        ("SQL-002", SERVER, {"publicNetworkAccess": None}, True),
        ("SQL-003", SERVER, {"minimalTlsVersion": "None"}, True),
        ("SQL-003", SERVER, {"minimalTlsVersion": "1.3"}, False),
        ("KV-003", VAULT, {"publicNetworkAccess": "disabled"}, False),
        ("KV-003", VAULT, {"publicNetworkAccess": "SecuredByPerimeter"}, False),
        ("KV-003", VAULT, {"publicNetworkAccess": "Enabled"}, True),
        ("KV-002", VAULT, {"enableRbacAuthorization": None}, True),  # default: access policies
    ],
)
def test_existing_rules_read_every_spelling_and_default(
    rule_id: str, resource: str, properties: dict[str, Any], finding: bool
) -> None:
    published = {
        ACCOUNT: ("storage", "StorageAccountGetProperties.json"),
        SERVER: ("sql", "ServerGet.json"),
        VAULT: ("keyvault", "getVault.json"),
    }[resource]
    found = subjects(rule_id, {inv.resources(resource): [row(example(*published), **properties)]})
    assert bool(found) is finding


# -- SQL -------------------------------------------------------------------------------------


def server(**properties: Any) -> dict[str, Any]:
    return row(example("sql", "ServerGet.json"), **properties)


FIREWALL = inv.children(SERVER, "firewallRules")


@pytest.mark.parametrize(
    ("start", "end", "rule_id"),
    [("0.0.0.0", "255.255.255.255", "SQL-005"), ("0.0.0.0", "0.0.0.0", "SQL-006")],
)
def test_firewall_rules_only_count_while_public_access_is_on(
    start: str, end: str, rule_id: str
) -> None:
    other = "SQL-006" if rule_id == "SQL-005" else "SQL-005"
    rule = example("sql", "FirewallRuleGet.json")
    for access, finding in (("Enabled", True), (None, True), ("Disabled", False)):
        parent = server(publicNetworkAccess=access)
        firewall = child(rule, parent, startIpAddress=start, endIpAddress=end)
        sections = {inv.resources(SERVER): [parent], FIREWALL: [firewall]}
        assert subjects(rule_id, sections) == ([parent["id"]] if finding else [])
        assert subjects(other, sections) == []  # the two ranges are distinct findings


def test_entra_admin_and_entra_only_come_from_the_servers_settings() -> None:
    # The published ServerGet carries no administrators: the server was not read expanded.
    parent = server()
    admins = inv.children(SERVER, "administrators")
    only = inv.children(SERVER, "azureADOnlyAuthentications/Default")
    listed = child(example("sql", "AdministratorCreateOrUpdate.json"), parent)
    setting = child(example("sql", "AzureADOnlyAuthGet.json"), parent)
    bare = {inv.resources(SERVER): [parent], admins: [], only: []}
    assert subjects("SQL-001", bare) == [parent["id"]]
    assert subjects("SQL-004", bare) == [parent["id"]]
    read = {inv.resources(SERVER): [parent], admins: [listed], only: [setting]}
    assert subjects("SQL-001", read) == [] and subjects("SQL-004", read) == []
    # The setting decides over the server resource's own copy.
    setting["properties"]["azureADOnlyAuthentication"] = False
    expanded = server(administrators={"login": "dba", "azureADOnlyAuthentication": True})
    mixed = {inv.resources(SERVER): [expanded], admins: [], only: [setting]}
    assert subjects("SQL-001", mixed) == [] and subjects("SQL-004", mixed) == [expanded["id"]]


def test_audit_retention_zero_means_forever() -> None:
    parent = server()
    section = inv.children(SERVER, "auditingSettings/default")
    audit = example("sql", "ServerBlobAuditingGet.json")
    to_storage = {"state": "Enabled", "storageEndpoint": "https://audit.blob.core.windows.net/"}
    cases = [(0, False), (90, True), (91, False), (30, True)]
    for days, finding in cases:
        setting = child(audit, parent, retentionDays=days, **to_storage)
        assert bool(subjects("SQL-008", {section: [setting]})) is finding, days
    # Auditing to Log Analytics only keeps its records as long as the workspace does.
    monitor = child(
        audit, parent, state="Enabled", retentionDays=7, isAzureMonitorTargetEnabled=True
    )
    assert subjects("SQL-008", {section: [monitor]}) == []
    # The published example is auditing switched off.
    assert subjects("SQL-007", {section: [child(audit, parent)]}) == [parent["id"]]


def test_tde_state_is_read_under_both_spellings() -> None:
    # No published example of transparentDataEncryption/current could be copied here: the
    # shape follows LogicalDatabaseTransparentDataEncryption of the 2021-11-01 API
    # (properties.state) and the 2014-04-01 one (properties.status).
    section = inv.children("microsoft.sql/servers/databases", "transparentDataEncryption/current")
    base = server()["id"] + "/databases/"

    def tde(database: str, **properties: str) -> dict[str, Any]:
        return {
            "id": base + database + "/transparentDataEncryption/Current",
            "name": "Current",
            "properties": properties,
            "parentId": base + database,
            "parentName": database,
        }

    rows = [
        tde("app", state="Enabled"),
        tde("legacy", status="Enabled"),
        tde("plain", state="Disabled"),
        tde("master", state="Disabled"),  # not encrypted by TDE, left out
    ]
    assert subjects("SQL-010", {section: rows}) == [base + "plain"]


def test_vulnerability_assessment_express_or_classic_with_storage() -> None:
    servers = [server(), server(), server()]
    for index, item in enumerate(servers):
        item["id"] += str(index)
    express = inv.children(SERVER, "sqlVulnerabilityAssessments/default")
    classic = inv.children(SERVER, "vulnerabilityAssessments/default")
    # Inline shapes (SqlVulnerabilityAssessment 2023-08-01, ServerVulnerabilityAssessment
    # 2021-11-01): no published example of these reads is copied here.
    sections = {
        inv.resources(SERVER): servers,
        express: [
            {"properties": {"state": "Enabled"}, "parentId": servers[0]["id"]},
            {"properties": {"state": "Disabled"}, "parentId": servers[1]["id"]},
        ],
        classic: [
            {
                "properties": {
                    "storageContainerPath": "https://va.blob.core.windows.net/va",
                    "recurringScans": {"isEnabled": True, "emails": []},
                },
                "parentId": servers[1]["id"],
            },
            # What a server without the classic configuration returns: an empty setting.
            {"properties": {"recurringScans": {"isEnabled": False}}, "parentId": servers[2]["id"]},
        ],
    }
    assert subjects("SQL-011", sections) == [servers[2]["id"]]


# -- PostgreSQL, MySQL, Cosmos DB --------------------------------------------------------------

MYSQL = inv.children("microsoft.dbformysql/flexibleservers", "configurations")
PG = inv.children("microsoft.dbforpostgresql/flexibleservers", "configurations")


def configuration(provider: str, name: str, value: str) -> dict[str, Any]:
    body = example(provider, "ConfigurationGet.json")
    parent = row(example(provider, "ServerGet.json"))
    body["name"] = name
    return child(body, parent, value=value)


@pytest.mark.parametrize(
    ("value", "finding"),
    [
        ("TLSv1.2", False),
        ("TLSv1.2,TLSv1.3", False),
        ("TLSv1,TLSv1.1,TLSv1.2", True),  # MySQL spells TLS 1.0 "TLSv1"
        ("TLSv1.1,TLSv1.2", True),
    ],
)
def test_mysql_tls_version_list(value: str, finding: bool) -> None:
    found = subjects("DB-010", {MYSQL: [configuration("mysql", "tls_version", value)]})
    assert bool(found) is finding


@pytest.mark.parametrize(("value", "finding"), [("ON", False), ("on", False), ("OFF", True)])
def test_server_parameters_compare_without_case(value: str, finding: bool) -> None:
    found = subjects("DB-009", {MYSQL: [configuration("mysql", "require_secure_transport", value)]})
    assert bool(found) is finding
    found = subjects(
        "DB-001", {PG: [configuration("postgresql", "require_secure_transport", value)]}
    )
    assert bool(found) is finding


def test_postgresql_log_retention_is_a_number_in_a_string() -> None:
    for value, finding in (("3", True), ("4", False), ("7", False), ("", True)):
        found = subjects(
            "DB-004", {PG: [configuration("postgresql", "logfiles.retention_days", value)]}
        )
        assert bool(found) is finding, value


def test_postgresql_firewall_rules_from_the_published_list() -> None:
    document = json.loads((EXAMPLES / "postgresql/FirewallRuleListByServer.json").read_text())
    parent = row(example("postgresql", "ServerGet.json"))
    rules = [child(rule, parent) for rule in document["responses"]["200"]["body"]["value"]]
    section = inv.children("microsoft.dbforpostgresql/flexibleservers", "firewallRules")
    assert subjects("DB-008", {section: rules}) == [parent["id"]]  # rule1 spans every address
    assert subjects("DB-005", {section: rules}) == []
    rules[1]["properties"] = {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}
    assert subjects("DB-005", {section: rules}) == [parent["id"]]


def test_cosmos_local_auth_absent_means_enabled() -> None:
    # No published example of a database account could be copied here: an inline
    # DatabaseAccountGetResults (2024-11-15) with the fields the rules read.
    def cosmos(**properties: Any) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/"
            f"databaseAccounts/ddb{len(properties)}",
            "name": "ddb1",
            "type": COSMOS,
            "properties": {"publicNetworkAccess": "Enabled", "ipRules": [], **properties},
        }

    assert subjects("DB-015", {inv.resources(COSMOS): [cosmos()]})
    assert not subjects("DB-015", {inv.resources(COSMOS): [cosmos(disableLocalAuth=True)]})
    assert subjects("DB-013", {inv.resources(COSMOS): [cosmos()]})
    limited = cosmos(ipRules=[{"ipAddressOrRange": "203.0.113.0/24"}])
    assert not subjects("DB-013", {inv.resources(COSMOS): [limited]})


# -- Key Vault -----------------------------------------------------------------------------


def vault(**properties: Any) -> dict[str, Any]:
    return row(example("keyvault", "getVault.json"), **properties)


def test_soft_delete_absent_means_on_but_false_is_not_recoverable() -> None:
    # getVault.json sets neither enableSoftDelete nor enablePurgeProtection.
    assert subjects("KV-001", {inv.resources(VAULT): [vault(enablePurgeProtection=True)]}) == []
    off = vault(enablePurgeProtection=True, enableSoftDelete=False)
    assert subjects("KV-001", {inv.resources(VAULT): [off]}) == [off["id"]]
    assert subjects("KV-001", {inv.resources(VAULT): [vault()]}) == [vault()["id"]]


@pytest.mark.parametrize(
    ("rbac", "keys_rule", "secrets_rule"),
    [(True, "KV-004", "KV-006"), (False, "KV-005", "KV-007"), (None, "KV-005", "KV-007")],
)
def test_expiry_rules_split_by_the_vaults_permission_model(
    rbac: bool | None, keys_rule: str, secrets_rule: str
) -> None:
    parent = vault(enableRbacAuthorization=rbac)
    listed = json.loads((EXAMPLES / "keyvault/listKeys.json").read_text())
    keys = [child(k, parent) for k in listed["responses"]["200"]["body"]["value"]]
    keys[1]["properties"]["attributes"]["exp"] = 1893456000
    secret = child(example("keyvault", "getSecret.json"), parent)
    disabled = copy.deepcopy(secret)
    disabled["id"] += "-off"
    disabled["properties"]["attributes"]["enabled"] = False
    sections = {
        inv.resources(VAULT): [parent],
        inv.children(VAULT, "keys"): keys,
        inv.children(VAULT, "secrets"): [secret, disabled],
    }
    assert subjects(keys_rule, sections) == [keys[0]["id"]]
    assert subjects(secrets_rule, sections) == [secret["id"]]
    others = {"KV-004", "KV-005", "KV-006", "KV-007"} - {keys_rule, secrets_rule}
    assert all(subjects(other, sections) == [] for other in others)


def test_key_rotation_reads_either_spelling_of_rotate() -> None:
    parent = vault()
    key = child(example("keyvault", "getKey.json"), parent)
    section = inv.children(VAULT, "keys")
    assert subjects("KV-009", {section: [key]}) == [key["id"]]
    for spelling in ("rotate", "Rotate"):
        key["properties"]["rotationPolicy"] = {
            "lifetimeActions": [
                {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}},
                {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": spelling}},
            ]
        }
        assert subjects("KV-009", {section: [key]}) == []
    key["properties"]["rotationPolicy"]["lifetimeActions"].pop()
    assert subjects("KV-009", {section: [key]}) == [key["id"]]  # notify alone rotates nothing
