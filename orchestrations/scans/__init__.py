"""The scan service: target kinds (request -> ScanTarget, one cached engine per kind), starting
and cancelling scans (lease, record, orchestration). Used by the HTTP API and the timers."""
