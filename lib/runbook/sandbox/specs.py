"""What the sandbox knows of each resource type: api-versions, status codes, long-running shape.

Status codes follow the REST specs (Azure/azure-rest-api-specs) for the api-versions the current
SDKs and azure-cli send; the SDKs reject any code an operation does not declare.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TypeSpec:
    """Behaviour of one resource type."""

    type: str
    api_versions: tuple[str, ...]
    put_created: int = 201
    put_updated: int = 200
    delete_codes: tuple[int, int] = (200, 204)  # (resource existed, resource was absent)
    put_lro: bool = False  # PUT answers 201 + Azure-AsyncOperation, then completes
    delete_lro: bool = False  # DELETE answers 202 + Location, then completes
    tracked: bool = True  # listed by /resources, carries location and tags
    patch: bool = True

    @property
    def key(self) -> str:
        """Lower-cased type, the lookup key."""
        return self.type.lower()


_COMPUTE = ("2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01", "2023-03-01", "2022-11-01", "2024-11-01", "2025-04-01")
_NETWORK = ("2024-05-01", "2024-03-01", "2024-01-01", "2023-11-01", "2023-09-01", "2023-05-01", "2022-07-01")
_STORAGE = ("2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01")
_SQL = ("2023-08-01", "2023-05-01-preview", "2021-11-01", "2021-02-01-preview")
_WEB = ("2024-04-01", "2023-12-01", "2023-01-01", "2022-09-01")
_KV = ("2024-11-01", "2023-07-01", "2023-02-01", "2022-07-01")
_GENERIC_TRACKED = (
    ("Microsoft.Compute/virtualMachines", _COMPUTE),
    ("Microsoft.Compute/disks", ("2024-03-02", "2023-10-02", "2023-04-02", "2022-07-02")),
    ("Microsoft.Compute/availabilitySets", _COMPUTE),
    ("Microsoft.Network/networkInterfaces", _NETWORK),
    ("Microsoft.Network/virtualNetworks", _NETWORK),
    ("Microsoft.Network/publicIPAddresses", _NETWORK),
    ("Microsoft.Network/networkSecurityGroups", _NETWORK),
    ("Microsoft.Network/loadBalancers", _NETWORK),
    ("Microsoft.Storage/storageAccounts", _STORAGE),
    ("Microsoft.Sql/servers", _SQL),
    ("Microsoft.Sql/servers/databases", _SQL),
    ("Microsoft.Web/sites", _WEB),
    ("Microsoft.Web/serverfarms", _WEB),
    ("Microsoft.KeyVault/vaults", _KV),
    ("Microsoft.OperationalInsights/workspaces", ("2023-09-01", "2022-10-01", "2021-06-01")),
)

TYPES: dict[str, TypeSpec] = {}


def _add(spec: TypeSpec) -> None:
    TYPES[spec.key] = spec


for _t, _v in _GENERIC_TRACKED:
    _add(TypeSpec(_t, _v))

_ROLE_API = ("2022-04-01", "2020-10-01-preview", "2020-04-01-preview", "2018-01-01-preview", "2015-07-01")
_POLICY_API = ("2026-06-01", "2025-11-01", "2025-03-01", "2024-04-01", "2023-04-01", "2022-06-01", "2021-06-01")
_LIGHTHOUSE_API = ("2020-02-01-preview", "2022-10-01", "2022-01-01-preview", "2019-09-01")
_add(TypeSpec("Microsoft.Authorization/roleAssignments", _ROLE_API, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Authorization/roleDefinitions", _ROLE_API, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Authorization/policyAssignments", _POLICY_API, tracked=False))
_add(TypeSpec("Microsoft.Authorization/policyDefinitions", _POLICY_API, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Authorization/policySetDefinitions", _POLICY_API, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Authorization/locks", ("2020-05-01", "2016-09-01"), put_created=201, tracked=False, patch=False))
_add(TypeSpec("Microsoft.ManagedServices/registrationDefinitions", _LIGHTHOUSE_API, put_lro=True, tracked=False, patch=False))
_add(TypeSpec("Microsoft.ManagedServices/registrationAssignments", _LIGHTHOUSE_API, put_lro=True, delete_lro=True, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Security/pricings", ("2024-01-01", "2023-01-01", "2022-03-01", "2018-06-01"), put_created=200, delete_codes=(200, 204), tracked=False, patch=False))
_add(TypeSpec("Microsoft.Advisor/configurations", ("2020-01-01", "2023-01-01", "2022-10-01"), put_created=200, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Advisor/recommendations", ("2020-01-01", "2023-01-01", "2022-10-01"), tracked=False, patch=False))
_add(TypeSpec("Microsoft.Insights/actionGroups", ("2023-01-01", "2024-10-01-preview", "2022-06-01", "2021-09-01", "2019-06-01")))
_add(TypeSpec("Microsoft.Insights/metricAlerts", ("2018-03-01", "2024-03-01-preview"), put_created=200))
_add(TypeSpec("Microsoft.Insights/activityLogAlerts", ("2020-10-01", "2023-01-01-preview", "2017-04-01")))
_add(TypeSpec("Microsoft.Insights/diagnosticSettings", ("2021-05-01-preview", "2017-05-01-preview"), put_created=200, tracked=False, patch=False))
_add(TypeSpec("Microsoft.RecoveryServices/vaults", ("2026-11-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01"), put_lro=True, delete_lro=True))
_add(TypeSpec("Microsoft.RecoveryServices/vaults/backupPolicies", ("2026-10-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01"), put_created=200, tracked=False, patch=False))
_add(TypeSpec("Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems", ("2026-10-01", "2025-02-01", "2024-10-01", "2024-04-01"), put_created=200, tracked=False, patch=False))
_add(TypeSpec("Microsoft.Maintenance/maintenanceConfigurations", ("2023-04-01", "2023-10-01-preview", "2022-11-01-preview"), put_created=200))
_add(TypeSpec("Microsoft.Maintenance/configurationAssignments", ("2023-04-01", "2023-10-01-preview", "2022-11-01-preview"), put_created=200, tracked=False, patch=False))
# Budgets_Delete declares 200 only.
_add(TypeSpec("Microsoft.Consumption/budgets", ("2024-08-01", "2023-11-01", "2023-05-01", "2021-10-01", "2019-10-01"), delete_codes=(200, 200), tracked=False, patch=False))

# Paths served by Microsoft.Resources itself, each with its own api-version set.
RESOURCES_API = ("2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-09-01", "2021-04-01", "2020-06-01")
SUBSCRIPTIONS_API = ("2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2016-06-01")
GRAPH_QUERY_API = ("2021-03-01", "2022-10-01", "2024-04-01")
POLICY_INSIGHTS_API = ("2024-10-01", "2019-10-01", "2022-09-01")

# Types whose instances exist in every subscription without anyone creating them.
BUILTIN_SUBSCRIPTION_SINGLETONS = ("Microsoft.Security/pricings", "Microsoft.Advisor/configurations")


def lookup(resource_type: str) -> TypeSpec | None:
    """Spec of a resource type, case-insensitively."""
    return TYPES.get(resource_type.lower())


def namespaces() -> set[str]:
    """Lower-cased provider namespaces the sandbox serves."""
    return {t.split("/")[0] for t in TYPES} | {"microsoft.resources"}
