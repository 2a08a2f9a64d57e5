"""Storage accounts (CIS section 3). All declared as data over the account's properties."""

from __future__ import annotations

from scanner.subscription.rules.base import property_rule

ACCOUNT = "microsoft.storage/storageaccounts"

RULES = [
    property_rule(
        id="ST-001",
        title="Storage account does not require secure transfer (HTTPS)",
        severity="high",
        family="storage",
        resource_type=ACCOUNT,
        passes_if=[
            {"path": "properties.supportsHttpsTrafficOnly", "equals": True, "missing": "pass"}
        ],
        message="requests over plain HTTP are accepted",
        description="Without 'secure transfer required', data and shared keys can travel "
        "unencrypted over HTTP and SMB without encryption.",
        remediation="Set 'Secure transfer required' to Enabled "
        "(az storage account update --https-only true).",
        cis=["3.1"],
    ),
    property_rule(
        id="ST-002",
        title="Storage account does not use infrastructure (double) encryption",
        severity="low",
        family="storage",
        resource_type=ACCOUNT,
        passes_if=[
            {"path": "properties.encryption.requireInfrastructureEncryption", "equals": True}
        ],
        message="infrastructure encryption is off",
        description="A second layer of encryption at the infrastructure level protects data "
        "if one encryption algorithm or key is compromised.",
        remediation="Infrastructure encryption can only be chosen when the account is created: "
        "create a new account with it enabled and migrate the data.",
        cis=["3.2"],
    ),
    property_rule(
        id="ST-003",
        title="Storage account has no access-key rotation reminder",
        severity="low",
        family="storage",
        resource_type=ACCOUNT,
        passes_if=[{"path": "properties.keyPolicy.keyExpirationPeriodInDays", "present": True}],
        message="no key expiration policy is set",
        description="Shared keys that are never rotated stay valid forever once leaked.",
        remediation="Set a key expiration policy (e.g. 90 days) and rotate the access keys "
        "before they expire.",
        cis=["3.3", "3.4"],
    ),
    property_rule(
        id="ST-004",
        title="Storage account allows anonymous (public) blob access",
        severity="high",
        family="storage",
        resource_type=ACCOUNT,
        passes_if=[{"path": "properties.allowBlobPublicAccess", "equals": False}],
        message="containers can be made publicly readable",
        description="Anonymous read access exposes blobs to anyone who knows or guesses the URL.",
        remediation="Set 'Allow Blob anonymous access' to Disabled on the account.",
        cis=["3.7"],
    ),
    property_rule(
        id="ST-005",
        title="Storage account network access is not restricted by default",
        severity="medium",
        family="storage",
        resource_type=ACCOUNT,
        passes_if=[
            {"path": "properties.networkAcls.defaultAction", "equals": "Deny"},
            {"path": "properties.publicNetworkAccess", "equals": "Disabled"},
        ],
        message="the firewall default action allows all networks",
        description="An account reachable from all networks relies on keys alone; a default "
        "deny rule limits access to chosen networks and private endpoints.",
        remediation="Set the firewall's default action to Deny and allow selected virtual "
        "networks, IP ranges or private endpoints.",
        cis=["3.8"],
    ),
    property_rule(
        id="ST-006",
        title="Storage account firewall does not let trusted Azure services through",
        severity="low",
        family="storage",
        resource_type=ACCOUNT,
        applies_if=[{"path": "properties.networkAcls.defaultAction", "equals": "Deny"}],
        passes_if=[{"path": "properties.networkAcls.bypass", "contains": "AzureServices"}],
        message="trusted Microsoft services are blocked by the firewall",
        description="With a restrictive firewall, services such as Azure Backup and Monitor "
        "need the trusted-services exception to keep working.",
        remediation="Add 'AzureServices' to the firewall's bypass list.",
        cis=["3.9"],
    ),
    property_rule(
        id="ST-007",
        title="Storage account accepts TLS versions below 1.2",
        severity="medium",
        family="storage",
        resource_type=ACCOUNT,
        passes_if=[{"path": "properties.minimumTlsVersion", "at_least": "TLS1_2"}],
        message="minimum TLS version is below 1.2",
        description="TLS 1.0 and 1.1 have known weaknesses and are deprecated.",
        remediation="Set the minimum TLS version to TLS1_2.",
        cis=["3.15"],
    ),
]
