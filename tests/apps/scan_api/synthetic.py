"""A synthetic target kind for lifecycle tests: items with a chosen delay, some failing.

Not part of the service: the test app registers it next to the real kinds.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from orchestrations.core.models import ApiModel, Schedulable
from orchestrations.core.settings import AppSettings
from orchestrations.scans.kinds import TargetKind
from orchestrations.state.targets import TargetRecord
from scanner.engine import (
    ArtifactStore,
    Context,
    Engine,
    EngineInfo,
    Finding,
    ItemResult,
    Plan,
    ProgressCallback,
    ScanEngine,
    ScanError,
    ScanTarget,
    Summary,
    WorkItem,
)


class SyntheticScanRequest(ApiModel):
    target_type: Literal["synthetic"] = "synthetic"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    items: int = Field(5, ge=0, le=200)
    item_delay_ms: int = Field(50, ge=0, le=20_000)
    plan_delay_ms: int = Field(0, ge=0, le=20_000)
    fail_items: list[int] = Field(default_factory=list, max_length=200)
    soft_fail_items: list[int] = Field(default_factory=list, max_length=200)


class SyntheticIn(Schedulable):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    items: int = Field(2, ge=0, le=200)
    item_delay_ms: int = Field(50, ge=0, le=20_000)


class SyntheticUpdate(Schedulable):
    items: int | None = Field(None, ge=0, le=200)
    item_delay_ms: int | None = Field(None, ge=0, le=20_000)


ENGINE_INFO = EngineInfo("synthetic", "Run", "itemsCompleted", "totalItems")


class SyntheticEngine(Engine):
    info = ENGINE_INFO

    def plan(self, target: ScanTarget, store: ArtifactStore, progress: ProgressCallback) -> Plan:
        config = target.config
        progress("Plan", "listing items")
        time.sleep(config.get("plan_delay_ms", 0) / 1000)
        big = store.put_json("plan.json", {"items": config.get("items", 5), "pad": "x" * 50_000})
        items = [
            WorkItem(
                item_id=f"item-{i:03d}",
                title=f"Synthetic item {i}",
                params={
                    "index": i,
                    "delay_ms": config.get("item_delay_ms", 50),
                    "fail": i in config.get("fail_items", []),
                    "soft_fail": i in config.get("soft_fail_items", []),
                },
            )
            for i in range(config.get("items", 5))
        ]
        return Plan(items=items, context={"planRef": big}, counters={"itemsPlanned": len(items)})

    def run(
        self, target: ScanTarget, item: WorkItem, context: Context, store: ArtifactStore
    ) -> ItemResult:
        plan = store.get_json(context["planRef"])  # large data arrives by reference
        time.sleep(item.params["delay_ms"] / 1000)
        if item.params["fail"]:
            raise ScanError(f"synthetic failure of {item.item_id}")
        if item.params["soft_fail"]:
            return ItemResult(item_id=item.item_id, title=item.title, status="error", error="soft")
        finding = Finding(
            rule_id="SYN-001",
            title="Synthetic finding",
            severity="low",
            message=f"{item.item_id} of {plan['items']}",
            location={"file": f"items/{item.item_id}.md", "line": item.params["index"] + 1},
        )
        return ItemResult(
            item_id=item.item_id,
            title=item.title,
            status="failed" if item.params["index"] % 2 else "passed",
            findings=[finding],
            data={"index": item.params["index"]},
        )

    def summarize(
        self, target: ScanTarget, context: Context, results: list[ItemResult], store: ArtifactStore
    ) -> Summary:
        indexes = sorted(r.data.get("index", -1) for r in results)
        return Summary(
            results={"items": len(results), "indexes": indexes},
            counters={"findings": sum(len(r.findings) for r in results)},
        )


class SyntheticKind(TargetKind):
    name, plural, info = "synthetic", "synthetics", ENGINE_INFO
    trigger_model = SyntheticScanRequest
    registration_model = SyntheticIn
    update_model = SyntheticUpdate

    def target_id(self, request: Any) -> str:
        return str(request.name)

    def request_for(self, registered: TargetRecord) -> ApiModel:
        return SyntheticScanRequest.model_validate(
            {**registered.config, "name": registered.target_id}
        )

    def engine(self, settings: AppSettings) -> ScanEngine:
        return SyntheticEngine()
