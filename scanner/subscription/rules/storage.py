"""Storage accounts (CIS section 4). Every rule so far is a data rule in catalogue.yaml; checks
that conditions cannot express register here with `@check`."""
