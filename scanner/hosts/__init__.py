"""Host scans over SSH: quick (OS, kernel, hostname, uptime, disk, memory) and full (adds
packages, top processes, network interfaces). See engine.py."""
