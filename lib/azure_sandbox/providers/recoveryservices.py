"""Microsoft.RecoveryServices: vaults (LRO), backup policies, protected items.

Specs: specification/recoveryservices/resource-manager/Microsoft.RecoveryServices/stable/2026-11-01/vaults.json,
specification/recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices/stable/2026-10-01/bms.json.
"""

from __future__ import annotations

from ..core.provider import Provider, TypeSpec

BACKUP_API = ("2026-10-01", "2026-08-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01")


class RecoveryServices(Provider):
    """Recovery Services vaults and Azure Backup."""

    namespace = "Microsoft.RecoveryServices"
    types = (
        TypeSpec(
            "Microsoft.RecoveryServices/vaults",
            ("2026-11-01", "2026-07-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01"),
            put_lro=True,
            delete_lro=True,
            name_rule=(2, 50, r"[a-zA-Z][a-zA-Z0-9-]*"),
        ),
        TypeSpec(
            "Microsoft.RecoveryServices/vaults/backupPolicies", BACKUP_API, put_created=200, tracked=False, patch=False
        ),
        TypeSpec(
            "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
            BACKUP_API[:4],
            put_created=200,
            tracked=False,
            patch=False,
        ),
    )
