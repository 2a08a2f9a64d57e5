"""Virtual machines and managed disks (CIS section 8), VM images (end of life, known CVEs)."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.subscription.inventory import VULNERABILITIES, Inventory, dig, resources
from scanner.subscription.rules.base import (
    WHOLE_SCOPE,
    Hit,
    check,
    vulnerable_software_rule,
)
from scanner.subscription.software import vm_image, vm_image_software

VM = "microsoft.compute/virtualmachines"
BASTION = "microsoft.network/bastionhosts"
EXTENSION = "microsoft.compute/virtualmachines/extensions"

# Extensions that are endpoint protection agents, as (publisher, type), lower-case.
ENDPOINT_PROTECTION: frozenset[tuple[str, str]] = frozenset(
    {
        ("microsoft.azure.azuredefenderforservers", "mde.windows"),
        ("microsoft.azure.azuredefenderforservers", "mde.linux"),
        ("microsoft.azure.security", "iaasantimalware"),
    }
)

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


@check("VM-005", needs=[resources(VM)])
def eol_images(inventory: Inventory) -> Iterable[Hit]:
    for vm in inventory.resources(VM):
        image = vm_image(vm)
        name = end_of_life(image)
        if name:
            yield Hit.of(
                vm,
                f"runs {name} ({image.get('offer')}/{image.get('sku')}), "
                "which no longer gets security updates",
                details={"image": image},
            )


check("VM-006", needs=[resources(VM), VULNERABILITIES])(
    vulnerable_software_rule(VM, vm_image_software, lambda ref: f"image {ref.name} {ref.version}")
)


@check("VM-001", needs=[resources(VM)])
def unmanaged_disks(inventory: Inventory) -> Iterable[Hit]:
    for vm in inventory.resources(VM):
        os_disk = dig(vm, "properties.storageProfile.osDisk") or {}
        data_disks = dig(vm, "properties.storageProfile.dataDisks") or []
        unmanaged = [
            str(d.get("name", "?"))
            for d in [os_disk, *data_disks]
            # A VHD URI means a page blob; `vhd: null` next to a managed disk does not.
            if isinstance(d, dict) and d and (dig(d, "vhd") or not dig(d, "managedDisk"))
        ]
        if unmanaged:
            yield Hit.of(
                vm,
                f"uses unmanaged (VHD) disks: {', '.join(unmanaged)}",
            )


@check("VM-010", needs=[resources(VM), resources(BASTION)], evaluates=WHOLE_SCOPE)
def no_bastion(inventory: Inventory) -> Iterable[Hit]:
    vms = inventory.resources(VM)
    ready = [
        host
        for host in inventory.resources(BASTION)
        if str(dig(host, "properties.provisioningState") or "Succeeded").casefold() == "succeeded"
    ]
    if vms and not ready:
        yield Hit.on_subscription(
            inventory,
            f"{len(vms)} virtual machine(s) and no Azure Bastion host",
            details={"virtualMachines": len(vms)},
        )


def _protects(extension: dict[str, object]) -> bool:
    publisher = str(dig(extension, "properties.publisher") or "").casefold()
    kind = str(dig(extension, "properties.type") or "").casefold()
    state = str(dig(extension, "properties.provisioningState") or "Succeeded").casefold()
    return (publisher, kind) in ENDPOINT_PROTECTION and state == "succeeded"


@check("VM-012", needs=[resources(VM), resources(EXTENSION)])
def no_endpoint_protection(inventory: Inventory) -> Iterable[Hit]:
    # An extension's id is its VM's id followed by /extensions/<name>.
    protected = {
        str(ext.get("id", "")).lower().rsplit("/extensions/", 1)[0]
        for ext in inventory.resources(EXTENSION)
        if _protects(ext)
    }
    for vm in inventory.resources(VM):
        if str(vm.get("id", "")).lower() not in protected:
            yield Hit.of(
                vm,
                "no endpoint protection extension (Defender for Endpoint, Antimalware) "
                "is provisioned",
            )
