"""The HTTP API: one route table, the handlers, request checks and JSON errors, the views of
scans and targets, and the OpenAPI document built from the same table."""
