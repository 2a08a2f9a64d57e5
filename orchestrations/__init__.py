"""Durable Functions blueprints: the thin layer between Azure Functions and scanner/."""
