"""Inventory collection: Azure Resource Graph and ARM (azure-mgmt-*), Microsoft Graph
(msgraph-sdk, imported lazily) and the credential they share."""
