"""A subscription scan seen through a compliance framework: per control, whether it passed,
failed, did not apply, could not be judged (error) or was not checked, and why. Pure: built
from the scan's item results, the rule catalogue and the framework's control list.

A control's status, from the rules mapped to it:
- fail: a rule that ran has findings (findings `excepted` says were accepted do not count);
- error: no findings, but a rule could not run (its data was unavailable); the reason is given;
- pass: its rules ran and at least one resource or object was evaluated;
- not-applicable: its rules ran but there was nothing to evaluate;
- not-checked: no rule maps to it (a manual recommendation, or not automated here), or the
  rules that do were not part of this scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scanner.engine import Finding, ItemResult
from scanner.subscription.frameworks import Control, Framework
from scanner.subscription.rules import Rule
from scanner.subscription.rules.base import CIS_BENCHMARK

STATUSES = ("pass", "fail", "error", "not-applicable", "not-checked")
_TOTAL_KEYS = {
    "pass": "pass",
    "fail": "fail",
    "error": "error",
    "not-applicable": "notApplicable",
    "not-checked": "notChecked",
}
# Findings listed per rule of a control; the count is always complete.
MAX_RESOURCES = 500


def _sort_key(control_id: str) -> list[int]:
    return [int(p) for p in control_id.split(".")]


def _mapped_ids(item: ItemResult, rule: Rule | None) -> list[str]:
    """The CIS ids a rule mapped to when it ran (kept with its result), else today's."""
    frameworks = item.data.get("frameworks")
    if isinstance(frameworks, dict) and isinstance(frameworks.get(CIS_BENCHMARK), list):
        return [str(c) for c in frameworks[CIS_BENCHMARK]]
    return list(rule.cis) if rule else []


def _rule_view(
    rule_id: str,
    rule: Rule | None,
    item: ItemResult | None,
    excepted: Callable[[Finding], bool],
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "ruleId": rule_id,
        "title": rule.title if rule else (item.title if item else rule_id),
        "severity": rule.severity if rule else None,
    }
    if item is None:
        view.update(status="not-run", evaluated=None, findings=0, excepted=0, resources=[])
        return view
    counted = [f for f in item.findings if not excepted(f)]
    evaluated = item.data.get("evaluated")
    view.update(
        status=item.status,
        evaluated=int(evaluated) if isinstance(evaluated, int) else None,
        findings=len(counted),
        excepted=len(item.findings) - len(counted),
        resources=[
            {
                "resourceId": f.location.get("resourceId"),
                "name": f.location.get("name"),
                "message": f.message,
                "severity": f.severity,
                "fingerprint": f.fingerprint,
            }
            for f in counted[:MAX_RESOURCES]
        ],
    )
    if item.error:
        view["error"] = item.error
    return view


def _status(control: Control, rules: list[dict[str, Any]]) -> tuple[str, str | None]:
    if not rules:
        reason = (
            "a manual recommendation: no rule checks it"
            if control.assessment == "manual"
            else "no rule checks it yet"
        )
        return "not-checked", reason
    ran = [r for r in rules if r["status"] not in ("not-run", "skipped")]
    if not ran:
        names = ", ".join(r["ruleId"] for r in rules)
        return "not-checked", f"its rules ({names}) did not run in this scan"
    if any(r["findings"] for r in ran):
        return "fail", None
    errors = [r for r in ran if r["status"] == "error"]
    if errors:
        return "error", "; ".join(f"{r['ruleId']}: {r.get('error') or 'error'}" for r in errors)
    # A result from before rules counted what they evaluated: a pass is all it can tell.
    if any(r["evaluated"] is None or r["evaluated"] > 0 for r in ran):
        return "pass", None
    return "not-applicable", "nothing to evaluate: no resource or object of the kinds it checks"


def compliance(
    framework: Framework,
    items: Iterable[ItemResult],
    rules: Mapping[str, Rule],
    excepted: Callable[[Finding], bool] = lambda finding: False,
) -> dict[str, Any]:
    """The compliance document: the framework, totals by status, and every control (in the
    benchmark's order) with its status, reason and the rules that check it."""
    by_rule = {item.item_id: item for item in items}
    mapped: dict[str, list[str]] = {}
    for rule_id, rule in rules.items():
        if rule_id not in by_rule:
            for control_id in rule.cis:
                mapped.setdefault(control_id, []).append(rule_id)
    for rule_id, item in by_rule.items():
        for control_id in _mapped_ids(item, rules.get(rule_id)):
            mapped.setdefault(control_id, []).append(rule_id)
    totals = dict.fromkeys(_TOTAL_KEYS.values(), 0)
    controls = []
    for control in sorted(framework.controls, key=lambda c: _sort_key(c.id)):
        rule_views = [
            _rule_view(rule_id, rules.get(rule_id), by_rule.get(rule_id), excepted)
            for rule_id in sorted(set(mapped.get(control.id, [])))
        ]
        status, reason = _status(control, rule_views)
        totals[_TOTAL_KEYS[status]] += 1
        controls.append(
            {
                "id": control.id,
                "section": control.section,
                "title": control.title,
                "level": control.level,
                "assessment": control.assessment,
                "status": status,
                "reason": reason,
                "findings": sum(r["findings"] for r in rule_views),
                "rules": rule_views,
            }
        )
    checked = sum(1 for c in controls if c["status"] != "not-checked")
    return {
        "framework": {
            "key": framework.key,
            "name": framework.name,
            "version": framework.version,
            "title": framework.title,
        },
        "totals": {"controls": len(controls), **totals, "checked": checked},
        "sections": [{"id": s.id, "title": s.title} for s in framework.sections],
        "controls": controls,
    }


def coverage(framework: Framework, rules: Iterable[Rule]) -> dict[str, Any]:
    """How much of the framework the rules check: controls with at least one rule, overall and
    among the recommendations the benchmark calls automated."""
    covered = {c for rule in rules for c in rule.cis}
    automated = [c for c in framework.controls if c.assessment == "automated"]
    return {
        "controls": len(framework.controls),
        "controlsCovered": sum(1 for c in framework.controls if c.id in covered),
        "automatedControls": len(automated),
        "automatedCovered": sum(1 for c in automated if c.id in covered),
    }
