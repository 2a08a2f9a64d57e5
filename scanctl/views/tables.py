"""Tables of scans and targets, and the key/value view of one scan or target."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scanctl.documents import duration_s
from scanctl.findings import ACCEPTED, COUNTS, SEVERITIES
from scanctl.views.console import console

STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "dim",
    "queued": "magenta",
}
SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def _table(*columns: str) -> Any:
    from rich import box
    from rich.table import Table

    out = console()
    table = Table(box=box.SIMPLE_HEAD if out.is_terminal else None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _print(renderable: Any) -> None:
    console().print(renderable)


def status_text(status: str | None, position: Any = None) -> str:
    """The status, coloured; a queued scan's with its place ('queued #2')."""
    style = STATUS_STYLE.get(status or "", "")
    shown = f"{status} #{position}" if status == "queued" and position else str(status)
    return f"[{style}]{shown}[/]" if style else shown


def findings_text(counts: dict[str, int] | None, accepted: int | None = None) -> str:
    if counts is None:
        return ""
    parts = [f"[{SEVERITY_STYLE[s]}]{counts[s]} {s}[/]" for s in SEVERITIES if counts.get(s)]
    shown = ", ".join(parts) if parts else "[green]none[/]"
    return f"{shown} [dim](+{accepted} accepted)[/]" if accepted else shown


