"""Declarative tables of the Microsoft Graph v1.0 resources the sandbox serves: each resource's declared properties
with their EDM types, the read-only, create-only and enum properties, the ones written only through service actions,
its alternate keys; and Microsoft Graph's own service principal with the application permissions (app roles) it
defines. graph.py checks request bodies against these tables.

Sources: the Microsoft Graph v1.0 reference, "application resource type", "servicePrincipal resource type",
"appRoleAssignment resource type" (properties, "Read-only", "Required on create", enum values); "Upsert application"
and "Upsert servicePrincipal" (the upsert keys); "Microsoft Graph permissions reference" (the app role ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# EDM types of properties: the Edm.* primitives, complex types (microsoft.graph.*, a JSON object), enum types (a
# JSON string, listed in Resource.enums) and Collection(...) of them
STRING = "Edm.String"
BOOLEAN = "Edm.Boolean"
GUID = "Edm.Guid"
DATETIME = "Edm.DateTimeOffset"
STREAM = "Edm.Stream"  # not in a JSON body (an application's logo is PUT to /applications/{id}/logo): unchecked
STRINGS = "Collection(Edm.String)"


@dataclass(frozen=True)
class Resource:
    """One Graph entity type as a request body may carry it."""

    name: str  # as Graph's error messages name it: "Application"
    odata_type: str  # the @odata.type annotation a body may carry, without '#'
    properties: Mapping[str, str]  # every declared v1.0 property -> its EDM type
    read_only: frozenset[str]  # never set by a client (setting one to its current value is a no-op)
    create_only: frozenset[str] = frozenset()  # set on create only, read-only afterwards
    required: tuple[str, ...] = ()  # required on create
    enums: Mapping[str, frozenset[str | None]] = field(default_factory=dict)  # the values Graph knows (None: null)
    service_actions: frozenset[str] = frozenset()  # written only through actions (addPassword / removePassword)
    alternate_keys: tuple[str, ...] = ()  # served as {entitySet}(key='value')
    upsert_key: str | None = None  # the alternate key PATCH with `Prefer: create-if-missing` creates by


def _names(names: str) -> frozenset[str]:
    return frozenset(names.split())


def _props(kind: str, names: str) -> dict[str, str]:
    return dict.fromkeys(_names(names), kind)


def _graph(**types: str) -> dict[str, str]:
    """Properties of microsoft.graph types: name=typeName, or name="Collection(typeName)"."""
    return {
        name: f"Collection(microsoft.graph.{t[11:-1]})" if t.startswith("Collection(") else f"microsoft.graph.{t}"
        for name, t in types.items()
    }


APPLICATION = Resource(
    name="Application",
    odata_type="microsoft.graph.application",
    properties=MappingProxyType(
        {
            **_props(
                STRING,
                "appId applicationTemplateId defaultRedirectUri description disabledByMicrosoftStatus displayName"
                " groupMembershipClaims id notes publisherDomain samlMetadataUrl"
                " serviceManagementReference signInAudience uniqueName",
            ),
            **_props(BOOLEAN, "isDeviceOnlyAuthSupported isFallbackPublicClient oauth2RequirePostResponse"),
            **_props(GUID, "tokenEncryptionKeyId"),
            **_props(DATETIME, "createdDateTime deletedDateTime"),
            **_props(STREAM, "logo"),
            **_props(STRINGS, "identifierUris tags"),
            **_graph(
                nativeAuthenticationApisEnabled="nativeAuthenticationApisEnabled",
                api="apiApplication",
                certification="certification",
                info="informationalUrl",
                optionalClaims="optionalClaims",
                parentalControlSettings="parentalControlSettings",
                publicClient="publicClientApplication",
                requestSignatureVerification="requestSignatureVerification",
                servicePrincipalLockConfiguration="servicePrincipalLockConfiguration",
                spa="spaApplication",
                verifiedPublisher="verifiedPublisher",
                web="webApplication",
                addIns="Collection(addIn)",
                appRoles="Collection(appRole)",
                keyCredentials="Collection(keyCredential)",
                passwordCredentials="Collection(passwordCredential)",
                requiredResourceAccess="Collection(requiredResourceAccess)",
            ),
        }
    ),
    read_only=_names(
        "id appId applicationTemplateId createdDateTime deletedDateTime publisherDomain certification"
        " verifiedPublisher disabledByMicrosoftStatus"
    ),
    create_only=frozenset({"uniqueName"}),
    required=("displayName",),
    enums=MappingProxyType(
        {
            "signInAudience": frozenset(
                {
                    "AzureADMyOrg",
                    "AzureADMultipleOrgs",
                    "AzureADandPersonalMicrosoftAccount",
                    "PersonalMicrosoftAccount",
                }
            ),
            "nativeAuthenticationApisEnabled": frozenset({"none", "all", None}),
        }
    ),
    service_actions=frozenset({"passwordCredentials"}),
    alternate_keys=("appId", "uniqueName"),
    upsert_key="uniqueName",
)

SERVICE_PRINCIPAL = Resource(
    name="ServicePrincipal",
    odata_type="microsoft.graph.servicePrincipal",
    properties=MappingProxyType(
        {
            **_props(
                STRING,
                "appDescription appDisplayName appId applicationTemplateId description disabledByMicrosoftStatus"
                " displayName homepage id loginUrl logoutUrl notes preferredSingleSignOnMode"
                " preferredTokenSigningKeyThumbprint servicePrincipalType signInAudience",
            ),
            **_props(BOOLEAN, "accountEnabled appRoleAssignmentRequired"),
            **_props(GUID, "appOwnerOrganizationId tokenEncryptionKeyId"),
            **_props(DATETIME, "deletedDateTime"),
            **_props(STRINGS, "alternativeNames notificationEmailAddresses replyUrls servicePrincipalNames tags"),
            **_graph(
                customSecurityAttributes="customSecurityAttributeValue",
                info="informationalUrl",
                samlSingleSignOnSettings="samlSingleSignOnSettings",
                verifiedPublisher="verifiedPublisher",
                addIns="Collection(addIn)",
                appRoles="Collection(appRole)",
                keyCredentials="Collection(keyCredential)",
                oauth2PermissionScopes="Collection(permissionScope)",
                passwordCredentials="Collection(passwordCredential)",
                resourceSpecificApplicationPermissions="Collection(resourceSpecificPermission)",
            ),
        }
    ),
    read_only=_names(
        "id appDisplayName appOwnerOrganizationId applicationTemplateId deletedDateTime signInAudience"
        " resourceSpecificApplicationPermissions verifiedPublisher disabledByMicrosoftStatus"
    ),
    create_only=frozenset({"appId"}),
    required=("appId",),
    enums=MappingProxyType(
        {"preferredSingleSignOnMode": frozenset({"password", "saml", "notSupported", "oidc", None})}
    ),
    service_actions=frozenset({"passwordCredentials"}),
    alternate_keys=("appId",),
    upsert_key="appId",
)

APP_ROLE_ASSIGNMENT = Resource(
    name="AppRoleAssignment",
    odata_type="microsoft.graph.appRoleAssignment",
    properties=MappingProxyType(
        {
            **_props(STRING, "id principalDisplayName principalType resourceDisplayName"),
            **_props(GUID, "appRoleId principalId resourceId"),
            **_props(DATETIME, "createdDateTime deletedDateTime"),
        }
    ),
    read_only=_names("id createdDateTime deletedDateTime principalDisplayName principalType"),
    required=("principalId", "resourceId", "appRoleId"),
)

#: the Graph entity sets served with alternate keys, by lower-cased name
BY_ENTITY_SET = MappingProxyType({"applications": APPLICATION, "serviceprincipals": SERVICE_PRINCIPAL})

# --- Microsoft Graph's service principal in every tenant -------------------------------------------------------------
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # the tenant that owns Microsoft's first-party apps

#: (value, id, displayName) of Microsoft Graph's application permissions the sandbox knows, as the Graph
#: permissions reference lists them (every permission graph.py checks is one of these)
MICROSOFT_GRAPH_APP_ROLES = (
    ("Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Read all applications"),
    ("Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Read and write all applications"),
    (
        "Application.ReadWrite.OwnedBy",
        "18a4783c-866b-4cc7-a460-3d5e5662c884",
        "Manage apps that this app creates or owns",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
        "Manage app permission grants and app role assignments",
    ),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Read directory data"),
    ("Directory.ReadWrite.All", "19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Read and write directory data"),
    ("Organization.Read.All", "498476ce-e0fe-48b0-b801-37ba7e2685c6", "Read organization information"),
    ("Organization.ReadWrite.All", "292d869f-3427-49a8-9dab-8c70152b74e9", "Read and write organization information"),
    ("RoleManagement.Read.Directory", "483bed4a-2ad3-4361-a73b-c83ccdbdc53c", "Read all directory RBAC settings"),
    (
        "RoleManagement.ReadWrite.Directory",
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
        "Read and write all directory RBAC settings",
    ),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214", "Read all users' full profiles"),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca", "Read and write all users' full profiles"),
)
