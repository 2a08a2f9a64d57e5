"""One module per command group: targets, scan (start), scans (read, follow, cancel, report)."""
