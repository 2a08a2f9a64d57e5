// Key Vault for the app's secrets: the scoped API keys (secret `scan-api-keys`, which the app
// reads itself: SCAN_API_KEYS_SECRET), the SSH private key (and passphrase) for host scans, and repository access
// tokens. RBAC authorization only (no access policies); purge protection on, so a deleted
// secret or vault can be recovered for 90 days and cannot be destroyed before that.
param name string
param location string
param tags object = {}
param logAnalyticsWorkspaceId string
param scanApiKeysSecretName string
@secure()
param initialScanApiKeys string
@description('Write initialScanApiKeys to the API key secret (first provision only: later ones keep what operators rotated in).')
param writeInitialScanApiKeys bool = false

// Public endpoint on purpose, RBAC-guarded: operators store SSH keys and tokens from their
// workstations, and the Functions platform resolves Key Vault references over it.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109:Operators set SSH keys and repository tokens from their workstations and the Functions platform resolves Key Vault references without VNet routing, so no IP firewall. Access is Entra RBAC only (no access policies, no keys), purge-protected, and every data-plane call is audited to Log Analytics.
  //checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109: the public endpoint is needed by operators and by Key Vault reference resolution; RBAC-only authorization and audit logs protect it.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// The initial API key: `deployer`, an admin key (entries are `name:role:key`, comma-separated).
// Written only on an environment's first provision, so a later `azd provision` never overwrites
// keys operators added or rotated in.
module apiKeySecret 'keyvault-secret.bicep' = if (writeInitialScanApiKeys) {
  name: 'scan-api-keys-secret'
  params: {
    vaultName: vault.name
    secretName: scanApiKeysSecretName
    value: 'deployer:admin:${initialScanApiKeys}'
    contentType: 'text/plain; comma-separated name:role:key entries'
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'keyvault-audit'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
