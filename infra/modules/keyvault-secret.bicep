// One Key Vault secret (the initial API keys; keyvault.bicep decides whether to write it).
param vaultName string
param secretName string
@secure()
param value string
param contentType string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  //checkov:skip=CKV_AZURE_41:The app reads this secret (SCAN_API_KEYS_SECRET) every few minutes; an expiry date would switch the API keys off at that moment. Operators rotate the keys (docs/operations.md) instead.
  parent: vault
  name: secretName
  properties: {
    value: value
    contentType: contentType
  }
}