def duration_text(scan: dict[str, Any]) -> str:
    seconds = duration_s(scan)
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def when(value: Any) -> str:
    """'2025-01-31 14:02:11' in the viewer's local time; '' for nothing."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def scan_results(scans: list[dict[str, Any]]) -> None:
    """The final view of scans that were waited for: one row per target."""
    table = _table("TARGET", "STATUS", "FINDINGS", "DURATION", "SCAN")
    for scan in scans:
        status = status_text(scan.get("status"))
        if scan.get("errorMessage"):
            status += f"\n[red]{_escape(scan['errorMessage'])}[/]"
        table.add_row(
            f"{scan.get('targetType')} {_escape(str(scan.get('targetId')))}",
            status,
            findings_text(scan.get(COUNTS), scan.get(ACCEPTED)),
            duration_text(scan),
            str(scan.get("scanId")),
        )
    _print(table)


def scan_list(scans: list[dict[str, Any]]) -> None:
    table = _table("SCAN", "TARGET", "STATUS", "PROGRESS", "CREATED", "DURATION", "TRIGGER")
    for scan in scans:
        table.add_row(
            str(scan.get("scanId")),
            f"{scan.get('targetType')} {_escape(str(scan.get('targetId')))}",
            status_text(scan.get("status"), scan.get("queuePosition")),
            f"{scan.get('progress', 0)}%",
            when(scan.get("createdAt")),
            duration_text(scan),
            str(scan.get("trigger") or ""),
        )
    _print(table)


def accepted(scans: list[dict[str, Any]]) -> None:
    table = _table("TARGET", "STATUS", "SCAN")
    for scan in scans:
        table.add_row(
            f"{scan.get('targetType')} {_escape(str(scan.get('targetId')))}",
            status_text(scan.get("status"), scan.get("queuePosition")),
            str(scan.get("scanId")),
        )
    _print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _fields(rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in rows:
        if value:
            grid.add_row(name, value)
    _print(grid)


def scan_detail(scan: dict[str, Any]) -> None:
    counters = ", ".join(f"{k} {v}" for k, v in sorted((scan.get("counters") or {}).items()))
    _fields(
        [
            ("Scan", str(scan.get("scanId"))),
            ("Target", f"{scan.get('targetType')} {_escape(str(scan.get('targetId')))}"),
            ("Status", status_text(scan.get("status"), scan.get("queuePosition"))),
            ("Progress", f"{scan.get('progress', 0)}%"),
            ("Phase", _escape(str(scan.get("currentPhase") or ""))),
            ("Step", _escape(str(scan.get("currentStep") or ""))),
            (
                "Error",
                f"[red]{_escape(str(scan.get('errorMessage') or ''))}[/]"
                if scan.get("errorMessage")
                else "",
            ),
            ("Findings", findings_text(scan.get(COUNTS), scan.get(ACCEPTED))),
            ("Trigger", str(scan.get("trigger") or "")),
            ("Created", when(scan.get("createdAt"))),
            ("Started", when(scan.get("startedAt"))),
            ("Completed", when(scan.get("completedAt"))),
            ("Duration", duration_text(scan)),
            ("Counters", counters),
        ]
    )
    results = scan.get("results") or {}
    simple = [
        (_words(name), _escape(str(value)))
        for name, value in results.items()
        if isinstance(value, str | int | float | bool) and not str(value).startswith("blob:")
    ]
    if simple:
        console().print("[bold]Results[/]")
        _fields(simple)
    items = scan.get("items")
    if items:
        table = _table("ITEM", "TITLE", "STATUS", "FINDINGS", "TIME", "ERROR")
        for item in items:
            table.add_row(
                _escape(str(item.get("itemId"))),
                _escape(str(item.get("title") or "")),
                status_text(item.get("status"))
                if item.get("status") != "passed"
                else "[green]passed[/]",
                str(item.get("findings", "")),
                f"{item.get('durationMs', 0)} ms",
                _escape(str(item.get("error") or "")),
            )
        _print(table)


def _settings_text(target: dict[str, Any]) -> str:
    settings = target.get("settings") or {}
    if target.get("kind") == "host":
        user = f"{settings['username']}@" if settings.get("username") else ""
        return f"{user}{settings.get('hostname')}:{settings.get('port')} {settings.get('scanType')}"
    if target.get("kind") == "repository":
        return f"{settings.get('url')} ({settings.get('defaultBranch')})"
    rules = settings.get("rules")
    return f"{len(rules)} rules" if rules else "all rules"


def target_list(targets: list[dict[str, Any]]) -> None:
    table = _table("KIND", "ID", "NAME", "SETTINGS", "SCHEDULE", "LAST SCAN")
    for target in targets:
        last = ""
        if target.get("lastScanId"):
            last = f"{status_text(target.get('lastStatus'))} {when(target.get('lastScannedAt'))}"
        table.add_row(
            str(target.get("kind")),
            _escape(str(target.get("id"))),
            _escape(str(target.get("name") or "")),
            _escape(_settings_text(target)),
            _escape(str(target.get("schedule") or "")),
            last,
        )
    _print(table)


def _words(name: str) -> str:
    """'defaultBranch' -> 'Default branch'."""
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in name)
    return spaced[:1].upper() + spaced[1:]


def _value(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def target_detail(target: dict[str, Any]) -> None:
    settings = target.get("settings") or {}
    _fields(
        [
            ("Kind", str(target.get("kind"))),
            ("Id", _escape(str(target.get("id")))),
            ("Name", _escape(str(target.get("name") or ""))),
            *[
                (_words(k), _escape(_value(v)))
                for k, v in sorted(settings.items())
                if v is not None
            ],
            ("Schedule", _escape(str(target.get("schedule") or "none"))),
            ("Created", when(target.get("createdAt"))),
            ("Updated", when(target.get("updatedAt"))),
            ("Last scan", str(target.get("lastScanId") or "never")),
            (
                "Last status",
                status_text(target.get("lastStatus")) if target.get("lastStatus") else "",
            ),
            ("Last scanned", when(target.get("lastScannedAt"))),
        ]
    )


# -- comparison of two scans ---------------------------------------------------------------

# Parts of `facts` that are not changes: counts (said by the rows), settings of the comparison.
_NOT_CHANGES = {"counts", "notCompared", "thresholdPercentPoints", "typesCompared"}


def _change_text(change: Any) -> str:
    """One change as a line: 'kernel: 6.1.0-17 -> 6.1.0-18', 'US-001: status: DRAFT -> APPROVED',
    'jq amd64 1.6-2.1', 'a1b2c3d4e5f6 fix the trace'."""
    if not isinstance(change, dict):
        return str(change)
    subject = next(
        (str(change[k]) for k in ("field", "name", "interface", "mount", "id") if k in change), ""
    )
    if isinstance(change.get("changes"), list):
        parts = "; ".join(_change_text(c) for c in change["changes"])
        return f"{subject}: {parts}" if subject else parts
    if "sha" in change:
        return f"{str(change['sha'])[:12]} {change.get('subject') or ''}".strip()
    if "from" in change and "to" in change:
        prefix = f"{subject}: " if subject else ""
        kind = f" ({change['kind']})" if change.get("kind") else ""
        before, after = ("not set" if change[k] is None else change[k] for k in ("from", "to"))
        return f"{prefix}{before} -> {after}{kind}"
    scalars = [str(v) for v in change.values() if isinstance(v, str | int | float) and v != ""]
    return " ".join(scalars)


def fact_rows(facts: Any, group: str = "") -> list[tuple[str, str]]:
    """Every change in a comparison's `facts`, whatever the kind: (what, change) pairs."""
    rows: list[tuple[str, str]] = []
    if isinstance(facts, dict):
        if "from" in facts and "to" in facts and group:
            return [(group, _change_text(facts))]
        for key, value in facts.items():
            if key not in _NOT_CHANGES:
                label = group if key == "items" else f"{group} {key}".strip()
                rows += fact_rows(value, label)
    elif isinstance(facts, list):
        rows += [(group, _change_text(change)) for change in facts]
    return rows


