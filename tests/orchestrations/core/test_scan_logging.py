"""Log records written while an activity works for a scan name that scan."""

from __future__ import annotations

import logging

import pytest

from orchestrations.core.telemetry import log_scan_started, scan_context, scan_logger


def test_records_in_a_scan_context_carry_the_scan(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.scan_logging")
    with caplog.at_level(logging.INFO, logger="tests.scan_logging"):
        with scan_context("01SCAN", "web-1-22"):
            log.info("engine says %s", "hello")
            log_scan_started(scan_logger(log, "01SCAN", "web-1-22"), "host")  # no KeyError
        log.info("outside")
    inside, started, outside = caplog.records
    assert inside.getMessage() == "scan=01SCAN target=web-1-22 engine says hello"
    assert inside.scanId == "01SCAN" and inside.targetId == "web-1-22"
    assert started.scanId == "01SCAN" and started.event == "scan.started"
    assert started.getMessage().count("scan=01SCAN") == 1
    assert outside.getMessage() == "outside"
    assert not hasattr(outside, "scanId")
