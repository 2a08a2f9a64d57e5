// The app's storage account: Durable Functions task hub (queues, tables, blobs), the scan
// projection (tables, blobs) and the Flex Consumption deployment package container.
// Entra ID only: shared-key access is off, so no connection string with a key exists anywhere.
param name string
param location string
param tags object = {}
param deploymentContainerName string
@description('True when the app reaches storage through private endpoints only (vnetEnabled).')
param privateNetworkOnly bool = false
param logAnalyticsWorkspaceId string

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Replication (geo-redundant by default: scan history and reports survive a regional outage).')
param skuName string = 'Standard_GRS'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35:The default action is Deny whenever vnetEnabled (the app then uses private endpoints). Without VNet integration a Flex Consumption app reaches storage from shared outbound addresses, so a firewall would lock it out; access is Entra RBAC only (shared keys disabled), HTTPS and TLS 1.2 only, no public blobs.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: privateNetworkOnly ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworkOnly ? 'Deny' : 'Allow'
    }
    encryption: {
      requireInfrastructureEncryption: true
      keySource: 'Microsoft.Storage'
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Data-plane audit of changes (who wrote or deleted what) for blobs and tables, kept in Log
// Analytics. Reads are not logged: Durable Functions polls storage constantly, so read logs
// would cost far more than they tell. Queues carry only Durable Functions' own messages.
var auditLogs = [
  {
    category: 'StorageWrite'
    enabled: true
  }
  {
    category: 'StorageDelete'
    enabled: true
  }
]

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'storage-audit'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: auditLogs
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'storage-audit'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: auditLogs
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
