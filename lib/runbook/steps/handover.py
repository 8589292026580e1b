"""Stage 4: what the customer's contacts can do in their own tenant, read through the runbook's access to it (no
connector of its own): the contact who edits the Office 365 licences holds an Entra role that may assign them
(s4-o365-licenses, Microsoft Graph), and the contacts who should see Azure Advisor and the Azure Policy dashboard hold a
role allowing it on every managed subscription (s4-advisor-insight, s4-policy-dashboard, ARM role assignments and
definitions). Without what the check needs (the contact not named, a read refused for want of a permission) the
CSM's attestation is used (steps.base.check_or_attest). E-mail addresses are compared here and never leave: the
evidence holds the user's object id, the roles and their scopes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError

from ..customer.params import Contact, display_path, resolve_path
from .base import Context, Observation, TenantCheck, Verdict, error_text

# Entra built-in roles that may assign licences, by template id (the roleDefinitionId of their assignments in v1.0)
LICENCE_ROLES = {
    "4d6ac14f-3453-41d0-bef9-a3e0c569773a": "License Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
}
ASSIGN_LICENSE = "microsoft.directory/users/assignLicense"  # the resource action a (custom) role may grant it by
USERS_PERMISSION = "User.Read.All"
ROLES_PERMISSION = "RoleManagement.Read.Directory"
ADVISOR_READ = "Microsoft.Advisor/recommendations/read"
POLICY_READ = "Microsoft.PolicyInsights/policyStates/read"


# --- the tenant's answers, as the checks use them -------------------------------------------------------------------
@dataclass(frozen=True)
class DirectoryRole:
    """A directory role a user holds: its definition id, name, the actions it grants, the directory scope."""

    definition_id: str
    name: str
    scope: str = "/"
    actions: tuple[str, ...] = ()

    @property
    def manages_licences(self) -> bool:
        return self.definition_id.lower() in LICENCE_ROLES or any(
            _glob(a).fullmatch(ASSIGN_LICENSE) for a in self.actions
        )


@dataclass(frozen=True)
class Permission:
    """One permission block of an Azure role definition."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """An Azure role assignment that reaches a user: the role, its permissions, where and through whom."""

    role: str
    scope: str
    permissions: tuple[Permission, ...]
    via: str = ""  # '' direct; else the group's object id


@dataclass
class Person:
    """A contact as the tenant holds them: their user object id ('' when not found, 'ambiguous' for several)."""

    contact: Contact
    user_id: str = ""
    found: int = 0
    roles: list[DirectoryRole] = field(default_factory=list)


def _glob(pattern: str) -> re.Pattern[str]:
    """An Azure RBAC action pattern ('*' any characters, '/' included) as a case-insensitive regex."""
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.IGNORECASE)


def allows(permissions: Iterable[Permission], action: str) -> bool:
    """Whether a role definition allows a control-plane action, as Azure evaluates it: some block has an action
    matching it (wildcards) and no notAction of that block excludes it (notActions subtract, they do not deny)."""
    return any(
        any(_glob(a).fullmatch(action) for a in p.actions)
        and not any(_glob(n).fullmatch(action) for n in p.not_actions)
        for p in permissions
    )


def covers(scope: str, subscription: str) -> bool:
    """Whether an assignment's scope covers the whole subscription: the subscription itself or a scope above it
    (management group, root); a resource group or resource below it does not."""
    s = scope.rstrip("/").lower()
    return s in ("", f"/subscriptions/{subscription}".lower()) or s.startswith(
        "/providers/microsoft.management/managementgroups/"
    )


# --- reads ------------------------------------------------------------------------------------------------------------
def _quoted(text: str) -> str:
    return text.replace("'", "''")


def graph_refusal(exc: BaseException, what: str, permission: str, tenant: str) -> str:
    """Microsoft Graph's 403 as one line with the permission and how to grant it ('' for any other error)."""
    if getattr(exc, "response_status_code", None) != 403:
        return ""
    err = getattr(exc, "error", None)
    code = str(getattr(err, "code", "") or "Authorization_RequestDenied")
    return (
        f"Microsoft Graph refused to read {what} in tenant {tenant} (403 {code}). Fix: grant the runbook's app the "
        f"Microsoft Graph application permission {permission} (or Directory.Read.All) and admin consent (Entra admin "
        "center > App registrations > the runbook's app > API permissions > Grant admin consent)"
    )