def comparison(document: dict[str, Any]) -> None:
    """`scans diff`: the two scans, the findings new and resolved, then the facts changed."""
    findings = document.get("findings") or {}
    counts = findings.get("counts") or {}
    baseline = document.get("baseline")
    target = f"{document.get('targetType')} {_escape(str(document.get('targetId')))}"
    since = (
        f"against scan {baseline['scanId']} ({when(baseline.get('completedAt'))})"
        if baseline
        else "[yellow]no earlier completed scan: every finding is new[/]"
    )
    console().print(f"[bold]{target}[/]: scan {document.get('scanId')} {since}")
    console().print(
        f"Findings: [red]{counts.get('new', 0)} new[/], [green]{counts.get('resolved', 0)} "
        f"resolved[/], {counts.get('unchanged', 0)} unchanged"
    )
    changed = [("new", f) for f in findings.get("new") or []]
    changed += [("resolved", f) for f in findings.get("resolved") or []]
    if changed:
        table = _table("CHANGE", "SEVERITY", "RULE", "MESSAGE")
        for change, finding in changed:
            severity = str(finding.get("severity"))
            table.add_row(
                "[red]new[/]" if change == "new" else "[green]resolved[/]",
                f"[{SEVERITY_STYLE.get(severity, '')}]{severity}[/]",
                _escape(str(finding.get("ruleId"))),
                _escape(str(finding.get("message") or finding.get("title") or "")),
            )
        _print(table)
    rows = fact_rows(document.get("facts"))
    if rows:
        table = _table("FACT", "CHANGE")
        for what, change in rows:
            table.add_row(_escape(what), _escape(change))
        _print(table)
    elif baseline:
        console().print("Facts: no change")


def exception_list(exceptions: list[dict[str, Any]]) -> None:
    table = _table("ID", "STATUS", "FINDINGS", "TARGET", "OWNER", "EXPIRES", "REASON")
    for item in exceptions:
        covers = item.get("fingerprint") or " ".join(
            part for part in (item.get("ruleId"), item.get("resourcePattern")) if part
        )
        status = str(item.get("status"))
        table.add_row(
            _escape(str(item.get("id"))),
            f"[{'green' if status == 'active' else 'dim'}]{status}[/]",
            _escape(str(covers)),
            _escape(str(item.get("targetId") or "any")),
            _escape(str(item.get("owner"))),
            when(item.get("expiresAt")),
            _escape(str(item.get("reason"))),
        )
    _print(table)


CONTROL_STYLE = {
    "pass": "green",
    "fail": "red",
    "error": "magenta",
    "not-applicable": "dim",
    "not-checked": "yellow",
}


def compliance(document: dict[str, Any], only: str | None = None) -> None:
    """`scans report --framework`: the totals, then each control by section with its status,
    level, findings and rules (or why it could not be judged)."""
    framework = document.get("framework") or {}
    totals = document.get("totals") or {}
    scan = document.get("scan") or {}
    console().print(
        f"[bold]{_escape(str(framework.get('title', '')))}[/]: scan {scan.get('scanId')} of "
        f"{_escape(str(scan.get('targetId', '')))}"
    )
    console().print(
        f"[green]{totals.get('pass', 0)} pass[/], [red]{totals.get('fail', 0)} fail[/], "
        f"[magenta]{totals.get('error', 0)} error[/], "
        f"{totals.get('notApplicable', 0)} not applicable, "
        f"[yellow]{totals.get('notChecked', 0)} not checked[/] "
        f"of {totals.get('controls', 0)} controls"
    )
    titles = {str(s.get("id")): str(s.get("title")) for s in document.get("sections") or []}
    table = _table("CONTROL", "STATUS", "LEVEL", "FINDINGS", "RULES", "TITLE")
    section = None
    for control in document.get("controls") or []:
        status = str(control.get("status"))
        if only and status != only:
            continue
        top = str(control.get("id", "")).split(".")[0]
        if top != section:
            section = top
            heading = _escape(titles.get(top, ""))
            table.add_row(f"[bold]{top}[/]", "", "", "", "", f"[bold]{heading}[/]")
        style = CONTROL_STYLE.get(status, "")
        title = _escape(str(control.get("title", "")))
        if control.get("reason") and status != "not-checked":
            title += f" [dim]({_escape(str(control['reason']))})[/]"
        manual = "" if control.get("assessment") == "automated" else " manual"
        table.add_row(
            _escape(str(control.get("id"))),
            f"[{style}]{status}[/]" if style else status,
            f"L{control.get('level')}{manual}",
            str(control.get("findings") or "") if status == "fail" else "",
            _escape(", ".join(str(r.get("ruleId")) for r in control.get("rules") or [])),
            title,
        )
    _print(table)
