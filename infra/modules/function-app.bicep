// The Function App on a Flex Consumption plan (Linux, Python 3.11), running as the user-assigned
// identity, with identity-based host storage and Entra-authenticated Application Insights.
//
// App settings: every name the code reads is either set here, in a variable whose name ends in
// `AppSettings` (tests/infra/test_settings_coverage.py reads the keys of those object literals),
// or listed as optional in docs/settings.md. Flex Consumption takes the runtime from
// functionAppConfig.runtime, so FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are
// deliberately not app settings (Flex rejects them).
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
@description('Connection string of the Application Insights component (no key: local auth is off).')
param applicationInsightsConnectionString string
param keyVaultName string
@description('Subnet to integrate with (vnetEnabled). Empty: no VNet integration.')
param virtualNetworkSubnetId string = ''
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048
param taskHubName string
param pythonThreadCount int
param scanApiKeysSecretName string
param sshPrivateKeySecretName string
param sshPrivateKeyPassphraseSecretName string = ''
param sshDefaultUsername string
param sshHostKeyPolicy string
param sshConnectTimeoutSeconds int
param sshCommandTimeoutSeconds int
param graphEndpoint string
param osvEndpoint string
param scanSubscriptionIds array = []
param historyRetentionDays int
@description('Tenant whose Entra ID access tokens the API accepts.')
param entraTenantId string
@description('Client id of the API\'s app registration. Empty: Entra ID sign-in off, API keys only.')
param entraApiClientId string = ''

@description('Origins whose pages may call the API from a browser (the dashboard). Empty: none.')
param allowedOrigins array = []

// Endpoints are built from names (standard DNS endpoints), not read from the resources: the
// app settings below are iterated with a for-expression, which Bicep only allows over values
// known when the deployment starts (parameters, environment()), not over runtime properties.
var blobEndpoint = 'https://${storageAccountName}.blob.${environment().suffixes.storage}/'
var queueEndpoint = 'https://${storageAccountName}.queue.${environment().suffixes.storage}/'
var tableEndpoint = 'https://${storageAccountName}.table.${environment().suffixes.storage}/'
var vaultUri = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/'

var appSettings = {
  // Host storage (Durable task hub, timers) and the app's own tables and blobs: identity-based.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  TASKHUB_NAME: taskHubName
  PYTHON_THREADPOOL_THREAD_COUNT: string(pythonThreadCount)
  // Telemetry: ingestion authenticates as the identity (local auth is disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
  // azure-identity: which managed identity DefaultAzureCredential / ManagedIdentityCredential use.
  AZURE_CLIENT_ID: identityClientId
  AZURE_AUTHORITY_HOST: environment().authentication.loginEndpoint
  ARM_ENDPOINT: environment().resourceManager
  GRAPH_ENDPOINT: graphEndpoint
  OSV_ENDPOINT: osvEndpoint
  KEY_VAULT_URL: vaultUri
  // The app reads the scoped API keys from this Key Vault secret itself (again every few
  // minutes), so keys rotate without a restart.
  SCAN_API_KEYS_SECRET: scanApiKeysSecretName
  // Entra ID sign-in: v2.0 access tokens of this tenant for the API's app registration.
  ENTRA_TENANT_ID: empty(entraApiClientId) ? '' : entraTenantId
  ENTRA_API_AUDIENCE: empty(entraApiClientId) ? '' : '${entraApiClientId},api://${entraApiClientId}'
  SCAN_SUBSCRIPTION_IDS: join(scanSubscriptionIds, ',')
  SSH_PRIVATE_KEY_SECRET: sshPrivateKeySecretName
  SSH_DEFAULT_USERNAME: sshDefaultUsername
  SSH_HOST_KEY_POLICY: sshHostKeyPolicy
  SSH_CONNECT_TIMEOUT_S: string(sshConnectTimeoutSeconds)
  SSH_COMMAND_TIMEOUT_S: string(sshCommandTimeoutSeconds)
  REPO_ALLOW_LOCAL_PATHS: 'false'
  HISTORY_RETENTION_DAYS: string(historyRetentionDays)
  // Timer schedules (NCRONTAB, seconds first): the timer functions cannot load without them.
  SCAN_SCHEDULER_CRON: '0 * * * * *'
  HISTORY_PURGE_CRON: '0 30 3 * * *'
}

var passphraseReference = '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${sshPrivateKeyPassphraseSecretName}/)'
var passphraseAppSettings = empty(sshPrivateKeyPassphraseSecretName) ? {} : {
  SSH_PRIVATE_KEY_PASSPHRASE: passphraseReference
}

var allAppSettings = union(appSettings, passphraseAppSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Flex Consumption (FC1) is a serverless plan with no instance count to spread over zones here; zone redundancy is a separate Flex option we do not enable by default because few regions offer it.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_16:The app authenticates every call but /api/health itself: Entra ID access tokens (checked against the tenant's keys, roles from the app registration) or scoped API keys from Key Vault. App Service Authentication in front would lock out the key-based pipelines.
  //checkov:skip=CKV_AZURE_17:Client certificates would lock out the dashboard and scripts, which authenticate with Entra ID tokens or X-API-Key over TLS.
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales instances by demand (to zero when idle); there is no fixed instance count to raise for failover.
  //checkov:skip=CKV_AZURE_213:Flex Consumption replaces unhealthy instances itself; App Service health-check eviction is for plans with a fixed instance pool. GET /api/health (no key needed) serves external availability probes.
  //checkov:skip=CKV_AZURE_222:The HTTP API is the product: dashboards and scripts call it from outside Azure. Every route but /api/health requires an Entra ID token or an API key, with a role per route; private hosts are reached outbound through the optional VNet integration.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: allowedOrigins
        supportCredentials: false
      }
      appSettings: [
        for setting in items(allAppSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No FTP or basic-auth publishing: azd deploys with an Entra token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output uri string = 'https://${site.properties.defaultHostName}'
