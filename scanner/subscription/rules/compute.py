"""Virtual machines and managed disks (CIS section 7), VM images (end of life, known CVEs)."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import VULNERABILITIES, Inventory, dig, resources
from scanner.subscription.rules.base import (
    Hit,
    Rule,
    describe_vulnerabilities,
    known_vulnerabilities,
    property_rule,
)
from scanner.subscription.software import vm_image, vm_image_software

VM = "microsoft.compute/virtualmachines"
DISK = "microsoft.compute/disks"

# Marketplace images whose operating system is past its end of support, as data:
# (publisher, offer prefix, sku prefix) -> what it is. Matching ignores case.
END_OF_LIFE_IMAGES: dict[tuple[str, str, str], str] = {
    ("canonical", "ubuntuserver", "14.04"): "Ubuntu 14.04 LTS",
    ("canonical", "ubuntuserver", "16.04"): "Ubuntu 16.04 LTS",
    ("canonical", "ubuntuserver", "18.04"): "Ubuntu 18.04 LTS",
    ("canonical", "0001-com-ubuntu-server-bionic", ""): "Ubuntu 18.04 LTS",
    ("canonical", "0001-com-ubuntu-server-focal", ""): "Ubuntu 20.04 LTS",
    ("openlogic", "centos", ""): "CentOS Linux",
    ("debian", "debian-10", ""): "Debian 10",
    ("microsoftwindowsserver", "windowsserver", "2008"): "Windows Server 2008",
    ("microsoftwindowsserver", "windowsserver", "2012"): "Windows Server 2012",
}


def end_of_life(image: dict[str, str]) -> str | None:
    publisher = image.get("publisher", "").casefold()
    offer = image.get("offer", "").casefold()
    sku = image.get("sku", "").casefold()
    for (pub, offer_prefix, sku_prefix), name in END_OF_LIFE_IMAGES.items():
        if publisher == pub and offer.startswith(offer_prefix) and sku.startswith(sku_prefix):
            return name
    return None


def _eol_images(inventory: Inventory) -> Iterable[Hit]:
    for vm in inventory.resources(VM):
        image = vm_image(vm)
        name = end_of_life(image)
        if name:
            yield Hit(
                subject=str(vm.get("id", "")),
                name=str(vm.get("name", "")),
                message=f"runs {name} ({image.get('offer')}/{image.get('sku')}), "
                "which no longer gets security updates",
                details={"image": image},
            )


def _vulnerable_images(inventory: Inventory) -> Iterable[Hit]:
    for vm in inventory.resources(VM):
        ref = vm_image_software(vm)
        if ref is None:
            continue
        vulns = known_vulnerabilities(inventory, ref)
        if vulns:
            yield Hit(
                subject=str(vm.get("id", "")),
                name=str(vm.get("name", "")),
                message=f"image {ref.name} {ref.version} has {len(vulns)} known "
                f"vulnerabilities: {describe_vulnerabilities(vulns)}",
                details={"software": ref.as_dict(), "vulnerabilities": vulns},
            )


def _unmanaged_disks(inventory: Inventory) -> Iterable[Hit]:
    for vm in inventory.resources(VM):
        os_disk = dig(vm, "properties.storageProfile.osDisk") or {}
        data_disks = dig(vm, "properties.storageProfile.dataDisks") or []
        unmanaged = [
            str(d.get("name", "?"))
            for d in [os_disk, *data_disks]
            if isinstance(d, dict) and d and ("vhd" in d or not d.get("managedDisk"))
        ]
        if unmanaged:
            yield Hit(
                subject=str(vm.get("id", "")),
                name=str(vm.get("name", "")),
                message=f"uses unmanaged (VHD) disks: {', '.join(unmanaged)}",
            )


RULES = [
    Rule(
        id="VM-001",
        title="Virtual machine uses unmanaged disks",
        severity="medium",
        family="compute",
        description="Unmanaged disks live as page blobs in a storage account, outside managed "
        "disk encryption, RBAC and backup integration.",
        remediation="Convert the VM to managed disks (az vm convert).",
        cis=("7.2",),
        needs=(resources(VM),),
        check=_unmanaged_disks,
    ),
    property_rule(
        id="VM-002",
        title="Attached disk is not encrypted with a customer-managed key",
        severity="low",
        family="compute",
        resource_type=DISK,
        applies_if=[{"path": "properties.diskState", "in": ["Attached", "Reserved"]}],
        passes_if=[
            {
                "path": "properties.encryption.type",
                "in": [
                    "EncryptionAtRestWithCustomerKey",
                    "EncryptionAtRestWithPlatformAndCustomerKeys",
                ],
            }
        ],
        message="the disk is encrypted with platform-managed keys only",
        description="Customer-managed keys let you control, rotate and revoke the keys that "
        "protect OS and data disks.",
        remediation="Create a disk encryption set with a Key Vault key and assign it to the disk.",
        cis=["7.3"],
    ),
    property_rule(
        id="VM-003",
        title="Unattached disk is not encrypted with a customer-managed key",
        severity="medium",
        family="compute",
        resource_type=DISK,
        applies_if=[{"path": "properties.diskState", "equals": "Unattached"}],
        passes_if=[
            {
                "path": "properties.encryption.type",
                "in": [
                    "EncryptionAtRestWithCustomerKey",
                    "EncryptionAtRestWithPlatformAndCustomerKeys",
                ],
            }
        ],
        message="an unattached disk holds data under platform-managed keys only",
        description="Unattached disks are easily forgotten copies of data; customer-managed "
        "keys let you revoke access to them.",
        remediation="Delete disks that are no longer needed, or encrypt them with a disk "
        "encryption set.",
        cis=["7.4"],
    ),
    property_rule(
        id="VM-004",
        title="Managed disk can be exported from any network",
        severity="medium",
        family="compute",
        resource_type=DISK,
        passes_if=[
            {"path": "properties.networkAccessPolicy", "in": ["DenyAll", "AllowPrivate"]},
            {"path": "properties.publicNetworkAccess", "equals": "Disabled"},
        ],
        message="disk export (SAS) is allowed from all networks",
        description="A disk whose export is open to all networks can be downloaded with a "
        "leaked SAS URI from anywhere.",
        remediation="Set the disk's network access policy to DenyAll, or AllowPrivate with a "
        "disk access resource, and disable public network access.",
        frameworks={"Microsoft cloud security benchmark": ("NS-2",)},
    ),
    Rule(
        id="VM-005",
        title="Virtual machine runs an end-of-life operating system image",
        severity="high",
        family="compute",
        description="An operating system past its end of support receives no security fixes.",
        remediation="Rebuild or upgrade the VM onto a supported image.",
        cis=(),
        needs=(resources(VM),),
        check=_eol_images,
        frameworks={"Microsoft cloud security benchmark": ("PV-5",)},
    ),
    Rule(
        id="VM-006",
        title="Virtual machine image has known vulnerabilities",
        severity="high",
        family="compute",
        description="The marketplace image names an application version with published "
        "vulnerabilities (OSV).",
        remediation="Update the application on the VM, or redeploy from a current image version.",
        cis=(),
        needs=(resources(VM), VULNERABILITIES),
        check=_vulnerable_images,
        frameworks={"Microsoft cloud security benchmark": ("PV-6",)},
    ),
]
