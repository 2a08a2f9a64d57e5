"""Tenants the fake services serve: a small one with planted misconfigurations (and the
findings each rule must report, no more), and generated large ones for the benchmark.

Rows are what the real services return: Resource Graph rows (id, name, lower-case type,
location, resourceGroup, subscriptionId, sku, identity, tags, properties), Graph JSON objects,
OSV records.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.azure_fakes.published import edited, example_body, example_list

TENANT_ID = "7d3c4f8a-1b2e-4c5d-9e0f-a1b2c3d4e5f6"
SUBSCRIPTION_ID = "5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
CLIENT_ID = "c0ffee00-0000-4000-8000-00000000c11e"

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
READER_ROLE = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"  # Directory Readers: not privileged


@dataclass
class Tenant:
    tenant_id: str = TENANT_ID
    subscription_id: str = SUBSCRIPTION_ID
    client_id: str = CLIENT_ID
    client_secret: str = "fake-secret-for-tests-only"
    # Resource Graph tables
    resources: list[dict[str, Any]] = field(default_factory=list)
    appserviceresources: list[dict[str, Any]] = field(default_factory=list)
    securityresources: list[dict[str, Any]] = field(default_factory=list)
    authorizationresources: list[dict[str, Any]] = field(default_factory=list)
    # ARM
    providers: list[dict[str, Any]] = field(default_factory=list)
    diagnostic_settings: list[dict[str, Any]] = field(default_factory=list)
    # ARM reads Resource Graph does not answer, by lower-case path: a list (served as
    # `{"value": [...]}` in pages with nextLink) or one resource (served as it is).
    arm_children: dict[str, Any] = field(default_factory=dict)
    arm_page_size: int = 1000
    # Microsoft Graph
    users: list[dict[str, Any]] = field(default_factory=list)
    registration_details: list[dict[str, Any]] = field(default_factory=list)
    directory_roles: list[dict[str, Any]] = field(default_factory=list)
    role_assignments: list[dict[str, Any]] = field(default_factory=list)
    security_defaults_enabled: bool = False
    # The whole identitySecurityDefaultsEnforcementPolicy object when a test plants a published
    # one (it wins over `security_defaults_enabled`).
    security_defaults_policy: dict[str, Any] | None = None
    conditional_access: list[dict[str, Any]] = field(default_factory=list)
    named_locations: list[dict[str, Any]] = field(default_factory=list)
    # /policies/authorizationPolicy (None: Graph's defaults for a new tenant)
    authorization_policy: dict[str, Any] | None = None
    sign_in_activity_licensed: bool = True
    # OSV: (ecosystem, name, version) -> vulnerability ids; id -> record
    osv_affected: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    osv_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Largest pages the fakes return (real limits: 1000 rows, 999 users)
    resource_graph_page_size: int = 1000
    graph_page_size: int = 999
    osv_page_size: int = 1000
    # What the rules must report: rule id -> subjects (resource ids / Graph paths)
    expected: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # More subscriptions of the same tenant (their Resource Graph rows, ARM reads and
    # expected findings; their Graph fields are unused), subscriptions ARM refuses to this
    # identity (403), and management groups: group id -> descendants (published shape).
    subscriptions: list[Tenant] = field(default_factory=list)
    unreadable_subscriptions: set[str] = field(default_factory=set)
    management_groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    management_group_page_size: int = 1000

    def every_subscription(self) -> list[Tenant]:
        return [self, *self.subscriptions]

    def attach(self, parent_id: str, path: str, value: Any) -> Any:
        """Serve `value` at `{parent_id}/{path}`: a list of child resources (each given an
        `id` under the path and a `name` when it has none) or one resource (a dict)."""
        where = f"{parent_id.rstrip('/')}/{path.strip('/')}"
        if isinstance(value, list):
            for index, item in enumerate(value):
                name = item.setdefault("name", f"child{index}")
                item.setdefault("id", f"{where}/{name}")
        elif isinstance(value, dict):
            value.setdefault("id", where)
            value.setdefault("name", where.rsplit("/", 1)[-1])
        self.arm_children[where.lower()] = value
        return value

    def plant(self, subject: str, *rule_ids: str) -> None:
        for rule_id in rule_ids:
            self.expected[rule_id].add(subject)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Builder:
    """Adds rows to a tenant, with the ids and shapes the real services use."""

    def __init__(self, tenant: Tenant) -> None:
        self.t = tenant
        self.sub = tenant.subscription_id

    def rid(self, provider_type: str, group: str, name: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{group}/providers/{provider_type}/{name}"

    def resource(
        self,
        provider_type: str,
        name: str,
        properties: dict[str, Any],
        group: str = "rg-app",
        location: str = "westeurope",
        table: str = "resources",
        **extra: Any,
    ) -> dict[str, Any]:
        row = {
            "id": self.rid(provider_type, group, name),
            "name": name.rsplit("/", 1)[-1],
            "type": provider_type.lower(),
            "kind": extra.pop("kind", ""),
            "location": location,
            "resourceGroup": group,
            "subscriptionId": self.sub,
            "sku": extra.pop("sku", None),
            "identity": extra.pop("identity", None),
            "tags": extra.pop("tags", {}),
            "properties": properties,
        }
        getattr(self.t, table).append(row)
        return row

    # -- resource shapes ------------------------------------------------------------------

    def approved_endpoint(self, parent_id: str) -> dict[str, Any]:
        """A private endpoint connection in the Approved state, shaped like the published
        Key Vault example (the same PrivateEndpointConnection shape every provider returns)."""
        connection = example_body("keyvault", "getPrivateEndpointConnection.json")
        connection["id"] = f"{parent_id}/privateEndpointConnections/pe-{parent_id[-6:]}"
        connection["properties"]["privateEndpoint"]["id"] = self.rid(
            "Microsoft.Network/privateEndpoints", "rg-network", f"pe-{parent_id[-6:]}"
        )
        return connection

    def storage(
        self,
        name: str,
        location: str = "westeurope",
        published: bool = False,
        services: bool = True,
        **overrides: Any,
    ) -> str:
        """A storage account from the published StorageAccountGetProperties example: as it is
        (`published`, an account from before the secure defaults) or with every setting the
        storage rules look for made secure, then `overrides` (None removes a property).
        `services` attaches its blob service properties and request-logging diagnostic settings
        (clean)."""
        example = example_body("storage", "StorageAccountGetProperties.json")["properties"]
        rid = self.rid("Microsoft.Storage/storageAccounts", "rg-app", name)
        props: dict[str, Any] = example
        if not published:
            props = edited(
                example,
                supportsHttpsTrafficOnly=True,
                encryption={
                    **example["encryption"],
                    "requireInfrastructureEncryption": True,
                    "keySource": "Microsoft.Keyvault",
                    "keyvaultproperties": {
                        "keyname": "storage-cmk",
                        "keyvaulturi": "https://kv-clean.vault.azure.net",
                    },
                },
                keyPolicy={"keyExpirationPeriodInDays": 90},
                keyCreationTime={"key1": iso(now() - timedelta(days=10))}
                | {"key2": iso(now() - timedelta(days=40))},
                sasPolicy={"sasExpirationPeriod": "0.01:00:00", "expirationAction": "Block"},
                allowBlobPublicAccess=False,
                allowSharedKeyAccess=False,
                allowCrossTenantReplication=False,
                networkAcls={"defaultAction": "Deny", "bypass": "AzureServices, Logging"},
                minimumTlsVersion="TLS1_2",
                publicNetworkAccess="Disabled",
                privateEndpointConnections=[self.approved_endpoint(rid)],
            )
        props = edited(props, **overrides)
        account = self.resource(
            "Microsoft.Storage/storageAccounts", name, props, location=location, kind="StorageV2"
        )["id"]
        if services:
            self.storage_services(account)
        return str(account)

    def storage_services(
        self,
        account: str,
        retention: bool = True,
        logged: tuple[str, ...] = ("blob", "queue", "table"),
    ) -> None:
        """Blob service properties (the published BlobServicesGet example, with container
        soft delete as `retention` says) and a diagnostic setting sending every request log of
        each `logged` service."""
        blob = example_body("storage", "BlobServicesGet.json")
        blob["properties"]["deleteRetentionPolicy"] = {"enabled": retention, "days": 7}
        if retention:
            blob["properties"]["containerDeleteRetentionPolicy"] = {"enabled": True, "days": 7}
        blob["id"] = f"{account}/blobServices/default"
        self.t.attach(account, "blobServices/default", blob)
        for service in logged:
            # No published diagnostic-setting example is copied here: the shape of
            # Microsoft.Insights/diagnosticSettings 2021-05-01-preview with the allLogs group.
            self.t.attach(
                account,
                f"{service}Services/default/providers/Microsoft.Insights/diagnosticSettings",
                [
                    {
                        "name": "to-workspace",
                        "type": "Microsoft.Insights/diagnosticSettings",
                        "properties": {
                            "workspaceId": self.rid(
                                "Microsoft.OperationalInsights/workspaces", "rg-ops", "law"
                            ),
                            "logs": [{"categoryGroup": "allLogs", "enabled": True}],
                            "metrics": [],
                        },
                    }
                ],
            )

    def nsg(self, name: str, rules: list[dict[str, Any]]) -> str:
        security_rules = [
            {
                "name": r.get("name", f"rule{i}"),
                "properties": {
                    "protocol": r.get("protocol", "Tcp"),
                    "sourceAddressPrefix": r.get("source", "" if "sources" in r else "*"),
                    "sourceAddressPrefixes": r.get("sources", []),
                    "destinationPortRange": r.get("port", ""),
                    "destinationPortRanges": r.get("ports", []),
                    "access": r.get("access", "Allow"),
                    "direction": r.get("direction", "Inbound"),
                    "priority": 100 + i,
                },
            }
            for i, r in enumerate(rules)
        ]
        return self.resource(
            "Microsoft.Network/networkSecurityGroups", name, {"securityRules": security_rules}
        )["id"]

    def flow_log(
        self, name: str, enabled: bool, days: int, retention: bool = True, analytics: bool = True
    ) -> str:
        """A flow log from the published NetworkWatcherFlowLogGet example with its state,
        retention and Traffic Analytics (`analytics`) as given."""
        props = example_body("network", "NetworkWatcherFlowLogGet.json")["properties"]
        props["enabled"] = enabled
        props["retentionPolicy"] = {"enabled": retention, "days": days}
        props["flowAnalyticsConfiguration"]["networkWatcherFlowAnalyticsConfiguration"].update(
            enabled=analytics,
            workspaceId="00000000-0000-0000-0000-000000000000",
            workspaceRegion="westeurope",
        )
        return str(
            self.resource(
                "Microsoft.Network/networkWatchers/flowLogs",
                f"NetworkWatcher_westeurope/{name}",
                props,
                group="NetworkWatcherRG",
            )["id"]
        )

    def vm(
        self,
        name: str,
        image: dict[str, str],
        unmanaged: bool = False,
        group: str = "rg-app",
        protected: bool = True,
        **overrides: Any,
    ) -> str:
        """A Linux VM from the published VirtualMachine_Create_WithSshAuthentication example
        (SSH keys only) with the image and OS disk given, Trusted Launch (secure boot, vTPM)
        and encryption at host, then `overrides` of its properties (None removes one).
        `protected` gives it the Defender for Endpoint extension (MDE.Linux), a Resource Graph
        row shaped like the published VirtualMachineExtension example."""
        example = example_body("compute", "VirtualMachine_Create_WithSshAuthentication.json")
        os_disk: dict[str, Any] = {**example["properties"]["storageProfile"]["osDisk"]}
        os_disk["name"] = f"{name}-os"
        if unmanaged:
            os_disk.pop("managedDisk", None)
            os_disk["vhd"] = {"uri": f"https://{name}sa.blob.core.windows.net/vhds/{name}.vhd"}
        props = edited(
            example["properties"],
            storageProfile={"imageReference": image, "osDisk": os_disk, "dataDisks": []},
            securityProfile={
                "securityType": "TrustedLaunch",
                "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
                "encryptionAtHost": True,
            },
            provisioningState="Succeeded",
        )
        vm = str(
            self.resource(
                "Microsoft.Compute/virtualMachines", name, edited(props, **overrides), group=group
            )["id"]
        )
        if protected:
            extension = example_body("compute", "VirtualMachineExtension_Get_MaximumSet_Gen.json")
            row = self.resource(
                "Microsoft.Compute/virtualMachines/extensions",
                f"{name}/extensions/MDE.Linux",
                edited(
                    extension["properties"],
                    publisher="Microsoft.Azure.AzureDefenderForServers",
                    type="MDE.Linux",
                    provisioningState="Succeeded",
                    instanceView=None,
                ),
                group=group,
            )
            row["id"] = f"{vm}/extensions/MDE.Linux"
        return vm

    def disk(
        self,
        name: str,
        state: str,
        encryption: str,
        access: str,
        public: str,
        owner: str | None = None,
        auth_mode: str | None = "AzureActiveDirectory",
    ) -> str:
        """A managed disk from the published Disk_Get example: `owner` is the VM it is
        attached to (managedBy; none: unattached), exports need Entra ID unless `auth_mode`
        says otherwise (None: never set)."""
        example = example_body("compute", "Disk_Get.json")
        props = edited(
            example["properties"],
            diskState=state,
            encryption={"type": encryption},
            networkAccessPolicy=access,
            publicNetworkAccess=public,
            dataAccessAuthMode=auth_mode,
            diskSizeGB=128,
        )
        row = self.resource("Microsoft.Compute/disks", name, props, sku=example["sku"])
        if owner:
            row["managedBy"] = owner
        return str(row["id"])

    def vault(
        self, name: str, contents: bool = True, logging: bool = True, **overrides: Any
    ) -> str:
        """A Key Vault from the published getVault example with the settings the Key Vault
        rules look for made secure, then `overrides` (None removes a property). `contents`
        attaches one key (expiring, rotated by policy) and one secret (expiring); `logging` a
        diagnostic setting (the published one) sending the audit log group to a workspace."""
        example = example_body("keyvault", "getVault.json")["properties"]
        rid = self.rid("Microsoft.KeyVault/vaults", "rg-app", name)
        props = edited(
            example,
            tenantId=self.t.tenant_id,
            vaultUri=f"https://{name}.vault.azure.net",
            enableSoftDelete=True,
            enablePurgeProtection=True,
            enableRbacAuthorization=True,
            accessPolicies=[],
            publicNetworkAccess="Disabled",
            privateEndpointConnections=[self.approved_endpoint(rid)],
        )
        vault = self.resource("Microsoft.KeyVault/vaults", name, edited(props, **overrides))["id"]
        if contents:
            key = example_body("keyvault", "getKey.json")
            key["properties"]["attributes"]["exp"] = int((now() + timedelta(days=300)).timestamp())
            key["properties"]["rotationPolicy"] = {
                "attributes": {"expiryTime": "P1Y"},
                "lifetimeActions": [
                    {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}},
                    {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}},
                ],
            }
            secret = example_body("keyvault", "getSecret.json")
            secret["properties"]["attributes"]["exp"] = int(
                (now() + timedelta(days=90)).timestamp()
            )
            for item in (key, secret):
                item.pop("id", None)
            self.t.attach(vault, "keys", [key])
            self.t.attach(vault, "secrets", [secret])
        if logging:
            setting = example_body("monitor", "getDiagnosticSettingCategory.json")
            setting.pop("id", None)
            setting["properties"]["workspaceId"] = self.rid(
                "Microsoft.OperationalInsights/workspaces", "rg-monitor", "law"
            )
            setting["properties"]["logs"] = [{"categoryGroup": "audit", "enabled": True}]
            self.t.attach(vault, "providers/Microsoft.Insights/diagnosticSettings", [setting])
        return str(vault)

    def sql(self, name: str, settings: bool = True, **overrides: Any) -> str:
        """A SQL server from the published ServerGet example with the settings the SQL rules
        look for made secure, then `overrides` (None removes a property). `settings` attaches
        its child settings (auditing, TDE protector, threat detection, vulnerability
        assessment) and one encrypted database, all clean."""
        example = example_body("sql", "ServerGet.json")
        props = edited(
            example["properties"],
            fullyQualifiedDomainName=f"{name}.database.windows.net",
            administrators={
                "administratorType": "ActiveDirectory",
                "principalType": "Group",
                "login": "sql-admins",
                "sid": "5b0f3f2c-6e1c-4f0e-9a41-7b7c4a1d2e3f",
                "tenantId": self.t.tenant_id,
                "azureADOnlyAuthentication": True,
            },
            publicNetworkAccess="Disabled",
            minimalTlsVersion="1.2",
            privateEndpointConnections=None,
        )
        server = str(
            self.resource("Microsoft.Sql/servers", name, edited(props, **overrides), kind="v12.0")[
                "id"
            ]
        )
        if settings:
            self.sql_settings(server)
            self.sql_database(server, "app", tde="Enabled")
        return server

    def sql_settings(
        self,
        server: str,
        auditing: dict[str, Any] | None = None,
        protector: str = "AzureKeyVault",
        threat_detection: str = "Enabled",
        express_va: str | None = "Enabled",
        entra: bool = True,
    ) -> None:
        """The server's child settings from the published examples, edited; `entra` lists a
        Microsoft Entra administrator with Entra-only authentication."""
        if entra:
            admin = example_body("sql", "AdministratorCreateOrUpdate.json")
            admin.pop("id", None)
            self.t.attach(server, "administrators", [admin])
            only = example_body("sql", "AzureADOnlyAuthGet.json")
            only.pop("id", None)
            self.t.attach(server, "azureADOnlyAuthentications/Default", only)
        audit = example_body("sql", "ServerBlobAuditingGet.json")
        audit["properties"].update(
            auditing
            or {"state": "Enabled", "isAzureMonitorTargetEnabled": True, "retentionDays": 0}
        )
        encryption = example_body("sql", "EncryptionProtectorCreateOrUpdateServiceManaged.json")
        if protector == "AzureKeyVault":
            encryption["kind"] = "azurekeyvault"
            encryption["properties"] = {
                "serverKeyName": "kv-clean_sql-tde_01",
                "serverKeyType": "AzureKeyVault",
                "uri": "https://kv-clean.vault.azure.net/keys/sql-tde/01",
            }
        alerts = example_body("sql", "ServerSecurityAlertsGet.json")
        alerts["properties"]["state"] = threat_detection
        for path, value in (
            ("auditingSettings/default", audit),
            ("encryptionProtector/current", encryption),
            ("securityAlertPolicies/Default", alerts),
        ):
            value.pop("id", None)
            self.t.attach(server, path, value)
        if express_va is not None:
            # No published example of the express configuration is copied here: the shape
            # of Microsoft.Sql/servers/sqlVulnerabilityAssessments 2023-08-01.
            self.t.attach(
                server,
                "sqlVulnerabilityAssessments/default",
                {
                    "name": "default",
                    "type": "Microsoft.Sql/servers/sqlVulnerabilityAssessments",
                    "properties": {"state": express_va},
                },
            )

    def sql_database(self, server: str, name: str, tde: str) -> str:
        """A database of `server` (a Resource Graph row) and its TDE setting. No published
        example of transparentDataEncryption/current is copied here: the shape of the
        2021-11-01 LogicalDatabaseTransparentDataEncryption (properties.state)."""
        server_name = server.rsplit("/", 1)[-1]
        database = self.resource(
            "Microsoft.Sql/servers/databases",
            f"{server_name}/databases/{name}",
            {"status": "Online", "collation": "SQL_Latin1_General_CP1_CI_AS"},
            kind="v12.0,user",
        )
        database["id"] = f"{server}/databases/{name}"
        self.t.attach(
            database["id"],
            "transparentDataEncryption/current",
            {
                "name": "Current",
                "type": "Microsoft.Sql/servers/databases/transparentDataEncryption",
                "properties": {"state": tde},
            },
        )
        return str(database["id"])

    @staticmethod
    def configurations(provider: str, values: dict[str, str]) -> list[dict[str, Any]]:
        """Server parameters as a flexible server lists them, from the published
        ConfigurationGet example with name and value edited."""
        rows = []
        for name, value in values.items():
            row = example_body(provider, "ConfigurationGet.json")
            row.pop("id", None)
            row["name"] = name
            row["properties"]["value"] = value
            rows.append(row)
        return rows

    def postgres(self, name: str, parameters: dict[str, str], rules: list[Any]) -> str:
        """A PostgreSQL flexible server from the published ServerGet example, with server
        parameters (merged over secure values) and firewall rules."""
        body = example_body("postgresql", "ServerGet.json")
        server = str(
            self.resource(
                "Microsoft.DBforPostgreSQL/flexibleServers",
                name,
                body["properties"],
                sku=body["sku"],
            )["id"]
        )
        secure = {
            "require_secure_transport": "on",
            "log_checkpoints": "on",
            "connection_throttle.enable": "on",
            "logfiles.retention_days": "7",
            "log_connections": "on",
            "log_disconnections": "on",
            "array_nulls": "on",
        }
        self.t.attach(
            server, "configurations", self.configurations("postgresql", {**secure, **parameters})
        )
        for rule in rules:
            rule.pop("id", None)
        self.t.attach(server, "firewallRules", rules)
        return server

    def mysql(self, name: str, parameters: dict[str, str]) -> str:
        """A MySQL flexible server from the published ServerGet example, with server
        parameters merged over secure values."""
        body = example_body("mysql", "ServerGet.json")
        server = str(
            self.resource(
                "Microsoft.DBforMySQL/flexibleServers", name, body["properties"], sku=body["sku"]
            )["id"]
        )
        secure = {
            "require_secure_transport": "ON",
            "tls_version": "TLSv1.2,TLSv1.3",
            "audit_log_enabled": "ON",
            "audit_log_events": "CONNECTION,DDL",
            "event_scheduler": "OFF",
        }
        self.t.attach(
            server, "configurations", self.configurations("mysql", {**secure, **parameters})
        )
        return server

    def cosmos(self, name: str, **overrides: Any) -> str:
        """A Cosmos DB account. No published example of a database account is copied here:
        the properties of DatabaseAccountGetResults (2024-11-15) the rules read, secure, then
        `overrides` (None removes a property)."""
        rid = self.rid("Microsoft.DocumentDB/databaseAccounts", "rg-app", name)
        props = {
            "provisioningState": "Succeeded",
            "documentEndpoint": f"https://{name}.documents.azure.com:443/",
            "databaseAccountOfferType": "Standard",
            "publicNetworkAccess": "Disabled",
            "isVirtualNetworkFilterEnabled": True,
            "ipRules": [],
            "virtualNetworkRules": [],
            "disableLocalAuth": True,
            "privateEndpointConnections": [self.approved_endpoint(rid)],
        }
        return str(
            self.resource(
                "Microsoft.DocumentDB/databaseAccounts",
                name,
                edited(props, **overrides),
                kind="GlobalDocumentDB",
            )["id"]
        )

    @staticmethod
    def firewall_rule(name: str, start: str, end: str) -> dict[str, Any]:
        """A SQL server firewall rule as ARM lists it (its id is set by Tenant.attach)."""
        return {
            "name": name,
            "type": "Microsoft.Sql/servers/firewallRules",
            "properties": {"startIpAddress": start, "endIpAddress": end},
        }

    def site(
        self,
        name: str,
        site: dict[str, Any],
        config: dict[str, Any],
        identity: Any,
        basic_auth: dict[str, bool] | None = None,
    ) -> str:
        """A site and its web configuration row; `basic_auth` attaches its publishing
        credential policies (the published list, `allow` per endpoint: ftp, scm)."""
        row = self.resource(
            "Microsoft.Web/sites", name, {"state": "Running", **site}, kind="app", identity=identity
        )
        self.resource(
            "Microsoft.Web/sites/config",
            f"{name}/config/web",
            config,
            table="appserviceresources",
        )
        # Resource Graph ids of site configs end in /config/web, names are "web".
        self.t.appserviceresources[-1]["id"] = row["id"] + "/config/web"
        self.t.appserviceresources[-1]["name"] = "web"
        if basic_auth is not None:
            policies = example_list("web", "ListPublishingCredentialsPolicies.json")
            for policy in policies:
                policy.pop("id", None)
                policy["properties"]["allow"] = basic_auth.get(policy["name"], True)
            self.t.attach(row["id"], "basicPublishingCredentialsPolicies", policies)
        return str(row["id"])

    def aks(self, name: str, version: str, **props: Any) -> str:
        """A cluster from the published ManagedClustersGet example at `version`, with Entra
        integration, Azure RBAC, the Defender sensor, the Azure Policy add-on and a patch
        upgrade channel on, then `props` (None removes a property)."""
        example = example_body("containerservice", "ManagedClustersGet.json")["properties"]
        base = edited(
            example,
            kubernetesVersion=version,
            currentKubernetesVersion=version,
            aadProfile={"managed": True, "enableAzureRBAC": True},
            securityProfile={"defender": {"securityMonitoring": {"enabled": True}}},
            addonProfiles={"azurepolicy": {"enabled": True}},
            autoUpgradeProfile={"upgradeChannel": "patch"},
            agentPoolProfiles=[
                {**pool, "enableEncryptionAtHost": True} for pool in example["agentPoolProfiles"]
            ],
        )
        return str(
            self.resource(
                "Microsoft.ContainerService/managedClusters", name, edited(base, **props)
            )["id"]
        )

    def registry(self, name: str, **props: Any) -> str:
        """A Premium container registry from the published RegistryGet example with every
        setting the registry rules look for made secure, then `props` (None removes one)."""
        example = example_body("containerregistry", "RegistryGet.json")
        rid = self.rid("Microsoft.ContainerRegistry/registries", "rg-app", name)
        base = edited(
            example["properties"],
            loginServer=f"{name}.azurecr.io",
            adminUserEnabled=False,
            anonymousPullEnabled=False,
            publicNetworkAccess="Disabled",
            networkRuleSet={"defaultAction": "Deny", "ipRules": []},
            policies={
                **example["properties"]["policies"],
                "quarantinePolicy": {"status": "enabled"},
                "trustPolicy": {"type": "Notary", "status": "enabled"},
            },
            encryption={
                "status": "enabled",
                "keyVaultProperties": {
                    "keyIdentifier": "https://kv-clean.vault.azure.net/keys/acr"
                },
            },
            privateEndpointConnections=[self.approved_endpoint(rid)],
        )
        return str(
            self.resource(
                "Microsoft.ContainerRegistry/registries",
                name,
                edited(base, **props),
                sku={"name": "Premium", "tier": "Premium"},
            )["id"]
        )

    def alert(self, name: str, operations: list[str], enabled: bool = True, scope: str = "") -> str:
        conditions = [{"field": "category", "equals": "Administrative"}] + [
            {"field": "operationName", "equals": op} for op in operations
        ]
        props = {
            "enabled": enabled,
            "scopes": [scope or f"/subscriptions/{self.sub}"],
            "condition": {"allOf": conditions},
            "actions": {"actionGroups": []},
        }
        return self.resource(
            "Microsoft.Insights/activityLogAlerts",
            name,
            props,
            group="rg-monitor",
            location="global",
        )["id"]

    def pricing(self, name: str, tier: str) -> str:
        rid = f"/subscriptions/{self.sub}/providers/Microsoft.Security/pricings/{name}"
        self.t.securityresources.append(
            {
                "id": rid,
                "name": name,
                "type": "microsoft.security/pricings",
                "properties": {"pricingTier": tier},
            }
        )
        return rid

    def defender_settings(self, endpoint_integration: bool) -> str:
        """The subscription's Defender security contact, integration settings and
        auto-provisioning, from the published examples (the contact has emails, is notified
        from Medium severity up and notifies owners; Cloud Apps on; auto-provisioning On). The
        published Endpoint integration (WDATP) is off; `endpoint_integration` turns it on.
        Returns the WDATP setting's id."""
        sub = f"/subscriptions/{self.sub}"

        def own(items: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
            return [{**i, "id": f"{sub}/{path}/{i['name']}"} for i in items]

        contacts = "providers/Microsoft.Security/securityContacts"
        settings = "providers/Microsoft.Security/settings"
        provisioning = "providers/Microsoft.Security/autoProvisioningSettings"
        self.t.attach(
            sub,
            contacts,
            own(example_list("security", "GetSecurityContactsSubscription_example.json"), contacts),
        )
        listed = own(example_list("security", "GetSettings_example.json"), settings)
        for item in listed:
            if item["name"] == "WDATP" and endpoint_integration:
                item["properties"] = {"enabled": True}
        self.t.attach(sub, settings, listed)
        self.t.attach(
            sub,
            provisioning,
            own(
                example_list("security", "GetAutoProvisioningSettingsSubscription_example.json"),
                provisioning,
            ),
        )
        return f"{sub}/{settings}/WDATP"

    def role_definition(
        self, name: str, role_type: str, actions: list[str], scopes: list[str]
    ) -> str:
        rid = f"/subscriptions/{self.sub}/providers/Microsoft.Authorization/roleDefinitions/{name}"
        self.t.authorizationresources.append(
            {
                "id": rid,
                "name": name,
                "type": "microsoft.authorization/roledefinitions",
                "properties": {
                    "roleName": name,
                    "type": role_type,
                    "permissions": [{"actions": actions, "notActions": []}],
                    "assignableScopes": scopes,
                },
            }
        )
        return rid

    # -- identities ----------------------------------------------------------------------

    def user(
        self,
        user_id: str,
        upn: str,
        *,
        guest: bool = False,
        enabled: bool = True,
        mfa: bool = True,
        last_sign_in_days: int | None = 1,
        created_days: int = 400,
    ) -> str:
        moment = now()
        # The shape of the published signInActivity example: when the last attempt succeeded,
        # lastSuccessfulSignInDateTime carries the same moment.
        last = (
            iso(moment - timedelta(days=last_sign_in_days))
            if last_sign_in_days is not None
            else None
        )
        user: dict[str, Any] = {
            "id": user_id,
            "userPrincipalName": upn,
            "displayName": upn.split("@")[0],
            "userType": "Guest" if guest else "Member",
            "accountEnabled": enabled,
            "createdDateTime": iso(moment - timedelta(days=created_days)),
            "signInActivity": {
                "lastSignInDateTime": last,
                "lastNonInteractiveSignInDateTime": None,
                "lastSuccessfulSignInDateTime": last,
            },
        }
        self.t.users.append(user)
        self.t.registration_details.append(
            {
                "id": user_id,
                "userPrincipalName": upn,
                "userDisplayName": user["displayName"],
                "userType": "guest" if guest else "member",
                "isAdmin": False,
                "isMfaRegistered": mfa,
                "isMfaCapable": mfa,
                "isSsprRegistered": mfa,
                "isPasswordlessCapable": False,
                "methodsRegistered": ["microsoftAuthenticatorPush"] if mfa else [],
            }
        )
        return f"/users/{user_id}"

    def assign(self, principal: str, role_template: str) -> None:
        n = len(self.t.role_assignments)
        self.t.role_assignments.append(
            {
                "id": f"assignment-{n}",
                "principalId": principal,
                "roleDefinitionId": role_template,
                "directoryScopeId": "/",
            }
        )

    def vulnerability(self, key: tuple[str, str, str], vuln_id: str, cve: str) -> None:
        self.t.osv_affected.setdefault(key, []).append(vuln_id)
        self.t.osv_records[vuln_id] = {
            "id": vuln_id,
            "aliases": [cve],
            "summary": f"{key[1]} {key[2]}: planted vulnerability {cve}",
            "modified": "2025-01-01T00:00:00Z",
            "database_specific": {"severity": "HIGH"},
            "affected": [{"package": {"ecosystem": key[0], "name": key[1]}, "versions": [key[2]]}],
        }


def _common(b: Builder) -> None:
    t = b.t
    t.providers = [
        {"namespace": ns, "registrationState": state}
        for ns, state in (
            ("Microsoft.Compute", "Registered"),
            ("Microsoft.Network", "Registered"),
            ("Microsoft.Insights", "Registered"),
        )
    ]
    t.directory_roles = [
        {"id": "dr-ga", "displayName": "Global Administrator", "roleTemplateId": GLOBAL_ADMIN},
        {"id": "dr-sa", "displayName": "Security Administrator", "roleTemplateId": SECURITY_ADMIN},
    ]


def planted_tenant() -> Tenant:
    """A small tenant: for every rule, resources/objects that break it (recorded in
    `expected`) next to ones that do not. Small page sizes make every collection page."""
    t = Tenant(resource_graph_page_size=7, graph_page_size=3, osv_page_size=1)
    b = Builder(t)
    _common(b)
    sub = f"/subscriptions/{t.subscription_id}"

    # Storage: accounts from the published example, made secure or kept as published
    b.storage("stclean")
    t.plant(b.storage("sthttp", supportsHttpsTrafficOnly=False), "ST-001")
    t.plant(
        b.storage(
            "stpublic",
            encryption={"keySource": "Microsoft.Storage"},
            keyPolicy=None,
            allowBlobPublicAccess=True,
            networkAcls={"defaultAction": "Allow", "bypass": "AzureServices"},
            minimumTlsVersion="TLS1_0",
            publicNetworkAccess="Enabled",
        ),
        "ST-002",
        "ST-003",
        "ST-004",
        "ST-005",
        "ST-007",
        "ST-008",
        "ST-011",
    )
    t.plant(
        b.storage("stnobypass", networkAcls={"defaultAction": "Deny", "bypass": "None"}), "ST-006"
    )
    # Public network access disabled satisfies ST-005 even with an Allow default action; a
    # network security perimeter (SecuredByPerimeter) closes the public endpoint too.
    b.storage(
        "stprivate",
        location="northeurope",
        publicNetworkAccess="Disabled",
        networkAcls={"defaultAction": "Allow", "bypass": "AzureServices"},
    )
    b.storage(
        "stperimeter",
        publicNetworkAccess="SecuredByPerimeter",
        networkAcls={"defaultAction": "Allow", "bypass": "AzureServices"},
    )
    # The published account as it is: created before the secure defaults, never changed. Its
    # blob service is the published one (container soft delete unset); no diagnostic settings.
    legacy = b.storage("stlegacy", published=True, services=False)
    t.attach(legacy, "blobServices/default", example_body("storage", "BlobServicesGet.json"))
    t.plant(legacy, *(f"ST-{n:03d}" for n in range(1, 19) if n != 6))
    # A private endpoint connection that is only requested (Pending) carries no traffic.
    pending = b.storage("stpending")
    pending_row = t.resources[-1]
    connection = pending_row["properties"]["privateEndpointConnections"][0]
    connection["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"
    t.plant(pending, "ST-009")
    t.plant(
        b.storage(
            "stsas",
            sasPolicy={"sasExpirationPeriod": "1.00:00:00", "expirationAction": "Log"},
            keyCreationTime={
                "key1": iso(now() - timedelta(days=5)),
                "key2": iso(now() - timedelta(days=120)),
            },
        ),
        "ST-017",
        "ST-018",
    )
    # Blob request logs without deletes: one of the three categories is missing.
    partial = b.storage("stpartiallogs")
    t.attach(
        partial,
        "blobServices/default/providers/Microsoft.Insights/diagnosticSettings",
        [
            {
                "name": "reads-and-writes",
                "properties": {
                    "storageAccountId": partial,
                    "logs": [
                        {"category": "StorageRead", "enabled": True},
                        {"category": "StorageWrite", "enabled": True},
                        {"category": "StorageDelete", "enabled": False},
                    ],
                },
            }
        ],
    )
    t.plant(partial, "ST-013")

    # Networking
    b.nsg(
        "nsg-clean",
        [
            {"name": "https-internal", "port": "443", "source": "10.0.0.0/8"},
            {"name": "ssh-office", "port": "22", "source": "203.0.113.5/32"},
            {"name": "deny-all", "port": "*", "protocol": "*", "access": "Deny"},
            {"name": "out-any", "port": "*", "protocol": "*", "direction": "Outbound"},
        ],
    )
    t.plant(b.nsg("nsg-rdp", [{"name": "rdp", "port": "3389", "source": "*"}]), "NET-001")
    # 20-30 opens FTP (21) and Telnet (23) as well as SSH.
    t.plant(
        b.nsg("nsg-ssh", [{"name": "ssh-range", "port": "20-30", "source": "Internet"}]),
        "NET-002",
        "NET-011",
    )
    t.plant(b.nsg("nsg-sql", [{"name": "sql", "port": "1433", "source": "*"}]), "NET-011")
    t.plant(
        b.nsg("nsg-any", [{"name": "any", "port": "*", "protocol": "*", "sources": ["0.0.0.0/0"]}]),
        "NET-001",
        "NET-002",
        "NET-003",
    )
    t.plant(b.nsg("nsg-udp", [{"name": "dns", "port": "53", "protocol": "Udp"}]), "NET-004")
    t.plant(
        b.nsg("nsg-web", [{"name": "web", "ports": ["80", "443"], "source": "Internet"}]),
        "NET-005",
    )
    b.flow_log("fl-clean", True, 90)
    b.flow_log("fl-forever", True, 0)
    t.plant(b.flow_log("fl-short", True, 30), "NET-006")
    t.plant(b.flow_log("fl-off", False, 90), "NET-006")
    t.plant(b.flow_log("fl-unanalysed", True, 90, analytics=False), "NET-012")
    b.resource(
        "Microsoft.Network/networkWatchers",
        "NetworkWatcher_westeurope",
        {"provisioningState": "Succeeded"},
        group="NetworkWatcherRG",
    )
    t.plant(f"{sub}/locations/northeurope", "NET-007")
    # Virtual networks and public addresses from the published examples, in a watched region.
    plan_id = b.rid("Microsoft.Network/ddosProtectionPlans", "rg-network", "ddos-plan")
    vnet = example_body("network", "VirtualNetworkGet.json")["properties"]
    nsg_ref = {"id": b.rid("Microsoft.Network/networkSecurityGroups", "rg-app", "nsg-clean")}
    guarded = [
        {**subnet, "properties": {**subnet["properties"], "networkSecurityGroup": nsg_ref}}
        for subnet in vnet["subnets"]
    ]
    gateway = {"name": "GatewaySubnet", "properties": {"addressPrefix": "10.0.255.0/27"}}
    b.resource(
        "Microsoft.Network/virtualNetworks",
        "vnet-clean",
        edited(
            vnet,
            subnets=[*guarded, gateway],
            enableDdosProtection=True,
            ddosProtectionPlan={"id": plan_id},
        ),
        group="rg-network",
    )
    open_vnet = b.resource(
        "Microsoft.Network/virtualNetworks", "vnet-open", vnet, group="rg-network"
    )["id"]
    t.plant(open_vnet, "NET-010")
    t.plant(f"{open_vnet}/subnets/subnet1", "NET-009")
    public_ip = example_body("network", "PublicIpAddressGet.json")["properties"]
    b.resource("Microsoft.Network/publicIPAddresses", "pip-used", public_ip, group="rg-network")
    t.plant(
        b.resource(
            "Microsoft.Network/publicIPAddresses",
            "pip-orphan",
            edited(public_ip, ipConfiguration=None),
            group="rg-network",
        )["id"],
        "NET-008",
    )
    bastion = example_body("network", "BastionHostGet.json")
    b.resource(
        "Microsoft.Network/bastionHosts",
        "bastion",
        bastion["properties"],
        group="rg-network",
        sku=bastion["sku"],
    )

    # Compute
    ubuntu = {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": "latest",
    }
    clean_vm = b.vm("vm-clean", ubuntu)
    # A standard (not Trusted Launch) VM that accepts SSH passwords, and one whose vTPM is off.
    linux = example_body("compute", "VirtualMachine_Create_WithSshAuthentication.json")
    password_login = linux["properties"]["osProfile"]
    password_login["linuxConfiguration"]["disablePasswordAuthentication"] = False
    t.plant(
        b.vm(
            "vm-legacy",
            ubuntu,
            protected=False,
            securityProfile=None,
            osProfile=password_login,
        ),
        "VM-007",
        "VM-008",
        "VM-011",
        "VM-012",
    )
    t.plant(
        b.vm(
            "vm-novtpm",
            ubuntu,
            securityProfile={
                "securityType": "TrustedLaunch",
                "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": False},
                "encryptionAtHost": True,
            },
        ),
        "VM-007",
    )
    t.plant(b.vm("vm-unmanaged", ubuntu, unmanaged=True), "VM-001")
    t.plant(
        b.vm(
            "vm-eol",
            {
                "publisher": "Canonical",
                "offer": "UbuntuServer",
                "sku": "18.04-LTS",
                "version": "latest",
            },
        ),
        "VM-005",
    )
    t.plant(
        b.vm(
            "vm-wordpress",
            {"publisher": "bitnami", "offer": "wordpress", "sku": "6-1", "version": "6.1.1"},
        ),
        "VM-006",
    )
    b.vm("vm-nginx", {"publisher": "bitnami", "offer": "nginx", "sku": "1-27", "version": "1.27.0"})
    cmk = "EncryptionAtRestWithCustomerKey"
    pmk = "EncryptionAtRestWithPlatformKey"
    b.disk("disk-cmk", "Attached", cmk, "DenyAll", "Disabled", owner=clean_vm)
    t.plant(
        b.disk("disk-pmk", "Attached", pmk, "AllowPrivate", "Enabled", owner=clean_vm), "VM-002"
    )
    t.plant(b.disk("disk-orphan", "Unattached", pmk, "AllowAll", "Enabled"), "VM-003", "VM-004")
    b.disk("disk-orphan-cmk", "Unattached", cmk, "AllowAll", "Disabled")
    # A disk of a deallocated VM (Reserved) is attached; one exported by SAS with no owner is not.
    b.disk("disk-reserved", "Reserved", cmk, "DenyAll", "Disabled", owner=clean_vm)
    t.plant(b.disk("disk-exported", "ActiveSAS", pmk, "DenyAll", "Disabled"), "VM-003")
    t.plant(
        b.disk("disk-sas-only", "Attached", cmk, "DenyAll", "Disabled", clean_vm, None), "VM-009"
    )

    # Key Vault: vaults from the published example, made secure unless edited
    b.vault("kv-clean")
    bad_vault = b.vault(
        "kv-bad",
        contents=False,
        logging=False,
        enablePurgeProtection=None,
        enableRbacAuthorization=False,
        publicNetworkAccess="Enabled",
        networkAcls={"defaultAction": "Allow"},
        privateEndpointConnections=None,
    )
    # The published keys (no expiry, no rotation policy) and secret (no expiry).
    keys = [edited(k, id=None) for k in example_list("keyvault", "listKeys.json")]
    t.attach(bad_vault, "keys", keys)
    t.attach(bad_vault, "secrets", [edited(example_body("keyvault", "getSecret.json"), id=None)])
    t.plant(bad_vault, "KV-001", "KV-002", "KV-003", "KV-008", "MON-008")
    for key in keys:
        t.plant(key["id"], "KV-005", "KV-009")
    t.plant(f"{bad_vault}/secrets/secret-name", "KV-007")
    b.vault(
        "kv-firewall",
        publicNetworkAccess="Enabled",
        networkAcls={"defaultAction": "Deny"},
    )
    # Soft delete explicitly off (vaults from before it became mandatory): not recoverable.
    t.plant(b.vault("kv-nosoftdelete", enableSoftDelete=False), "KV-001")
    # An RBAC vault with a key and a secret that never expire; a disabled secret is left out.
    rbac_vault = b.vault("kv-rbac-noexpiry", contents=False)
    key = edited(example_body("keyvault", "getKey.json"), id=None)
    key["properties"]["rotationPolicy"] = {
        "lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}}]
    }
    secret = edited(example_body("keyvault", "getSecret.json"), id=None)
    disabled = edited(example_body("keyvault", "getSecret.json"), id=None, name="old-secret")
    disabled["properties"]["attributes"]["enabled"] = False
    t.attach(rbac_vault, "keys", [key])
    t.attach(rbac_vault, "secrets", [secret, disabled])
    t.plant(key["id"], "KV-004")
    t.plant(secret["id"], "KV-006")

    # SQL: servers from the published example, made secure unless edited
    clean_sql = b.sql("sql-clean")
    # Firewall rules are not applied while public network access is Disabled: a dormant
    # any-address rule is not a finding. master is not encrypted by TDE and is left out.
    firewall = example_body("sql", "FirewallRuleGet.json")
    t.attach(
        clean_sql,
        "firewallRules",
        [
            edited(
                firewall,
                id=None,
                name="office",
                properties={"startIpAddress": "203.0.113.0", "endIpAddress": "203.0.113.255"},
            ),
            edited(
                firewall,
                id=None,
                name="dormant",
                properties={"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"},
            ),
        ],
    )
    b.sql_database(clean_sql, "master", tde="Disabled")
    bad_sql = b.sql(
        "sql-bad",
        settings=False,
        administrators=None,
        publicNetworkAccess="Enabled",
        minimalTlsVersion="1.0",
    )
    t.attach(
        bad_sql,
        "firewallRules",
        [
            edited(
                firewall,
                id=None,
                name="anyone",
                properties={"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"},
            ),
            # The published rule: 0.0.0.0-0.0.0.0, "Allow Azure services".
            edited(firewall, id=None, name="AllowAllWindowsAzureIps"),
        ],
    )
    # Auditing as published (Disabled), a service-managed TDE protector, threat detection off,
    # no vulnerability assessment, and a database without TDE.
    b.sql_settings(
        bad_sql,
        auditing=example_body("sql", "ServerBlobAuditingGet.json")["properties"],
        protector="ServiceManaged",
        threat_detection="Disabled",
        express_va=None,
        entra=False,
    )
    plain_db = b.sql_database(bad_sql, "app", tde="Disabled")
    t.plant(bad_sql, *(f"SQL-{n:03d}" for n in (1, 2, 3, 4, 5, 6, 7, 9, 11, 12)))
    t.plant(plain_db, "SQL-010")
    # Audit records in storage kept 30 days; the server sits behind a network security
    # perimeter (not public); its Entra administrator is only in its administrators list.
    short = b.sql(
        "sql-retention",
        settings=False,
        publicNetworkAccess="SecuredByPerimeter",
        administrators=None,
    )
    b.sql_settings(
        short,
        auditing={
            "state": "Enabled",
            "storageEndpoint": "https://auditlogs.blob.core.windows.net/",
            "retentionDays": 30,
        },
    )
    t.plant(short, "SQL-008")

    # PostgreSQL and MySQL flexible servers (published examples), Cosmos DB accounts
    office = {
        "name": "office",
        "properties": {"startIpAddress": "203.0.113.0", "endIpAddress": "203.0.113.255"},
    }
    b.postgres("pg-clean", {}, [dict(office)])
    azure_rule = {
        "name": "AllowAllAzureServicesAndResourcesWithinAzureIps_2024-1-1_0-0-0",
        "properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"},
    }
    pg_bad = b.postgres(
        "pg-bad",
        {
            "require_secure_transport": "off",
            "log_checkpoints": "off",
            "connection_throttle.enable": "off",
            "logfiles.retention_days": "3",
            "log_connections": "off",
            "log_disconnections": "off",
        },
        # The published list (rule1 spans every address) and the "any Azure service" rule.
        [*example_list("postgresql", "FirewallRuleListByServer.json"), azure_rule],
    )
    t.plant(pg_bad, *(f"DB-{n:03d}" for n in range(1, 9)))
    b.mysql("mysql-clean", {})
    mysql_bad = b.mysql(
        "mysql-bad",
        {
            "require_secure_transport": "OFF",
            "tls_version": "TLSv1,TLSv1.1,TLSv1.2",
            "audit_log_enabled": "OFF",
            "audit_log_events": "DDL,DML",
        },
    )
    t.plant(mysql_bad, "DB-009", "DB-010", "DB-011", "DB-012")
    b.cosmos("cosmos-clean")
    b.cosmos(
        "cosmos-selected",
        publicNetworkAccess="Enabled",
        isVirtualNetworkFilterEnabled=False,
        ipRules=[{"ipAddressOrRange": "203.0.113.0/24"}],
    )
    cosmos_bad = b.cosmos(
        "cosmos-open",
        publicNetworkAccess="Enabled",
        isVirtualNetworkFilterEnabled=False,
        disableLocalAuth=None,
        privateEndpointConnections=None,
    )
    t.plant(cosmos_bad, "DB-013", "DB-014", "DB-015")

    # App Service
    good_site = {"httpsOnly": True, "clientCertEnabled": True}
    good_config = {
        "minTlsVersion": "1.2",
        "scmMinTlsVersion": "1.2",
        "http20Enabled": True,
        "ftpsState": "Disabled",
        "remoteDebuggingEnabled": False,
        "httpLoggingEnabled": True,
        "cors": {"allowedOrigins": ["https://portal.contoso.example"]},
        "linuxFxVersion": "PYTHON|3.12",
    }
    closed = {"ftp": False, "scm": False}
    clean_app = b.site(
        "app-clean", good_site, good_config, {"type": "SystemAssigned"}, basic_auth=closed
    )
    # No published authsettingsV2 example is copied here: the shape of SiteAuthSettingsV2.
    t.attach(clean_app, "config/authsettingsV2", {"properties": {"platform": {"enabled": True}}})
    bad_app = b.site(
        "app-bad",
        # Certificates enabled but Optional: asked for, not required.
        {"httpsOnly": False, "clientCertEnabled": True, "clientCertMode": "Optional"},
        {
            "minTlsVersion": "1.0",
            "scmMinTlsVersion": "1.0",
            "http20Enabled": False,
            "ftpsState": "AllAllowed",
            "remoteDebuggingEnabled": True,
            "httpLoggingEnabled": False,
            "cors": {"allowedOrigins": ["*"]},
            "linuxFxVersion": "PYTHON|3.8",
        },
        {"type": "None"},
        basic_auth={"ftp": False, "scm": True},
    )
    t.attach(bad_app, "config/authsettingsV2", {"properties": {"platform": {"enabled": False}}})
    t.plant(
        bad_app,
        *("APP-001", "APP-002", "APP-003", "APP-004", "APP-005", "APP-006", "APP-007"),
        *("APP-008", "APP-009", "APP-010", "APP-011", "APP-012", "APP-013", "APP-014"),
    )
    t.plant(
        b.site(
            "app-node",
            good_site,
            {**good_config, "linuxFxVersion": "NODE|22-lts"},
            {"type": "SystemAssigned"},
        ),
        "APP-009",
    )
    t.plant(
        b.site(
            "app-php",
            good_site,
            {**good_config, "linuxFxVersion": "", "phpVersion": "7.4"},
            {"type": "UserAssigned"},
        ),
        "APP-008",
    )

    # AKS
    b.aks(
        "aks-clean",
        "1.34.1",
        enableRBAC=True,
        apiServerAccessProfile={"enablePrivateCluster": True},
        networkProfile={"networkPolicy": "azure"},
        disableLocalAccounts=True,
    )
    t.plant(
        b.aks(
            "aks-old",
            "1.27.3",
            enableRBAC=False,
            apiServerAccessProfile={"authorizedIPRanges": []},
            networkProfile={"networkPolicy": ""},
            disableLocalAccounts=False,
            aadProfile=None,
            securityProfile=None,
            addonProfiles={"azurepolicy": {"enabled": False}},
            autoUpgradeProfile={"upgradeChannel": "none"},
            agentPoolProfiles=[{"name": "nodepool1", "count": 3, "enableNodePublicIP": True}],
        ),
        *("AKS-001", "AKS-002", "AKS-003", "AKS-004", "AKS-005", "AKS-006"),
        *("AKS-007", "AKS-008", "AKS-009", "AKS-010", "AKS-011", "AKS-012", "AKS-013"),
    )
    # A policy engine turned off reads `none`: set, and no policy.
    t.plant(
        b.aks(
            "aks-nopolicy",
            "1.34.1",
            enableRBAC=True,
            apiServerAccessProfile={"enablePrivateCluster": True},
            networkProfile={"networkPlugin": "azure", "networkPolicy": "none"},
            disableLocalAccounts=True,
        ),
        "AKS-005",
    )

    # Container registries: Premium and secure, the published Standard one with the admin
    # user and anonymous pull on, and a Premium one without signing or quarantine.
    b.registry("crclean")
    published_registry = example_body("containerregistry", "RegistryGet.json")
    t.plant(
        b.resource(
            "Microsoft.ContainerRegistry/registries",
            "crlegacy",
            edited(
                published_registry["properties"], adminUserEnabled=True, anonymousPullEnabled=True
            ),
            sku=published_registry["sku"],
        )["id"],
        *("ACR-001", "ACR-002", "ACR-003", "ACR-004", "ACR-007"),
    )
    lax = b.registry(
        "crunsigned",
        policies={"trustPolicy": {"type": "Notary", "status": "disabled"}},
    )
    t.plant(lax, "ACR-005", "ACR-006")
    t.plant(
        b.aks(
            "aks-patched-minor",
            "1.33.2",
            enableRBAC=True,
            apiServerAccessProfile={"authorizedIPRanges": ["203.0.113.0/24"]},
            networkProfile={"networkPolicy": "calico"},
            disableLocalAccounts=True,
        ),
        "AKS-002",
    )

    # Monitoring
    b.alert("al-policy-write", ["Microsoft.Authorization/policyAssignments/write"])
    b.alert("al-policy-delete", ["Microsoft.Authorization/policyAssignments/delete"])
    b.alert("al-nsg-write", ["Microsoft.Network/networkSecurityGroups/write"])
    b.alert(
        "al-security",
        [
            "Microsoft.Security/securitySolutions/write",
            "Microsoft.Security/securitySolutions/delete",
        ],
        enabled=False,
    )
    for op in ("write", "delete"):
        b.alert(
            f"al-sql-{op}",
            [f"Microsoft.Sql/servers/firewallRules/{op}"],
            scope=f"{sub}/resourceGroups/rg-data",
        )
        b.alert(f"al-pip-{op}", [f"Microsoft.Network/publicIPAddresses/{op}"])
    t.plant(sub, "MON-002", "MON-004", "MON-005", "MON-006")
    t.diagnostic_settings = [
        {
            "id": f"{sub}/providers/microsoft.insights/diagnosticSettings/to-workspace",
            "name": "to-workspace",
            "properties": {
                "workspaceId": f"{sub}/resourceGroups/rg-monitor/providers/"
                "Microsoft.OperationalInsights/workspaces/law",
                "logs": [
                    {"category": "Administrative", "enabled": True},
                    {"category": "Alert", "enabled": True},
                    {"category": "Policy", "enabled": True},
                    {"category": "Security", "enabled": False},
                ],
            },
        }
    ]

    # Defender for Cloud
    for plan, tier in (
        ("VirtualMachines", "Standard"),
        ("AppServices", "Free"),
        ("SqlServers", "Standard"),
        ("StorageAccounts", "Standard"),
        ("KeyVaults", "Standard"),
        ("Arm", "Free"),
    ):
        rid = b.pricing(plan, tier)
        if tier == "Free":
            t.plant(rid, {"AppServices": "DEF-002", "Arm": "DEF-007"}[plan])
    for plan in ("CosmosDbs", "OpenSourceRelationalDatabases", "SqlServerVirtualMachines"):
        b.pricing(plan, "Standard")
    t.plant(sub, "MON-009")  # no Application Insights component
    t.plant(f"{sub}/providers/Microsoft.Security/pricings/Containers", "DEF-005")
    t.plant(f"{sub}/providers/Microsoft.Security", "DEF-008")
    # Servers on the Standard tier without a sub-plan or extensions: no Plan 2 (no DNS
    # protection, no Dns pricing either), no agentless scanning, no file integrity monitoring.
    t.plant(f"{sub}/providers/Microsoft.Security/pricings/Dns", "DEF-012")
    t.plant(f"{sub}/providers/Microsoft.Security/pricings/VirtualMachines", "DEF-013", "DEF-014")
    t.plant(b.defender_settings(endpoint_integration=False), "DEF-021")

    # Custom roles
    t.plant(b.role_definition("Super Admin", "CustomRole", ["*"], [sub]), "ID-009")
    b.role_definition("VM Reader", "CustomRole", ["Microsoft.Compute/*/read"], [sub])
    b.role_definition("Owner", "BuiltInRole", ["*"], ["/"])  # built-in: not a custom role

    # Identities
    admin1 = b.user("u-admin1", "admin1@contoso.example", last_sign_in_days=1)
    admin2 = b.user("u-admin2", "admin2@contoso.example", mfa=False, last_sign_in_days=2)
    alice = b.user("u-alice", "alice@contoso.example", last_sign_in_days=200)
    bob = b.user("u-bob", "bob@contoso.example", mfa=False, last_sign_in_days=1)
    b.user("u-carol", "carol@contoso.example", enabled=False, mfa=False, last_sign_in_days=400)
    b.user("u-new", "new@contoso.example", last_sign_in_days=None, created_days=5)
    never = b.user("u-never", "never@contoso.example", last_sign_in_days=None, created_days=300)
    guest1 = b.user(
        "g-guest1",
        "partner_fabrikam.example#EXT#@contoso.example",
        guest=True,
        mfa=False,
        last_sign_in_days=10,
    )
    guest2 = b.user(
        "g-guest2", "auditor_tailspin.example#EXT#@contoso.example", guest=True, last_sign_in_days=3
    )
    for principal in ("u-admin1", "u-admin2", "sp-automation", "u-alice", "u-bob"):
        b.assign(principal, GLOBAL_ADMIN)
    b.assign("g-guest2", SECURITY_ADMIN)
    b.assign("u-carol", READER_ROLE)
    t.plant(admin2, "ID-001", "ID-002")
    t.plant(bob, "ID-001", "ID-002")
    t.plant(guest1, "ID-003")
    t.plant(guest2, "ID-003", "ID-008")
    t.plant(alice, "ID-004")
    t.plant(never, "ID-004")
    t.plant(f"/directoryRoles/{GLOBAL_ADMIN}", "ID-005")
    t.plant("/policies/identitySecurityDefaultsEnforcementPolicy", "ID-006")
    # The administrators' policy covers every app (admin portals included) for their roles;
    # nothing requires MFA of all users for the Azure management API or risky sign-ins, or
    # blocks the device code flow.
    t.plant("/identity/conditionalAccess/policies", "ID-010", "ID-012", "ID-014")
    t.plant("/identity/conditionalAccess/namedLocations", "ID-013")
    # The authorization policy as a new tenant has it (Graph's defaults).
    t.plant("/policies/authorizationPolicy", "ID-015", "ID-016", "ID-017", "ID-018", "ID-019")
    t.plant("/policies/authorizationPolicy", "ID-020")
    t.plant(f"{sub}/providers/Microsoft.Authorization/roleDefinitions", "ID-021")
    assert admin1  # a compliant administrator: no finding
    t.security_defaults_enabled = False
    t.conditional_access = [
        _ca_policy(
            "ca-admins",
            "Require MFA for administrators",
            "enabled",
            roles=[GLOBAL_ADMIN, SECURITY_ADMIN],
        ),
        _ca_policy(
            "ca-all",
            "MFA for everyone (report only)",
            "enabledForReportingButNotEnforced",
            users=["All"],
        ),
    ]

    # OSV
    b.vulnerability(("Go", "k8s.io/kubernetes", "1.27.3"), "GHSA-fake-k8s-0001", "CVE-2023-2727")
    b.vulnerability(("Go", "k8s.io/kubernetes", "1.27.3"), "GHSA-fake-k8s-0002", "CVE-2023-2728")
    b.vulnerability(("Go", "k8s.io/kubernetes", "1.33.2"), "GHSA-fake-k8s-0003", "CVE-2025-0426")
    b.vulnerability(("Bitnami", "python", "3.8"), "BIT-python-fake-0001", "CVE-2023-24329")
    b.vulnerability(("Bitnami", "node", "22"), "BIT-node-fake-0001", "CVE-2024-27983")
    b.vulnerability(("Bitnami", "wordpress", "6.1.1"), "BIT-wordpress-fake-0001", "CVE-2023-2745")
    return t


