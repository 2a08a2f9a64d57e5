"""The garbage collector pause of large scans: shared by overlapping scans, and the collector's
own state restored after the last one (never turned on when it was off)."""

from __future__ import annotations

import gc
import threading

from scanner.repository import collector


def test_overlapping_pauses_end_with_the_last_one() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def other_scan() -> None:
        with collector.paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other_scan)
    with collector.paused():
        thread.start()
        assert inside.wait(10)
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other scan still runs
    leave.set()
    thread.join()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
