"""The service's stores on one storage account: scans, leases, targets."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrations.core.settings import AppSettings
from orchestrations.state.leases import LeaseStore
from orchestrations.state.scans import ScanStore
from orchestrations.state.storage import get_storage
from orchestrations.state.targets import TargetStore


@dataclass
class Stores:
    scans: ScanStore
    leases: LeaseStore
    targets: TargetStore

    @classmethod
    def of(cls, settings: AppSettings) -> Stores:
        storage = get_storage(settings)
        return cls(ScanStore(storage), LeaseStore(storage), TargetStore(storage))
