"""Route templates and NCRONTAB schedules, as the Functions host reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from standalone.routes import RouteError, compile_route, sort_routes
from standalone.timer_triggers import Schedule, ScheduleError


def test_parameters_constraints_optional_and_catch_all() -> None:
    route = compile_route("v1/scans/{scanId}/report", ["GET"])
    assert route.match("v1/scans/abc/report") == {"scanId": "abc"}
    assert route.match("v1/scans/abc") is None
    assert route.match("v1/scans/a/b/report") is None

    numbered = compile_route("items/{id:int}", None)
    assert numbered.match("items/42") == {"id": "42"}
    assert numbered.match("items/x") is None

    optional = compile_route("start/{name}/{instanceId?}", ["POST"])
    assert optional.match("start/fan") == {"name": "fan"}
    assert optional.match("start/fan/i-1") == {"name": "fan", "instanceId": "i-1"}

    rest = compile_route("files/{*path}", None)
    assert rest.match("files/a/b/c.txt") == {"path": "a/b/c.txt"}

    assert compile_route("x/{page=1}", None).match("x") == {"page": "1"}


def test_literal_routes_win_over_parameters() -> None:
    routes = sort_routes(
        [compile_route("scans/{scanId}", ["GET", "POST"]), compile_route("scans/trigger", ["POST"])]
    )
    assert routes[0].template == "scans/trigger"


def test_bad_template_is_rejected() -> None:
    with pytest.raises(RouteError):
        compile_route("a/{b", None)


def test_six_field_ncrontab_has_seconds_first() -> None:
    start = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    every_five = Schedule("*/5 * * * * *")
    assert every_five.next_after(start) == start.replace(second=5)
    weekdays = Schedule("0 30 9 * * Mon-Fri")
    assert weekdays.next_after(start) == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)  # a Thursday
    assert Schedule("00:00:30").next_after(start) == start + timedelta(seconds=30)


@pytest.mark.parametrize("expression", ["*/5 * * * *", "61 * * * * *", "nonsense", "00:00:00"])
def test_invalid_schedules_are_rejected(expression: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule(expression)