async def _find_users(graph: Any, contacts: Sequence[Contact]) -> list[tuple[Contact, list[str]]]:
    """Each contact's user object ids: users whose mail or userPrincipalName is the contact's e-mail address."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    out = []
    for c in contacts:
        address = _quoted(c.email)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"mail eq '{address}' or userPrincipalName eq '{address}'", select=["id"]
        )
        found = (await graph.users.get(RequestConfiguration(query_parameters=query))).value or []
        out.append((c, [str(u.id) for u in found]))
    return out


async def _directory_roles(graph: Any, user_id: str) -> list[DirectoryRole]:
    """The directory roles assigned to a user directly, with their definitions (name, actions) and scopes."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (
        RoleAssignmentsRequestBuilder,
    )

    query = RoleAssignmentsRequestBuilder.RoleAssignmentsRequestBuilderGetQueryParameters(
        filter=f"principalId eq '{_quoted(user_id)}'", expand=["roleDefinition"]
    )
    page = await graph.role_management.directory.role_assignments.get(RequestConfiguration(query_parameters=query))
    roles = []
    for a in page.value or []:
        definition = a.role_definition
        actions = tuple(
            str(x)
            for p in ((definition.role_permissions or []) if definition else [])
            for x in (p.allowed_resource_actions or [])
        )
        rid = str(a.role_definition_id or "")
        name = (definition.display_name if definition else None) or LICENCE_ROLES.get(rid.lower(), rid)
        roles.append(DirectoryRole(rid, str(name), str(a.directory_scope_id or "/"), actions))
    return roles


class _HandoverCheck(TenantCheck):
    def users(self, ctx: Context, contacts: Sequence[Contact]) -> list[Person]:
        """The contacts as users of the customer's tenant (Graph); a refusal for want of User.Read.All is raised
        through `refuse`, so the attestation is used."""
        p = ctx.params
        try:
            found = ctx.clients.run_graph(lambda g: _find_users(g, contacts))
        except Exception as exc:
            why = graph_refusal(exc, "its users", USERS_PERMISSION, p.tenant_name)
            if why:
                raise self.refuse(why) from None
            raise
        return [Person(c, ids[0] if len(ids) == 1 else ("ambiguous" if ids else ""), len(ids)) for c, ids in found]

    def record(self, ctx: Context) -> str:
        return ""


def _named(p: Any) -> str:
    return display_path(resolve_path(p.customer))


# --- s4-o365-licenses -------------------------------------------------------------------------------------------------
class LicenceAdmin(_HandoverCheck):
    """The contact `handover.licence_admin` is a user of the customer's tenant holding, for the whole directory, an
    Entra role that may assign licences (License Administrator, User Administrator, Global Administrator, or a custom
    role granting microsoft.directory/users/assignLicense)."""

    item_id = "s4-o365-licenses"
    graph_permission = f"{USERS_PERMISSION} and {ROLES_PERMISSION}"

    def unavailable(self, ctx: Context) -> str:
        if not ctx.params.handover.licence_admin:
            return f"no handover.licence_admin in {_named(ctx.params)} (the contact who edits the Office 365 licences)"
        return ""

    def inspect(self, ctx: Context) -> Observation:
        p = ctx.params
        contact = p.contact(str(p.handover.licence_admin))
        assert contact is not None  # the parameters' validation names only contacts
        person = self.users(ctx, [contact])[0]
        if person.found == 1:
            try:
                person.roles = ctx.clients.run_graph(lambda g: _directory_roles(g, person.user_id))
            except Exception as exc:
                why = graph_refusal(exc, "the directory role assignments", ROLES_PERMISSION, p.tenant_name)
                if why:
                    raise self.refuse(why) from None
                raise
        rows = [
            {
                "contact": contact.name,
                "user": person.user_id,
                "role": r.name,
                "scope": r.scope,
                "manages licences": "yes" if r.manages_licences and r.scope == "/" else "no",
            }
            for r in person.roles
        ] or [{"contact": contact.name, "user": person.user_id, "role": "", "scope": "", "manages licences": "no"}]
        return Observation(rows, {"person": person, "tenant": p.tenant_name})

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        return licence_verdict(obs.facts["person"], obs.facts["tenant"])


