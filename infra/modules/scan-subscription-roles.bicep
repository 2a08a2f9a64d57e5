// Read-only access for the app's identity to one subscription it scans (deployed once per
// entry of scanSubscriptionIds, at that subscription's scope): Reader for the resource
// inventory (ARM, Resource Graph), Security Reader for Defender for Cloud assessments.
targetScope = 'subscription'

param principalId string

var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var securityReaderRoleId = '39bc4728-0917-49c7-9d2c-d95423bc2eb4'

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, readerRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource securityReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, securityReaderRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', securityReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
