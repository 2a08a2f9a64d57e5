"""Target kinds: a request becomes a ScanTarget once, checked against the scanner's typed target;
engine names are known without building an engine."""

from __future__ import annotations

import pytest

from orchestrations.scans.kinds import (
    KINDS,
    InvalidTargetError,
    TargetNotFoundError,
    infer_target_type,
    instance_id_for,
)
from orchestrations.scans.kinds.host import HostScanRequest
from orchestrations.scans.kinds.repository import RepositoryScanRequest
from orchestrations.scans.kinds.subscription import SubscriptionScanRequest
from orchestrations.state.targets import TargetRecord

GUID = "0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0"


def test_a_host_request_resolves_to_the_typed_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_PRIVATE_KEY_PATH", "/keys/id_ed25519")
    request = HostScanRequest.model_validate({"hostname": "Web-1.Example.com.", "type": "full"})
    target = KINDS["host"].resolve(request, None)
    assert target.target_id == "web-1.example.com-22"
    assert target.config == {"hostname": "web-1.example.com", "port": 22, "scan_type": "full"}


def test_a_host_scan_needs_a_key_its_own_or_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSH_PRIVATE_KEY_PATH", "SSH_PRIVATE_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    keyless = HostScanRequest(hostname="db01.example.com")
    with pytest.raises(InvalidTargetError, match=r"^no SSH private key: set SSH_PRIVATE_KEY_PATH"):
        KINDS["host"].resolve(keyless, None)
    own = HostScanRequest.model_validate(
        {
            "hostname": "db01.example.com",
            "credentialsRef": "HOST_KEY_DB01",
            "proxyJump": "ops@bastion.example.com:2222",
        }
    )
    target = KINDS["host"].resolve(own, None)
    assert target.config["credentials_ref"] == "HOST_KEY_DB01"
    assert target.config["proxy_jump"] == [
        {"hostname": "bastion.example.com", "port": 2222, "username": "ops"}
    ]
    monkeypatch.setenv("SSH_PRIVATE_KEY_PATH", "/keys/id_ed25519")
    assert KINDS["host"].resolve(keyless, None).config["hostname"] == "db01.example.com"


def test_registered_settings_fill_what_the_request_leaves_out() -> None:
    registered = TargetRecord(
        target_type="repository",
        target_id="docs",
        name="Docs",
        config={"url": "https://example.com/docs.git", "default_branch": "release"},
    )
    request = RepositoryScanRequest(repository_id="docs", commit_sha="abc1234")
    target = KINDS["repository"].resolve(request, registered)
    assert target.config == {
        "url": "https://example.com/docs.git",
        "default_branch": "release",
        "commit_sha": "abc1234",
    }
    with pytest.raises(TargetNotFoundError):
        KINDS["repository"].resolve(request, None)
    broken = TargetRecord(target_type="repository", target_id="docs", name="Docs", config={})
    with pytest.raises(InvalidTargetError, match="repository target is not valid"):
        KINDS["repository"].resolve(request, broken)  # a registration without its URL


def test_subscription_ids_are_lower_case_everywhere() -> None:
    request = SubscriptionScanRequest.model_validate({"subscriptionId": GUID, "rules": ["NET-001"]})
    target = KINDS["subscription"].resolve(request, None)
    assert target.target_id == GUID.lower()
    assert target.config == {"subscription_id": GUID.lower(), "rules": ["NET-001"]}


def test_several_subscriptions_and_management_groups_are_one_target_each() -> None:
    kind = KINDS["subscription"]
    other = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    listed = SubscriptionScanRequest.model_validate({"subscriptionIds": [GUID, other, GUID]})
    target = kind.resolve(listed, None)
    assert target.target_id == "subscriptions-" + target.target_id[-12:]
    assert target.config == {"subscription_ids": [GUID.lower(), other]}
    reordered = SubscriptionScanRequest.model_validate({"subscriptionIds": [other, GUID.lower()]})
    assert kind.target_id(reordered) == target.target_id
    assert instance_id_for("subscription", target.target_id) == f"subscription-{target.target_id}"
    group = SubscriptionScanRequest.model_validate({"managementGroupId": "Contoso_Prod(EU)"})
    assert kind.target_id(group) == "mg-contoso_prod(eu)"
    assert kind.resolve(group, None).config == {"management_group_id": "Contoso_Prod(EU)"}

    # A schedule scans a registered target as registered.
    registered = TargetRecord(
        "subscription",
        "mg-contoso_prod(eu)",
        "Production",
        config={"management_group_id": "Contoso_Prod(EU)", "rules": ["ST-001"]},
    )
    again = kind.request_for(registered)
    assert kind.target_id(again) == registered.target_id
    assert kind.resolve(again, registered).config == {
        "management_group_id": "Contoso_Prod(EU)",
        "rules": ["ST-001"],
    }
    single = TargetRecord("subscription", GUID.lower(), "One", config={"subscription_id": GUID})
    assert kind.target_id(kind.request_for(single)) == GUID.lower()


def test_engine_names_need_no_engine() -> None:
    names = {name: (k.info.run_phase, k.info.completed_counter) for name, k in KINDS.items()}
    assert names["host"] == ("Collect", "commandsCompleted")
    assert names["repository"] == ("Evaluate", "rulesCompleted")
    assert names["subscription"] == ("Evaluate", "rulesCompleted")
    assert all(k.info.target_type == name for name, k in KINDS.items())


def test_the_kind_a_body_means() -> None:
    assert infer_target_type({"targetType": "host"}) == "host"
    assert infer_target_type({"repository_id": "docs"}) == "repository"
    assert infer_target_type({"subscriptionId": GUID}) == "subscription"
    assert infer_target_type({"subscriptionIds": [GUID]}) == "subscription"
    assert infer_target_type({"managementGroupId": "g1"}) == "subscription"
    assert infer_target_type({"name": "x"}) is None
    assert instance_id_for("host", "a b/c-22") == "host-a_b_c-22"
