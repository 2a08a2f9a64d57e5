"""Durable Functions for the standalone host: engine, storage and HTTP API."""
