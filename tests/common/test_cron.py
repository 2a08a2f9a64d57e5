"""Cron arithmetic in UTC: five fields minute first, six fields seconds first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from common import cron


def test_five_and_six_fields() -> None:
    after = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    assert cron.next_occurrence("*/15 * * * *", after) == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert cron.next_occurrence("*/20 * * * * *", after) == datetime(
        2026, 3, 1, 10, 0, 40, tzinfo=UTC
    )


def test_the_answer_is_utc_whatever_the_zone_asked_in() -> None:
    plus_two = timezone(timedelta(hours=2))
    after = datetime(2026, 3, 1, 12, 0, tzinfo=plus_two)  # 10:00 UTC
    assert cron.next_occurrence("0 11 * * *", after) == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def test_validity_by_field_count() -> None:
    assert cron.is_valid("0 3 * * 1-5") and cron.is_valid("  0  0 3 * * *  ")
    assert not cron.is_valid("0 3 * * 1-5", fields=(6,))  # NCRONTAB needs seconds
    assert not cron.is_valid("61 * * * *") and not cron.is_valid("* * *") and not cron.is_valid("")
    assert cron.normalized("  0  0 3 * * *  ") == "0 0 3 * * *"
