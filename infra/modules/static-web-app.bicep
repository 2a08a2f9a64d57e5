// The dashboard as an Azure Static Web App: static files only (no API of its own, no build on
// Azure's side); azd deploys the folder docs/deploy.md describes. The pages call the Function
// App's API cross-origin, which allows this site's origin only (CORS).

param name string
param location string
param tags object = {}

@allowed([
  'Free'
  'Standard'
])
// Not `skuName`: checkov resolves parameters by name across modules, and storage.bicep's
// `skuName` would then sometimes read 'Free' (a false CKV_AZURE_206 failure).
@description('Free is enough for static pages; Standard adds custom auth providers and an SLA.')
param tier string = 'Free'

resource site 'Microsoft.Web/staticSites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'web'
  })
  sku: {
    name: tier
    tier: tier
  }
  properties: {
    // Deployed by azd with a deployment token, not from a linked repository.
    provider: 'None'
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
    publicNetworkAccess: 'Enabled'
  }
}

output name string = site.name
output uri string = 'https://${site.properties.defaultHostname}'
