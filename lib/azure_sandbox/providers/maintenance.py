"""Microsoft.Maintenance: maintenance configurations and configuration assignments (Update Manager schedules).

Spec: specification/maintenance/resource-manager/Microsoft.Maintenance/stable/2023-04-01/Maintenance.json.
"""
from __future__ import annotations

from ..core.provider import Provider, TypeSpec

API = ("2023-04-01", "2023-10-01-preview", "2022-11-01-preview")


class Maintenance(Provider):
    """Maintenance configurations and assignments."""

    namespace = "Microsoft.Maintenance"
    types = (
        TypeSpec("Microsoft.Maintenance/maintenanceConfigurations", API, put_created=200),
        TypeSpec("Microsoft.Maintenance/configurationAssignments", API, put_created=200, tracked=False, patch=False),
    )
