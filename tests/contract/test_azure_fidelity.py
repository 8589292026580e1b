"""The sandbox answers as recorded Azure traffic answers (issue 27): api-versions Azure serves, defaults Azure fills
in, scopes Azure resolves, fields Azure always returns. Each test names the spec file (azure-rest-api-specs) or the
recorded answer it follows; tests/contract/test_recordings.py replays the recordings themselves."""

from __future__ import annotations

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web"


# ---------------------------------------------------------------------------------------------------- api-versions
def test_older_versions_the_specs_publish_are_served(raw):
    """Every version folder of the type's spec file is served, e.g. actionGroups_API.json stable/2017-04-01,
    consumption.json stable/2018-01-31, storage.json stable/2019-06-01, Workspaces.json stable/2020-08-01,
    resources.json stable/2019-07-01, managedservices.json preview/2018-06-01-preview, advisor.json stable/2020-01-01,
    keyvault.json stable/2019-09-01, vaults.json (recoveryservices) stable/2016-06-01."""
    ag = raw(
        "PUT",
        f"{RG}/providers/microsoft.insights/actionGroups/ag-old?api-version=2017-04-01",
        {"location": "global", "properties": {"groupShortName": "old", "enabled": True}},
    )
    assert ag.status_code == 201, ag.text
    assert raw("GET", f"/subscriptions/{SUB}/resourcegroups/rg-prod-web?api-version=2019-07-01").status_code == 200
    reads = [
        f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts?api-version=2019-06-01",
        f"/subscriptions/{SUB}/providers/Microsoft.OperationalInsights/workspaces?api-version=2020-08-01",
        f"/subscriptions/{SUB}/providers/Microsoft.Consumption/budgets?api-version=2018-01-31",
        f"/subscriptions/{SUB}/providers/Microsoft.Advisor/configurations?api-version=2020-01-01",
        f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/vaults?api-version=2019-09-01",
        f"/subscriptions/{SUB}/providers/Microsoft.RecoveryServices/vaults?api-version=2016-06-01",
        f"/subscriptions/{SUB}/providers/Microsoft.ManagedServices/registrationAssignments?api-version=2018-06-01-preview",
    ]
    for path in reads:
        assert raw("GET", path).status_code == 200, path


def test_a_version_no_spec_folder_holds_is_refused_as_azure_words_it(raw):
    """A provider's type: 400 NoRegisteredProviderFound listing the supported versions oldest first, comma and space
    (Azure/azure-cli#28496, Azure/LogicAppsUX#8196); the versions are those of actionGroups_API.json's folders."""
    bad = raw(
        "PUT",
        f"{RG}/providers/Microsoft.Insights/actionGroups/ag?api-version=2016-01-01",
        {"location": "global", "properties": {"groupShortName": "x", "enabled": True}},
    )
    msg = refused(bad, 400, "NoRegisteredProviderFound")["message"]
    assert msg.startswith(
        "No registered resource provider found for location 'global' and API version '2016-01-01' for type "
        "'actionGroups'. The supported api-versions are '2017-04-01, 2018-03-01, 2018-09-01, 2019-03-01, "
    )
    assert "2023-01-01, 2023-09-01-preview, 2024-10-01-preview'. The supported locations are '" in msg


def test_a_version_of_a_type_arm_hosts_is_invalid_resource_type(raw):
    """Microsoft.Authorization: 400 InvalidResourceType "The resource type 'roleAssignments' could not be found in the
    namespace 'Microsoft.Authorization' for api version '2018-06-01'. The supported api-versions are '...'."
    (Azure/acs-engine#4037); authorization-RoleAssignmentsCalls.json has no 2018-06-01 folder."""
    bad = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2018-06-01")
    msg = refused(bad, 400, "InvalidResourceType")["message"]
    assert msg.startswith(
        "The resource type 'roleAssignments' could not be found in the namespace 'Microsoft.Authorization' for api "
        "version '2018-06-01'. The supported api-versions are '2015-06-01-preview, 2015-07-01, "
    )
    ok = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2015-07-01")
    assert ok.status_code == 200


def test_an_arm_path_refuses_with_invalid_api_version_parameter(raw):
    """ARM's own paths (resource groups): 400 InvalidApiVersionParameter "The api-version '2023-02-01' is invalid. The
    supported versions are '...'." newest first (Azure/azure-cli#28038, ansible-collections/azure#1739)."""
    bad = raw("GET", f"/subscriptions/{SUB}/resourcegroups?api-version=2023-02-01")
    msg = refused(bad, 400, "InvalidApiVersionParameter")["message"]
    assert msg.startswith("The api-version '2023-02-01' is invalid. The supported versions are '2025-04-01,2025-03-01,")
    assert msg.endswith(",2015-01-01'.")