def _ca_policy(
    policy_id: str,
    name: str,
    state: str,
    users: list[str] | None = None,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": policy_id,
        "displayName": name,
        "state": state,
        "conditions": {
            "users": {
                "includeUsers": users or [],
                "excludeUsers": [],
                "includeRoles": roles or [],
                "includeGroups": [],
                "excludeGroups": [],
                "excludeRoles": [],
            },
            "applications": {"includeApplications": ["All"], "excludeApplications": []},
            "clientAppTypes": ["all"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    }


def generated_tenant(resources: int, users: int, seed: int = 7) -> Tenant:
    """A large tenant for the benchmark: `resources` resources of the scanned types (about one
    in five misconfigured), `users` users (some guests, some without MFA, some stale)."""
    rng = random.Random(seed)
    t = Tenant()
    b = Builder(t)
    _common(b)
    locations = ["westeurope", "northeurope", "eastus", "westus2"]
    for location in locations[:3]:
        b.resource(
            "Microsoft.Network/networkWatchers",
            f"NetworkWatcher_{location}",
            {"provisioningState": "Succeeded"},
            group="NetworkWatcherRG",
            location=location,
        )
    k8s_versions = ["1.27.3", "1.31.4", "1.33.2", "1.34.1"]
    runtimes = ["PYTHON|3.8", "PYTHON|3.12", "NODE|22-lts", "NODE|18-lts", "PHP|8.3"]
    ubuntu = {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": "latest",
    }
    eol = {
        "publisher": "Canonical",
        "offer": "UbuntuServer",
        "sku": "18.04-LTS",
        "version": "latest",
    }
    makers = ["storage", "nsg", "vm", "disk", "vault", "sql", "site", "aks", "flowlog"]
    created = 3  # the Network Watchers
    i = 0
    while created < resources:
        kind = makers[i % len(makers)]
        bad = rng.random() < 0.2
        name = f"{kind}{i:06d}"
        if kind == "storage":
            account = b.storage(
                name, location=rng.choice(locations), services=False, allowBlobPublicAccess=bad
            )
            retention = {"enabled": not bad, "days": 7}
            t.attach(
                account,
                "blobServices/default",
                {
                    "type": "Microsoft.Storage/storageAccounts/blobServices",
                    "properties": {
                        "deleteRetentionPolicy": retention,
                        "containerDeleteRetentionPolicy": retention,
                    },
                },
            )
        elif kind == "nsg":
            port = rng.choice(["22", "3389", "443", "53"]) if bad else "443"
            b.nsg(name, [{"name": "in", "port": port, "source": "*" if bad else "10.0.0.0/8"}])
        elif kind == "vm":
            b.vm(name, eol if bad else ubuntu, unmanaged=bad and rng.random() < 0.5)
        elif kind == "disk":
            b.disk(
                name,
                "Unattached" if bad else "Attached",
                "EncryptionAtRestWithPlatformKey" if bad else "EncryptionAtRestWithCustomerKey",
                "DenyAll",
                "Disabled",
            )
        elif kind == "vault":
            vault = b.vault(
                name,
                contents=False,
                enablePurgeProtection=not bad,
                enableRbacAuthorization=True,
                publicNetworkAccess="Disabled",
            )
            expiry = {} if bad else {"exp": 1893456000}
            for kind_of_item in ("keys", "secrets"):
                t.attach(
                    vault,
                    kind_of_item,
                    [
                        {
                            "name": f"{kind_of_item}-{n}",
                            "properties": {"attributes": {"enabled": True, **expiry}},
                        }
                        for n in range(2)
                    ],
                )
        elif kind == "sql":
            server = b.sql(
                name,
                settings=False,
                publicNetworkAccess="Enabled" if bad else "Disabled",
                minimalTlsVersion="1.2",
            )
            rules = [
                b.firewall_rule(f"office{n}", f"198.51.{n}.0", f"198.51.{n}.255")
                for n in range(1 + i % 3)
            ]
            if bad and rng.random() < 0.5:
                rules.append(b.firewall_rule("anyone", "0.0.0.0", "255.255.255.255"))
            t.attach(server, "firewallRules", rules)
        elif kind == "site":
            b.site(
                name,
                {"httpsOnly": not bad, "clientCertEnabled": True},
                {
                    "minTlsVersion": "1.2",
                    "http20Enabled": True,
                    "ftpsState": "Disabled",
                    "linuxFxVersion": rng.choice(runtimes),
                },
                {"type": "SystemAssigned"},
                basic_auth={"ftp": bad, "scm": bad},
            )
        elif kind == "aks":
            b.aks(
                name,
                rng.choice(k8s_versions),
                enableRBAC=True,
                apiServerAccessProfile={"enablePrivateCluster": not bad},
                networkProfile={"networkPolicy": "azure"},
                disableLocalAccounts=True,
            )
        else:
            b.flow_log(name, True, 30 if bad else 90)
        created += 1
        i += 1
    for plan in (
        "VirtualMachines",
        "AppServices",
        "SqlServers",
        "StorageAccounts",
        "Containers",
        "KeyVaults",
        "Arm",
        "CosmosDbs",
        "OpenSourceRelationalDatabases",
        "SqlServerVirtualMachines",
        "Dns",
    ):
        b.pricing(plan, "Standard")
    b.defender_settings(endpoint_integration=True)
    b.role_definition("Super Admin", "CustomRole", ["*"], [f"/subscriptions/{t.subscription_id}"])
    t.diagnostic_settings = []
    moment_days = [1, 3, 20, 45, 120, 400]
    for n in range(users):
        guest = n % 20 == 0
        b.user(
            f"user-{n:06d}",
            f"user{n}@contoso.example",
            guest=guest,
            mfa=n % 9 != 0,
            last_sign_in_days=rng.choice(moment_days),
        )
    for n in range(6):
        b.assign(f"user-{n * 7:06d}", GLOBAL_ADMIN)
    for n in range(200):
        b.assign(f"user-{n * 13:06d}", rng.choice([SECURITY_ADMIN, READER_ROLE]))
    t.conditional_access = [
        _ca_policy("ca-admins", "Require MFA for administrators", "enabled", roles=[GLOBAL_ADMIN])
    ]
    for version in k8s_versions[:3]:
        b.vulnerability(
            ("Go", "k8s.io/kubernetes", version), f"GHSA-gen-{version}", "CVE-2024-0001"
        )
    b.vulnerability(("Bitnami", "python", "3.8"), "BIT-python-gen-1", "CVE-2023-24329")
    b.vulnerability(("Bitnami", "node", "18"), "BIT-node-gen-1", "CVE-2024-27983")
    return t


# A tenant with several subscriptions: two more beside SUBSCRIPTION_ID, and the subscription
# of the published management-group example, which this identity cannot read.
SECOND_SUBSCRIPTION_ID = "6f2a3b4c-5d6e-4f70-9a0b-1c2d3e4f5a6b"
THIRD_SUBSCRIPTION_ID = "7a3b4c5d-6e7f-4a81-8b1c-2d3e4f5a6b7c"
MANAGEMENT_GROUP_ID = "20000000-0000-0000-0000-000000000000"
# The published example's own entries (a child group, a subscription) are served as they are.
UNREADABLE_SUBSCRIPTION_ID = "20000000-0004-0000-0000-000000000000"


def _group_entry(subscription: str, name: str, parent: str) -> dict[str, Any]:
    """A descendant entry of type subscription, shaped like the published example's."""
    entry = next(
        e
        for e in example_list("managementgroups", "GetDescendants.json")
        if e["type"] == "Microsoft.Management/managementGroups/subscriptions"
    )
    entry["name"], entry["id"] = subscription, f"/subscriptions/{subscription}"
    entry["properties"]["displayName"] = name
    groups = "/providers/Microsoft.Management/managementGroups"
    entry["properties"]["parent"]["id"] = f"{groups}/{parent}"
    return entry


def multi_subscription_tenant() -> Tenant:
    """Three readable subscriptions and one unreadable (403), under one management group.

    Planted, per subscription (rules ST-001, DEF-007, DEF-008, ID-009 read each one):
    the first has an HTTP-only storage account, Defender for Resource Manager on Free, a
    custom role with every action; the second an HTTP-only storage account and no Defender
    plans; the third is clean (Defender on, Microsoft.Security registered). Microsoft.Security
    is not registered in the first two. The tenant has one member user without MFA (ID-001:
    one tenant-wide finding, whatever the number of subscriptions)."""
    t = Tenant(resource_graph_page_size=2, graph_page_size=3)
    b = Builder(t)
    _common(b)
    first = f"/subscriptions/{t.subscription_id}"
    b.storage("stclean1")
    t.plant(b.storage("sthttp1", supportsHttpsTrafficOnly=False), "ST-001")
    t.plant(b.pricing("Arm", "Free"), "DEF-007")
    t.plant(f"{first}/providers/Microsoft.Security", "DEF-008")
    t.plant(b.role_definition("Super Admin", "CustomRole", ["*"], [first]), "ID-009")
    b.user("u-admin1", "admin1@contoso.example")
    t.plant(b.user("u-bob", "bob@contoso.example", mfa=False), "ID-001")

    second = Tenant(subscription_id=SECOND_SUBSCRIPTION_ID, resource_graph_page_size=2)
    b2 = Builder(second)
    _common(b2)
    b2.storage("stclean2")
    sub2 = f"/subscriptions/{second.subscription_id}"
    t.plant(b2.storage("sthttp2", supportsHttpsTrafficOnly=False), "ST-001")
    t.plant(f"{sub2}/providers/Microsoft.Security/pricings/Arm", "DEF-007")
    t.plant(f"{sub2}/providers/Microsoft.Security", "DEF-008")

    third = Tenant(subscription_id=THIRD_SUBSCRIPTION_ID, resource_graph_page_size=2)
    b3 = Builder(third)
    _common(b3)
    third.providers.append({"namespace": "Microsoft.Security", "registrationState": "Registered"})
    b3.storage("stclean3")
    b3.pricing("Arm", "Standard")

    t.subscriptions = [second, third]
    t.unreadable_subscriptions = {UNREADABLE_SUBSCRIPTION_ID}
    published = example_list("managementgroups", "GetDescendants.json")
    child_group = published[0]["name"]
    t.management_groups = {
        MANAGEMENT_GROUP_ID: [
            *published,
            _group_entry(t.subscription_id, "Production", MANAGEMENT_GROUP_ID),
            _group_entry(second.subscription_id, "Staging", child_group),
            _group_entry(third.subscription_id, "Sandbox", child_group),
        ],
        "empty-group": [published[0]],
    }
    t.management_group_page_size = 2
    return t


def with_more_subscriptions(tenant: Tenant) -> Tenant:
    """`tenant` (whose subscription is SUBSCRIPTION_ID) with the other subscriptions and the
    management group of `multi_subscription_tenant` beside it."""
    more = multi_subscription_tenant()
    tenant.subscriptions = more.subscriptions
    tenant.unreadable_subscriptions = more.unreadable_subscriptions
    tenant.management_groups = more.management_groups
    tenant.management_group_page_size = more.management_group_page_size
    return tenant
