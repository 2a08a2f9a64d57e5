"""Cron arithmetic in UTC (croniter): 5 fields (minute first) or NCRONTAB's 6 (seconds first)."""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import croniter


def normalized(expression: str) -> str:
    return " ".join(expression.split())


def is_valid(expression: str, fields: tuple[int, ...] = (5, 6)) -> bool:
    """Whether `expression` is a cron expression with one of the given field counts."""
    expression = normalized(expression)
    count = len(expression.split(" ")) if expression else 0
    if count not in fields:
        return False
    return bool(croniter.is_valid(expression, second_at_beginning=count == 6))


def next_occurrence(expression: str, after: datetime) -> datetime:
    """The first time `expression` fires after `after` (UTC); six fields have seconds first."""
    expression = normalized(expression)
    seconds_first = len(expression.split(" ")) == 6
    base = after.astimezone(UTC).replace(tzinfo=None)
    following: datetime = croniter(expression, base, second_at_beginning=seconds_first).get_next(
        datetime
    )
    return following.replace(tzinfo=UTC)
