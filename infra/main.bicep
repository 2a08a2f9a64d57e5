// Scan orchestration service on Azure: the entry point `azd up` / `azd provision` deploys.
//
// Subscription scope, because it creates the resource group and grants the app's identity
// Reader + Security Reader on every subscription it is told to scan. Everything the app reaches
// (storage, Key Vault, Application Insights) is reached with the user-assigned managed identity:
// no account keys, no instrumentation keys, no secrets in app settings.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; the base of the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of all resources. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person running azd (AZURE_PRINCIPAL_ID). Gets data access to storage and may manage Key Vault secrets. Empty: none.')
param principalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
@description('Kind of principal principalId names.')
param principalType string = 'User'

@description('Comma-separated subscription ids the app scans by default. Its identity gets Reader and Security Reader on each (the deploying user needs Owner or User Access Administrator there).')
param scanSubscriptionIds string = ''

@description('Integrate the app with a new virtual network (outbound to private hosts) and put storage behind private endpoints.')
param vnetEnabled bool = false

@description('Address space of the virtual network when vnetEnabled.')
param vnetAddressPrefix string = '10.60.0.0/16'

@description('Subnet the app integrates with (delegated to Microsoft.App/environments).')
param appSubnetPrefix string = '10.60.1.0/24'

@description('Subnet for the storage private endpoints.')
param privateEndpointSubnetPrefix string = '10.60.2.0/24'

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Storage replication. Geo-redundant by default so scan history and reports survive a regional outage; GZRS adds zone redundancy where the region has zones.')
param storageSkuName string = 'Standard_GRS'

@description('Durable Functions task hub name (TASKHUB_NAME).')
param taskHubName string = 'ScanHub'

@minValue(1)
@maxValue(1000)
@description('Flex Consumption: most instances the app scales out to.')
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption: memory of one instance.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(64)
@description('Python worker threads per instance (PYTHON_THREADPOOL_THREAD_COUNT).')
param pythonThreadCount int = 32

@description('Key Vault secret holding the SSH private key (PEM/OpenSSH) for host scans.')
param sshPrivateKeySecretName string = 'ssh-private-key'

@description('Key Vault secret holding the SSH key passphrase. Empty: the key has none and SSH_PRIVATE_KEY_PASSPHRASE is not set.')
param sshPrivateKeyPassphraseSecretName string = ''

@description('SSH user when a host registration names none.')
param sshDefaultUsername string = 'scanner'

@allowed([
  'accept-new'
  'strict'
])
@description('SSH host-key policy: accept-new records a host key at first contact and rejects a changed one later; strict accepts only registered keys.')
param sshHostKeyPolicy string = 'accept-new'

@minValue(1)
@maxValue(120)
param sshConnectTimeoutSeconds int = 10

@minValue(1)
@maxValue(600)
param sshCommandTimeoutSeconds int = 30

@description('Microsoft Graph endpoint (sovereign clouds differ).')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('OSV vulnerability API endpoint used for CVE enrichment.')
param osvEndpoint string = 'https://api.osv.dev'

@minValue(1)
@maxValue(3650)
@description('Days of scan history and Durable instance history kept before the purge timer removes them.')
param historyRetentionDays int = 30

@minValue(30)
@maxValue(730)
@description('Days Log Analytics keeps telemetry.')
param logRetentionDays int = 30

@allowed([
  'westus2'
  'centralus'
  'eastus2'
  'westeurope'
  'eastasia'
])
@description('Region of the dashboard (Static Web Apps run in these regions only; the pages are served from a global edge anyway).')
param dashboardLocation string = 'westeurope'

@secure()
@description('Value written to the scan-api-keys secret on the first provision of an environment (azd passes the current secret, or a random one when there is none).')
param initialScanApiKeys string

@description('Client id of the API\'s Entra app registration (ENTRA_API_CLIENT_ID; docs/identity.md makes it). Set: the API accepts Entra ID access tokens for it, with roles from its app roles. Empty: API keys only.')
param entraApiClientId string = ''

@description('Key Vault name azd recorded after an earlier provision (AZURE_KEY_VAULT_NAME). Non-empty: the API key secret already exists and is left alone.')
param existingKeyVaultName string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  workload: 'scan-orchestrator'
}
// 'a, b' -> ['a', 'b']; an empty string -> [] (no role assignments, no default subscriptions).
var scanSubscriptionIdsCompact = toLower(replace(replace(scanSubscriptionIds, ' ', ''), ';', ','))
var scanSubscriptions = empty(scanSubscriptionIdsCompact) ? [] : split(scanSubscriptionIdsCompact, ',')
var functionAppName = 'func-scan-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var scanApiKeysSecretName = 'scan-api-keys'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-scan-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    skuName: storageSkuName
    privateNetworkOnly: vnetEnabled
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module storagePrivateEndpoints 'modules/storage-private-endpoints.bicep' = if (vnetEnabled) {
  name: 'storage-private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    virtualNetworkName: vnetEnabled ? network.outputs.name : ''
    subnetId: vnetEnabled ? network.outputs.privateEndpointSubnetId : ''
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    scanApiKeysSecretName: scanApiKeysSecretName
    initialScanApiKeys: initialScanApiKeys
    writeInitialScanApiKeys: empty(existingKeyVaultName) && !empty(initialScanApiKeys)
  }
}

module roleAssignments 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module scanSubscriptionRoles 'modules/scan-subscription-roles.bicep' = [
  for (subscriptionId, i) in scanSubscriptions: if (!empty(subscriptionId)) {
    name: 'scan-roles-${i}-${uniqueString(subscriptionId, resourceToken)}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.outputs.principalId
    }
  }
]

module dashboard 'modules/static-web-app.bicep' = {
  name: 'dashboard'
  scope: rg
  params: {
    name: 'swa-scan-${resourceToken}'
    location: dashboardLocation
    tags: tags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    keyVaultName: keyVault.outputs.name
    virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : ''
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    taskHubName: taskHubName
    pythonThreadCount: pythonThreadCount
    scanApiKeysSecretName: scanApiKeysSecretName
    sshPrivateKeySecretName: sshPrivateKeySecretName
    sshPrivateKeyPassphraseSecretName: sshPrivateKeyPassphraseSecretName
    sshDefaultUsername: sshDefaultUsername
    sshHostKeyPolicy: sshHostKeyPolicy
    sshConnectTimeoutSeconds: sshConnectTimeoutSeconds
    sshCommandTimeoutSeconds: sshCommandTimeoutSeconds
    graphEndpoint: graphEndpoint
    osvEndpoint: osvEndpoint
    scanSubscriptionIds: scanSubscriptions
    historyRetentionDays: historyRetentionDays
    entraTenantId: tenant().tenantId
    entraApiClientId: entraApiClientId
    // The dashboard's pages call the API from the Static Web App's origin, and only from there.
    allowedOrigins: [
      dashboard.outputs.uri
    ]
  }
  // The host reads storage and Key Vault references as soon as it starts: grant first.
  dependsOn: [
    roleAssignments
    storagePrivateEndpoints
  ]
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

// azd stores these in the environment (.azure/<env>/.env); docs/deploy.md uses them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output SERVICE_WEB_NAME string = dashboard.outputs.name
output SERVICE_WEB_URI string = dashboard.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SCAN_IDENTITY_NAME string = identity.outputs.name
output SCAN_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SCAN_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output SCAN_WORKBOOK_ID string = workbook.outputs.id
