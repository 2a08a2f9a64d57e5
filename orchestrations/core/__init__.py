"""What every layer of the service uses: settings, telemetry, the scan lifecycle (statuses, phases,
progress), the orchestration contract and the JSON model style."""
