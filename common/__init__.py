"""Small helpers both the service (orchestrations/) and the standalone host use.

The bottom layer: it imports nothing of this project and nothing of Azure Functions.
"""