def licence_verdict(person: Person, tenant: str) -> Verdict:
    """Fulfilled when the contact is one user of the tenant holding a licence-managing role for the whole directory;
    open names the contact and what they lack (no such user, several, no such role, or one scoped to an
    administrative unit only)."""
    name = person.contact.name
    wanted = "License Administrator (or User Administrator, Global Administrator) for the whole directory"
    if person.found == 0:
        return Verdict(
            "open",
            f"{name} is not a user of tenant {tenant} (no user has the contact's e-mail address as mail or user name).",
            [f"{name}: a user in tenant {tenant} with the contact's e-mail address, holding {wanted}"],
        )
    if person.found > 1:
        return Verdict(
            "open",
            f"{person.found} users of tenant {tenant} have {name}'s e-mail address; the check cannot tell which one.",
            [f"{name}: one user in tenant {tenant} with the contact's e-mail address (now {person.found})"],
        )
    good = [r for r in person.roles if r.manages_licences and r.scope == "/"]
    if good:
        return Verdict(
            "fulfilled",
            f"{name} (user {person.user_id}) holds {', '.join(r.name for r in good)} in tenant {tenant}: they can "
            "edit the Office 365 licences.",
        )
    scoped = [r for r in person.roles if r.manages_licences]
    held = ", ".join(f"{r.name}{'' if r.scope == '/' else ' for ' + r.scope}" for r in person.roles) or "no role"
    why = (
        f"{name} (user {person.user_id}) holds {held}: only for part of the directory."
        if scoped
        else f"{name} (user {person.user_id}) holds {held} in tenant {tenant}, none of which can assign licences."
    )
    return Verdict("open", why, [f"{name} lacks {wanted}"])


