"""Built-in Azure role definitions the sandbox knows (ids, names and permissions as Azure publishes them), and how
ARM matches an action against a role's actions and notActions.

Source: learn.microsoft.com/azure/role-based-access-control/built-in-roles (and its per-category pages); the ids are
the same in every tenant. Permissions are the control-plane `actions` / `notActions`, and for the Key Vault roles the
`dataActions` the secrets data plane checks.
"""

from __future__ import annotations

import fnmatch

_READ = "*/read"
BUILTIN_ROLES: dict[str, dict] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {"roleName": "Owner", "actions": ["*"], "notActions": []},
    "b24988ac-6180-42a0-ab88-20f7382dd24c": {
        "roleName": "Contributor",
        "actions": ["*"],
        "notActions": [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
        ],
    },
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": {"roleName": "Reader", "actions": [_READ], "notActions": []},
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": {
        "roleName": "User Access Administrator",
        "actions": [_READ, "Microsoft.Authorization/*", "Microsoft.Support/*"],
        "notActions": [],
    },
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": {
        "roleName": "Role Based Access Control Administrator",
        "actions": [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            _READ,
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "91c1777a-f3dc-4fae-b103-61d183457e46": {
        "roleName": "Managed Services Registration assignment Delete Role",
        "actions": [
            "Microsoft.ManagedServices/registrationAssignments/read",
            "Microsoft.ManagedServices/registrationAssignments/delete",
            "Microsoft.ManagedServices/operationStatuses/read",
        ],
        "notActions": [],
    },
    "4a9ae827-6dc8-4573-8ac7-8239d42aa03f": {
        "roleName": "Tag Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
            "Microsoft.Resources/subscriptions/resources/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Support/*",
            "Microsoft.Resources/tags/*",
        ],
        "notActions": [],
    },
    "749f88d5-cbae-40b8-bcfc-e573ddc772fa": {
        "roleName": "Monitoring Contributor",
        "actions": [
            _READ,
            "Microsoft.AlertsManagement/*",
            "Microsoft.Insights/*",
            "Microsoft.OperationalInsights/workspaces/*",
            "Microsoft.OperationsManagement/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourcegroups/resources/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05": {
        "roleName": "Monitoring Reader",
        "actions": [_READ, "Microsoft.OperationalInsights/workspaces/search/action", "Microsoft.Support/*"],
        "notActions": [],
    },
    "fb1c8493-542b-48eb-b624-b4c8fea62acd": {
        "roleName": "Security Admin",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Authorization/policyAssignments/*",
            "Microsoft.Authorization/policyDefinitions/*",
            "Microsoft.Authorization/policyExemptions/*",
            "Microsoft.Authorization/policySetDefinitions/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Management/managementGroups/read",
            "Microsoft.operationalInsights/workspaces/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Security/*",
            "Microsoft.IoTSecurity/*",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "39bc4728-0917-49c7-9d2c-d95423bc2eb4": {
        "roleName": "Security Reader",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/read",
            "Microsoft.operationalInsights/workspaces/*/read",
            "Microsoft.Resources/deployments/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Security/*/read",
            "Microsoft.IoTSecurity/*/read",
            "Microsoft.Support/*/read",
            "Microsoft.Security/iotDefenderSettings/packageDownloads/action",
            "Microsoft.Management/managementGroups/read",
        ],
        "notActions": [],
    },
    "36243c78-bf99-498c-9df9-86d9f8d28608": {
        "roleName": "Resource Policy Contributor",
        "actions": [
            "*/read",
            "Microsoft.Authorization/policyassignments/*",
            "Microsoft.Authorization/policydefinitions/*",
            "Microsoft.Authorization/policyexemptions/*",
            "Microsoft.Authorization/policysetdefinitions/*",
            "Microsoft.PolicyInsights/*",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "5e467623-bb1f-42f4-a55d-6e525e11384b": {
        "roleName": "Backup Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.RecoveryServices/locations/*",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/*",
            "Microsoft.RecoveryServices/Vaults/backupPolicies/*",
            "Microsoft.RecoveryServices/Vaults/backupJobs/*",
            "Microsoft.RecoveryServices/Vaults/backupProtectedItems/*",
            "Microsoft.RecoveryServices/Vaults/backupProtectableItems/*",
            "Microsoft.RecoveryServices/Vaults/backupProtectionContainers/*",
            "Microsoft.RecoveryServices/Vaults/backupconfig/*",
            "Microsoft.RecoveryServices/Vaults/operationResults/*",
            "Microsoft.RecoveryServices/Vaults/read",
            "Microsoft.RecoveryServices/Vaults/write",
            "Microsoft.RecoveryServices/operations/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "00c29273-979b-4161-815c-10b084fb9324": {
        "roleName": "Backup Operator",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*",
            "Microsoft.RecoveryServices/Vaults/backupJobs/*",
            "Microsoft.RecoveryServices/Vaults/backupPolicies/read",
            "Microsoft.RecoveryServices/Vaults/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "a795c7a0-d4a2-40c1-ae25-d81f01202912": {
        "roleName": "Backup Reader",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.RecoveryServices/Vaults/*/read",
            "Microsoft.RecoveryServices/Vaults/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": {
        "roleName": "Virtual Machine Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Compute/availabilitySets/*",
            "Microsoft.Compute/locations/*",
            "Microsoft.Compute/virtualMachines/*",
            "Microsoft.Compute/virtualMachineScaleSets/*",
            "Microsoft.Compute/disks/write",
            "Microsoft.Compute/disks/read",
            "Microsoft.Compute/disks/delete",
            "Microsoft.DevTestLab/schedules/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/networkSecurityGroups/join/action",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/publicIPAddresses/join/action",
            "Microsoft.Network/publicIPAddresses/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.RecoveryServices/locations/*",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*/read",
            "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/write",
            "Microsoft.RecoveryServices/Vaults/backupPolicies/read",
            "Microsoft.RecoveryServices/Vaults/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.SqlVirtualMachine/*",
            "Microsoft.Storage/storageAccounts/listKeys/action",
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "92aaf0da-9dab-42b6-94a3-d43ce8d16293": {
        "roleName": "Log Analytics Contributor",
        "actions": [
            _READ,
            "Microsoft.ClassicCompute/virtualMachines/extensions/*",
            "Microsoft.ClassicStorage/storageAccounts/listKeys/action",
            "Microsoft.Compute/virtualMachines/extensions/*",
            "Microsoft.HybridCompute/machines/extensions/write",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.OperationalInsights/*",
            "Microsoft.OperationsManagement/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourcegroups/deployments/*",
            "Microsoft.Storage/storageAccounts/listKeys/action",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "73c42c96-874c-492b-b04d-ab87d138a893": {
        "roleName": "Log Analytics Reader",
        "actions": [
            _READ,
            "Microsoft.OperationalInsights/workspaces/analytics/query/action",
            "Microsoft.OperationalInsights/workspaces/search/action",
            "Microsoft.Support/*",
        ],
        "notActions": ["Microsoft.OperationalInsights/workspaces/sharedKeys/read"],
    },
    "434105ed-43f6-45c7-a02f-909b2ba83430": {
        "roleName": "Cost Management Contributor",
        "actions": [
            "Microsoft.Consumption/*",
            "Microsoft.CostManagement/*",
            "Microsoft.Billing/billingPeriods/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Advisor/configurations/read",
            "Microsoft.Advisor/recommendations/read",
            "Microsoft.Management/managementGroups/read",
            "Microsoft.Billing/billingProperty/read",
        ],
        "notActions": [],
    },
    "72fafb9e-0641-4937-9268-a91bfd8191a3": {
        "roleName": "Cost Management Reader",
        "actions": [
            "Microsoft.Consumption/*/read",
            "Microsoft.CostManagement/*/read",
            "Microsoft.Billing/billingPeriods/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Advisor/configurations/read",
            "Microsoft.Advisor/recommendations/read",
            "Microsoft.Management/managementGroups/read",
            "Microsoft.Billing/billingProperty/read",
        ],
        "notActions": [],
    },
    "f1a07417-d97a-45cb-824c-7a7467783830": {
        "roleName": "Managed Identity Operator",
        "actions": [
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59": {
        "roleName": "Managed Identity Contributor",
        "actions": [
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "f353d9bd-d4a6-484e-a77a-8050b599b867": {
        "roleName": "Automation Contributor",
        "actions": [
            "Microsoft.Automation/automationAccounts/*",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Insights/metrics/read",
            "Microsoft.Insights/ActionGroups/*",
            "Microsoft.Insights/ActivityLogAlerts/*",
            "Microsoft.Insights/MetricAlerts/*",
            "Microsoft.Insights/ScheduledQueryRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
        ],
        "notActions": [],
    },
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": {
        "roleName": "Storage Account Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "f25e0fa2-a7c8-4377-a976-54943a77a395": {
        "roleName": "Key Vault Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.KeyVault/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        "notActions": [
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            "Microsoft.KeyVault/hsmPools/*",
            "Microsoft.KeyVault/managedHsms/*",
        ],
    },
    "4d97b98b-1d4f-4787-a291-c67834d212e7": {
        "roleName": "Network Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "de139f84-1756-47ae-9be6-808fbbe84772": {
        "roleName": "Website Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/components/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Web/certificates/*",
            "Microsoft.Web/listSitesAssignedToHostName/read",
            "Microsoft.Web/serverFarms/join/action",
            "Microsoft.Web/serverFarms/read",
            "Microsoft.Web/sites/*",
        ],
        "notActions": [],
    },
    "9b7fa17d-e63e-47b0-bb0a-15c516ac86ec": {
        "roleName": "SQL DB Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Sql/locations/*/read",
            "Microsoft.Sql/servers/databases/*",
            "Microsoft.Sql/servers/read",
            "Microsoft.Support/*",
            "Microsoft.Insights/metrics/read",
            "Microsoft.Insights/metricDefinitions/read",
        ],
        "notActions": [
            "Microsoft.Sql/servers/databases/ledgerDigestUploads/write",
            "Microsoft.Sql/servers/databases/ledgerDigestUploads/disable/action",
            "Microsoft.Sql/managedInstances/databases/currentSensitivityLabels/*",
            "Microsoft.Sql/servers/databases/auditingSettings/*",
            "Microsoft.Sql/servers/databases/securityAlertPolicies/*",
            "Microsoft.Sql/servers/databases/vulnerabilityAssessments/*",
        ],
    },
    "cfd33db0-3dd1-45e3-aa9d-cdbdf3b6f24e": {
        "roleName": "Support Request Contributor",
        "actions": [
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    "cd570a14-e51a-42ad-bac8-bafd67325302": {
        "roleName": "Azure Connected Machine Resource Administrator",
        "actions": [
            "Microsoft.HybridCompute/machines/read",
            "Microsoft.HybridCompute/machines/write",
            "Microsoft.HybridCompute/machines/delete",
            "Microsoft.HybridCompute/machines/UpgradeExtensions/action",
            "Microsoft.HybridCompute/machines/extensions/read",
            "Microsoft.HybridCompute/machines/extensions/write",
            "Microsoft.HybridCompute/machines/extensions/delete",
            "Microsoft.HybridCompute/privateLinkScopes/*",
            "Microsoft.HybridCompute/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Authorization/*/read",
        ],
        "notActions": [],
    },
    "cd08ab90-6b14-449c-ad9a-8f8e549482c6": {
        "roleName": "Scheduled Patching Contributor",
        "actions": [
            "Microsoft.Maintenance/maintenanceConfigurations/read",
            "Microsoft.Maintenance/maintenanceConfigurations/write",
            "Microsoft.Maintenance/maintenanceConfigurations/delete",
            "Microsoft.Maintenance/configurationAssignments/read",
            "Microsoft.Maintenance/configurationAssignments/write",
            "Microsoft.Maintenance/configurationAssignments/delete",
            "Microsoft.Maintenance/configurationAssignments/maintenanceScope/InGuestPatch/read",
            "Microsoft.Maintenance/configurationAssignments/maintenanceScope/InGuestPatch/write",
            "Microsoft.Maintenance/configurationAssignments/maintenanceScope/InGuestPatch/delete",
        ],
        "notActions": [],
    },
}
# Key Vault's data-plane roles (built-in-roles/security: their dataActions; control-plane reads as published)
_KV_READS = [
    "Microsoft.Authorization/*/read",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.KeyVault/vaults/*/read",
]
BUILTIN_ROLES.update(
    {
        "00482a5a-887f-4fb3-b363-3b7fe8e74483": {
            "roleName": "Key Vault Administrator",
            "actions": _KV_READS,
            "notActions": [],
            "dataActions": ["Microsoft.KeyVault/vaults/*"],
        },
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": {
            "roleName": "Key Vault Secrets Officer",
            "actions": _KV_READS,
            "notActions": [],
            "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"],
        },
        "4633458b-17de-408a-b874-0445c86b69e6": {
            "roleName": "Key Vault Secrets User",
            "actions": [],
            "notActions": [],
            "dataActions": [
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            ],
        },
        "21090545-7ca7-4776-b22c-e363652d74d2": {
            "roleName": "Key Vault Reader",
            "actions": ["Microsoft.KeyVault/vaults/*/read"],
            "notActions": [],
            "dataActions": [
                "Microsoft.KeyVault/vaults/*/read",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            ],
        },
    }
)
ROLE_IDS_BY_NAME = {v["roleName"].lower(): k for k, v in BUILTIN_ROLES.items()}
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def role_guid(role_definition_id: str) -> str:
    """The GUID at the end of a role definition ID."""
    return role_definition_id.rstrip("/").split("/")[-1].lower()


def data_action_allowed(role_guid_: str, data_action: str) -> bool:
    """Whether a built-in role's dataActions (minus notDataActions) cover a data action. Control-plane roles
    (Owner, Contributor) have none: an Owner cannot read a secret without a data role."""
    role = BUILTIN_ROLES.get(role_guid_)
    if role is None:
        return False
    a = data_action.lower()
    allowed = any(fnmatch.fnmatchcase(a, p.lower()) for p in role.get("dataActions", []))
    denied = any(fnmatch.fnmatchcase(a, p.lower()) for p in role.get("notDataActions", []))
    return allowed and not denied


def role_allows(role_guid_: str, action: str) -> bool:
    """Whether a built-in role's actions (minus notActions) cover an action, as ARM matches them (case-insensitive)."""
    role = BUILTIN_ROLES.get(role_guid_)
    if role is None:
        return False
    a = action.lower()
    allowed = any(fnmatch.fnmatchcase(a, p.lower()) for p in role["actions"])
    denied = any(fnmatch.fnmatchcase(a, p.lower()) for p in role["notActions"])
    return allowed and not denied
