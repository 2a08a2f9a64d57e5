"""The Durable Functions side: the scan orchestrator, its activities and the timers."""