# --- s4-advisor-insight, s4-policy-dashboard -------------------------------------------------------------------------
class _InsightCheck(_HandoverCheck):
    """The contacts `handover.insight` (default: every contact) hold, on every managed subscription, a role assignment
    (direct, through a group, at the subscription or above) whose role allows `action`."""

    action = ""
    what = ""

    def unavailable(self, ctx: Context) -> str:
        if not self._contacts(ctx):
            return f"no contacts in {_named(ctx.params)} (who should see {self.what})"
        return ""

    @staticmethod
    def _contacts(ctx: Context) -> list[Contact]:
        p = ctx.params
        if p.handover.insight is None:
            return list(p.contacts)
        return [c for c in (p.contact(w) for w in p.handover.insight) if c is not None]

    def inspect(self, ctx: Context) -> Observation:
        p = ctx.params
        self.refusal = ""
        people = self.users(ctx, self._contacts(ctx))
        grants: dict[tuple[str, str], list[Grant]] = {}
        refused: list[str] = []
        rows: list[dict] = []
        definitions: dict[str, tuple[str, tuple[Permission, ...]]] = {}
        for sub in p.subscription_ids:
            auth = ctx.clients.authorization(sub)
            for person in people:
                if person.found != 1:
                    continue
                try:
                    found = self._grants(auth, person.user_id, definitions)
                except HttpResponseError as exc:
                    if exc.status_code != 403:
                        raise
                    refused.append(sub)
                    rows.append(
                        {
                            "contact": person.contact.name,
                            "user": person.user_id,
                            "subscription": sub,
                            "role": "",
                            "scope": "",
                            "via": "",
                            "allows": f"not readable: {error_text(exc)}",
                        }
                    )
                    break
                grants[(person.user_id, sub)] = found
                for g in found:
                    rows.append(
                        {
                            "contact": person.contact.name,
                            "user": person.user_id,
                            "subscription": sub,
                            "role": g.role,
                            "scope": g.scope,
                            "via": f"group {g.via}" if g.via else "direct",
                            "allows": "yes" if covers(g.scope, sub) and allows(g.permissions, self.action) else "no",
                        }
                    )
        if refused:
            self.refusal = (
                f"Azure refused to read the role assignments of subscription(s) {', '.join(refused)} "
                "(403 AuthorizationFailed). Fix: the customer grants the runbook's principal Reader there (it needs "
                "Microsoft.Authorization/roleAssignments/read and roleDefinitions/read)"
            )
        facts = {"people": people, "grants": grants, "subscriptions": list(p.subscription_ids), "tenant": p.tenant_name}
        return Observation(rows, facts)

    @staticmethod
    def _grants(auth: Any, user_id: str, definitions: dict) -> list[Grant]:
        """The user's role assignments that apply to the subscription (assignedTo: direct and through groups), with
        their role definitions (read once each)."""
        out = []
        for ra in auth.role_assignments.list_for_subscription(filter=f"assignedTo('{_quoted(user_id)}')"):
            key = str(ra.role_definition_id).lower()
            if key not in definitions:
                d = auth.role_definitions.get_by_id(ra.role_definition_id)
                definitions[key] = (
                    str(d.role_name),
                    tuple(Permission(tuple(x.actions or ()), tuple(x.not_actions or ())) for x in d.permissions or []),
                )
            name, perms = definitions[key]
            via = "" if str(ra.principal_id).lower() == user_id.lower() else str(ra.principal_id)
            out.append(Grant(name, str(ra.scope), perms, via))
        return out

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        if self.refusal:
            return Verdict("failed", self.refusal)
        f = obs.facts
        return insight_verdict(f["people"], f["grants"], f["subscriptions"], self.action, self.what, f["tenant"])


def insight_verdict(
    people: Sequence[Person],
    grants: dict[tuple[str, str], list[Grant]],
    subscriptions: Sequence[str],
    action: str,
    what: str,
    tenant: str,
) -> Verdict:
    """Fulfilled when every contact holds, on every subscription, a role allowing `action` at the subscription or
    above; open names each contact x subscription missing (and a role that reaches only resource groups)."""
    missing = []
    for person in people:
        name = person.contact.name
        if person.found != 1:
            state = "is not a user" if person.found == 0 else f"matches {person.found} users"
            missing.append(f"{name} {state} of tenant {tenant} (by the contact's e-mail address)")
            continue
        for sub in subscriptions:
            found = grants.get((person.user_id, sub), [])
            if any(covers(g.scope, sub) and allows(g.permissions, action) for g in found):
                continue
            partial = sorted({g.scope for g in found if not covers(g.scope, sub) and allows(g.permissions, action)})
            tail = f" (only on {', '.join(partial)})" if partial else ""
            missing.append(f"{name} (user {person.user_id}) on subscription {sub}: no role allowing {action}{tail}")
    total = len(people) * len(subscriptions)
    if missing:
        return Verdict(
            "open", f"{len(missing)} contact x subscription part(s) of {total} lack insight in {what}.", missing
        )
    return Verdict(
        "fulfilled",
        f"All {len(people)} contact(s) can open {what} on all {len(subscriptions)} subscription(s) (a role allowing {action}).",
    )


class AdvisorInsight(_InsightCheck):
    item_id = "s4-advisor-insight"
    action = ADVISOR_READ
    what = "Azure Advisor"


class PolicyDashboardInsight(_InsightCheck):
    item_id = "s4-policy-dashboard"
    action = POLICY_READ
    what = "the Azure Policy dashboard"
