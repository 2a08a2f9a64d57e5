"""The service layer between Azure Functions and scanner/, in layers (each imports only those
below it; tests/test_layers.py checks this):

- `api/`: HTTP handlers, the route table, request checks and JSON errors, OpenAPI;
- `workflow/`: the Durable orchestrator, its activities and the timers;
- `scans/`: the scan service: target kinds and their engines, start and cancel, reports;
- `engines/`: wiring of the three scanner engines (settings, secrets);
- `state/`: Table and Blob Storage: scans, leases, targets, host keys, caches, artifacts;
- `core/`: settings, telemetry, the scan lifecycle and the orchestration contract.

`blueprints.py` puts the Functions blueprints together for function_app.py.
"""
