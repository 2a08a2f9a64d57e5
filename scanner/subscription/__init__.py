"""Subscription scans: Azure security rules over an inventory collected once per scan
(Resource Graph, ARM, Microsoft Graph), with CVE enrichment from OSV.

- `engine.SubscriptionEngine`: plan (collect, enrich, store) -> run (one rule) -> summarize.
- `rules/`: one module per rule family; `rules.all_rules()` discovers them.
- `collect/`: the SDK clients (azure-identity, azure-mgmt-*, msgraph-sdk) and paging.
- `osv.enrich`: (ecosystem, name, version) -> known vulnerabilities, batched and cached;
  usable for any package list (e.g. a host scan's).
"""
