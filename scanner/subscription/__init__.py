"""Subscription scans: Azure security rules over an inventory collected once per scan
(Resource Graph, ARM, Microsoft Graph), with CVE enrichment from OSV.

- `engine.SubscriptionEngine`: plan (collect, enrich, store) -> run (one rule) -> summarize.
- `rules/`: the rule catalogue (catalogue.yaml: metadata, data rules) and the checks of code
  rules, one module per family; `rules.all_rules()` loads and cross-checks them.
- `collect/`: the SDK clients (azure-identity, azure-mgmt-*, msgraph-sdk) and paging.
- `osv.enrich`: (ecosystem, name, version) -> known vulnerabilities, batched and cached;
  usable for any package list (e.g. a host scan's).
"""
