"""Issue 22: the reads of Stage 4's handover checks against the sandbox, through the real clients (msgraph-sdk for
Microsoft Graph, azure-mgmt-authorization for ARM): users by mail / userPrincipalName, directory role assignments with
their definitions, Azure role assignments of a user (assignedTo: direct and through groups) and role definitions;
and what Graph and ARM refuse (a token without the permission, a $filter the collection does not serve)."""

from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (
    RoleAssignmentsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from tests.contract.test_graph import principal_with

DANA = "2b7e4f1a-6c3d-4e8b-9a5f-0d1c2e3f4a51"
OLAF = "2b7e4f1a-6c3d-4e8b-9a5f-0d1c2e3f4a52"
IT_ADMINS = "7e1b5c3a-2d4f-4a8e-9c6b-1f3e5d7a9b20"
LICENSE_ADMINISTRATOR = "4d6ac14f-3453-41d0-bef9-a3e0c569773a"
SUB = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def users(expr: str):
    async def work(graph):
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(filter=expr)
        return (await graph.users.get(RequestConfiguration(query_parameters=query))).value

    return work


def role_assignments(expr: str, expand: list[str] | None = None):
    async def work(graph):
        query = RoleAssignmentsRequestBuilder.RoleAssignmentsRequestBuilderGetQueryParameters(
            filter=expr, expand=expand
        )
        return (
            await graph.role_management.directory.role_assignments.get(RequestConfiguration(query_parameters=query))
        ).value

    return work


# --- Microsoft Graph: users ----------------------------------------------------------------------------------------
def test_users_are_found_by_mail_or_user_principal_name(clients):
    """learn.microsoft.com/graph/api/user-list (v1.0), example "Get a user account using a sign-in name" and the
    `$filter` support of `mail` and `userPrincipalName` (eq, `or`) in "user resource type"; the default properties of
    a user (businessPhones, displayName, ..., userPrincipalName, id)."""
    found = clients.run_graph(
        users("mail eq 'dana@contoso-demo.example' or userPrincipalName eq 'dana@contoso-demo.example'")
    )
    assert [(u.id, u.display_name, u.mail) for u in found] == [(DANA, "Dana Director", "dana@contoso-demo.example")]
    assert found[0].user_principal_name == "dana.director@contosodemo.onmicrosoft.com"
    by_upn = clients.run_graph(users("userPrincipalName eq 'olaf.operator@contosodemo.onmicrosoft.com'"))
    assert [u.id for u in by_upn] == [OLAF]
    assert clients.run_graph(users("mail eq 'nobody@contoso-demo.example'")) == []


def test_users_refuse_a_filter_on_a_property_they_do_not_filter_on(clients):
    """An unsupported `$filter` property on users: 400 Request_UnsupportedQuery "Unsupported or invalid query filter
    clause specified for property 'officeLocation' of resource 'User'." (microsoftgraph/microsoft-graph-docs-contrib
    #3260, #9135, quoting Graph's answer)."""
    with pytest.raises(ODataError) as exc:
        clients.run_graph(users("officeLocation eq 'Utrecht'"))
    assert exc.value.response_status_code == 400 and exc.value.error.code == "Request_UnsupportedQuery"
    assert exc.value.error.message == (
        "Unsupported or invalid query filter clause specified for property 'officeLocation' of resource 'User'."
    )


def test_reading_users_needs_user_read_all_or_directory_read_all(sandbox):
    """user-list, Permissions (application): User.Read.All, User.ReadWrite.All, Directory.Read.All,
    Directory.ReadWrite.All; without one 403 Authorization_RequestDenied "Insufficient privileges to complete the
    operation." (learn.microsoft.com/graph/resolve-auth-errors). Application.Read.All does not read users."""
    apps_only, _ = principal_with(sandbox, "Application.Read.All")
    with pytest.raises(ODataError) as exc:
        apps_only.run_graph(users("mail eq 'dana@contoso-demo.example'"))
    assert exc.value.response_status_code == 403 and exc.value.error.code == "Authorization_RequestDenied"
    reader, _ = principal_with(sandbox, "User.Read.All")
    assert [u.id for u in reader.run_graph(users("mail eq 'dana@contoso-demo.example'"))] == [DANA]


# --- Microsoft Graph: directory roles -----------------------------------------------------------------------------
def test_a_users_directory_role_assignments_with_their_definitions(clients):
    """learn.microsoft.com/graph/api/rbacapplication-list-roleassignments (v1.0): `$filter` on principalId,
    `$expand=roleDefinition`; unifiedRoleAssignment (id, principalId, roleDefinitionId = the built-in role's template
    id, directoryScopeId '/') and unifiedRoleDefinition (displayName, isBuiltIn, templateId, rolePermissions
    .allowedResourceActions) resource types; License Administrator's template id from "Microsoft Entra built-in
    roles"."""
    found = clients.run_graph(role_assignments(f"principalId eq '{DANA}'", ["roleDefinition"]))
    assert [(a.principal_id, a.role_definition_id, a.directory_scope_id) for a in found] == [
        (DANA, LICENSE_ADMINISTRATOR, "/")
    ]
    definition = found[0].role_definition
    assert (definition.display_name, definition.is_built_in, definition.template_id) == (
        "License Administrator",
        True,
        LICENSE_ADMINISTRATOR,
    )
    assert "microsoft.directory/users/assignLicense" in definition.role_permissions[0].allowed_resource_actions
    assert clients.run_graph(role_assignments(f"principalId eq '{OLAF}'")) == []
    by_role = clients.run_graph(role_assignments(f"roleDefinitionId eq '{LICENSE_ADMINISTRATOR}'", ["principal"]))
    assert [a.principal.id for a in by_role] == [DANA]


def test_role_assignments_refuse_a_filter_they_do_not_serve_and_need_a_role_management_permission(sandbox, clients):
    """rbacapplication-list-roleassignments: `$filter` on principalId, roleDefinitionId, directoryScopeId, appScopeId
    only; another property is 400 BadRequest "Invalid filter clause" (the wording of Graph's directory services,
    microsoftgraph/microsoft-graph-docs-contrib#4133; inferred for this collection). Permissions (application):
    RoleManagement.Read.Directory, Directory.Read.All, RoleManagement.ReadWrite.Directory, Directory.ReadWrite.All;
    User.Read.All alone is refused with 403 Authorization_RequestDenied."""
    with pytest.raises(ODataError) as exc:
        clients.run_graph(role_assignments("displayName eq 'License Administrator'"))
    assert exc.value.response_status_code == 400 and exc.value.error.code == "BadRequest"
    users_only, _ = principal_with(sandbox, "User.Read.All")
    with pytest.raises(ODataError) as denied:
        users_only.run_graph(role_assignments(f"principalId eq '{DANA}'"))
    assert denied.value.response_status_code == 403 and denied.value.error.code == "Authorization_RequestDenied"
    roles_only, _ = principal_with(sandbox, "RoleManagement.Read.Directory")
    assert len(roles_only.run_graph(role_assignments(f"principalId eq '{DANA}'"))) == 1


def test_role_definitions_are_listed_and_read_by_template_id(clients):
    """learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions and unifiedroledefinition-get (v1.0):
    GET /roleManagement/directory/roleDefinitions[/{id}]; an unknown id is 404 Request_ResourceNotFound."""

    async def work(graph):
        listed = (await graph.role_management.directory.role_definitions.get()).value
        one = await graph.role_management.directory.role_definitions.by_unified_role_definition_id(
            LICENSE_ADMINISTRATOR
        ).get()
        return listed, one

    listed, one = clients.run_graph(work)
    assert {"Global Administrator", "User Administrator", "License Administrator"} <= {d.display_name for d in listed}
    assert one.display_name == "License Administrator"

    async def missing(graph):
        return await graph.role_management.directory.role_definitions.by_unified_role_definition_id(
            "00000000-0000-0000-0000-0000000000aa"
        ).get()

    with pytest.raises(ODataError) as exc:
        clients.run_graph(missing)
    assert exc.value.response_status_code == 404 and exc.value.error.code == "Request_ResourceNotFound"


# --- ARM: a user's role assignments and role definitions ------------------------------------------------------------
def test_assigned_to_lists_a_users_direct_and_group_role_assignments(clients):
    """azure-rest-api-specs specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/
    authorization-RoleAssignmentsCalls.json RoleAssignments_ListForSubscription: `$filter` atScope(),
    `principalId eq '{id}'` or `assignedTo('{id}')` ("Supported filters are either 'atScope()' or 'principalId eq
    '{value}'' or assignedTo('{value}')", Azure/azure-rest-api-specs#28255 quoting ARM); assignedTo also returns the
    assignments of the groups the principal is a member of (Get-AzRoleAssignment -ExpandPrincipalGroups,
    Azure/azure-powershell). Role definitions: RoleDefinitions_GetById (Reader's `*/read`)."""
    auth = clients.authorization(SUB)
    direct = list(auth.role_assignments.list_for_subscription(filter=f"assignedTo('{DANA}')"))
    assert [(a.principal_id, a.principal_type, a.role_definition_id.rsplit("/", 1)[-1]) for a in direct] == [
        (DANA, "User", READER)
    ]
    through_group = list(auth.role_assignments.list_for_subscription(filter=f"assignedTo('{OLAF}')"))
    assert [(a.principal_id, a.principal_type) for a in through_group] == [(IT_ADMINS, "Group")]
    assert list(auth.role_assignments.list_for_subscription(filter=f"principalId eq '{OLAF}'")) == []
    reader = auth.role_definitions.get_by_id(direct[0].role_definition_id)
    assert reader.role_name == "Reader" and reader.permissions[0].actions == ["*/read"]


def test_role_assignments_of_a_subscription_are_refused_to_a_principal_without_a_role_there(sandbox):
    """ARM authorization: a caller without Microsoft.Authorization/roleAssignments/read at the scope gets 403
    AuthorizationFailed (learn.microsoft.com/azure/role-based-access-control/troubleshooting)."""
    from azure.core.exceptions import HttpResponseError

    from tests.contract.test_graph import login

    client_id, secret, _ = sandbox.add_principal("no role")
    nobody = login(sandbox, client_id, secret)
    with pytest.raises(HttpResponseError) as exc:
        list(nobody.authorization(SUB).role_assignments.list_for_subscription(filter=f"assignedTo('{DANA}')"))
    assert exc.value.status_code == 403 and exc.value.error.code == "AuthorizationFailed"
