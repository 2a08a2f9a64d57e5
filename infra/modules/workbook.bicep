// Azure Monitor workbook "Scans": scans by status, duration and findings, built on the
// `scan.finished` / `scan.started` log records (orchestrations/telemetry.py) in Application
// Insights. Open it from the Application Insights resource > Workbooks.
param location string
param tags object = {}
param applicationInsightsId string

var content = loadTextContent('../workbooks/scans.workbook.json')

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'scan-orchestrator-scans-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Scan orchestrator: scans'
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: applicationInsightsId
    serializedData: replace(content, '__APPLICATION_INSIGHTS_ID__', applicationInsightsId)
  }
}

output id string = workbook.id
