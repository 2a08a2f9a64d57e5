"""Helpers the tests share: real processes (Azurite, the standalone host) on loopback."""
