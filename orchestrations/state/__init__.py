"""Everything the service keeps in Table and Blob Storage: scan records and item rows, leases,
the targets registry, known host keys, the OSV cache and scan artifacts."""
