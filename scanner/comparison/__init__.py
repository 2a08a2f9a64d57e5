"""Scan-to-scan comparison: findings matched by fingerprint, facts compared per target kind,
and the comparison's reports. Pure functions over two stored scans (see snapshot.py)."""
