"""Wiring of the three scanner engines: each module reads its settings and builds its engine
with what it needs from the platform (storage-backed stores, secrets)."""
