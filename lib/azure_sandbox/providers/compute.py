"""Microsoft.Compute: virtual machines, disks, availability sets (tracked resources, listed and tagged)."""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01", "2023-03-01", "2022-11-01")
# resource-name-rules: Windows VM names 1-15 (Linux 1-64); the sandbox applies the Linux rule, it cannot tell the OS
_VM_NAME = (1, 64, r'[^\\/"\[\]:|<>+=;,?*@&_ ]([^\\/"\[\]:|<>+=;,?*@& ]*[^\\/"\[\]:|<>+=;,?*@&. ])?')


class Compute(Provider):
    """Microsoft.Compute: virtual machines, disks, availability sets (tracked resources, listed and tagged)."""

    namespace = "Microsoft.Compute"
    types = (
        TypeSpec("Microsoft.Compute/virtualMachines", API, name_rule=_VM_NAME),
        TypeSpec("Microsoft.Compute/disks", ("2024-03-02", "2023-10-02", "2023-04-02", "2022-07-02")),
        TypeSpec("Microsoft.Compute/availabilitySets", API),
    )
