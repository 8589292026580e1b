"""Stage 1: the MSP's app registration in the customer tenant: application, service principal, roles, secret."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from azure.core.exceptions import HttpResponseError

from ..customer.params import AppRegistration as AppRegistrationParams
from ..errors import SecretError
from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, Step, StepInputError, Verdict, error_text

CREDENTIAL_NAME = "intercept-runbook"
RENEW_BEFORE = timedelta(days=30)  # a secret closer than this to expiry is replaced


def _cfg(ctx: Context) -> AppRegistrationParams:
    """The app_registration section (the step declares it required, so it is there when the step runs)."""
    cfg = ctx.params.app_registration
    if cfg is None:
        raise StepInputError("parameters: 'app_registration' is required")
    return cfg


async def _find(graph: Any, display_name: str) -> tuple[list[Any], Any]:
    """Applications with the display name, and the service principal of the first."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
    from msgraph.generated.service_principals.service_principals_request_builder import ServicePrincipalsRequestBuilder

    quoted = display_name.replace("'", "''")
    query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(filter=f"displayName eq '{quoted}'")
    apps = (await graph.applications.get(RequestConfiguration(query_parameters=query))).value or []
    sp = None
    if len(apps) == 1:
        sq = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
            filter=f"appId eq '{apps[0].app_id}'"
        )
        found = (await graph.service_principals.get(RequestConfiguration(query_parameters=sq))).value or []
        sp = found[0] if found else None
    return apps, sp


def _valid_credential(app: Any) -> Any:
    """The runbook's client secret on the app if it is valid for at least RENEW_BEFORE."""
    horizon = datetime.now(timezone.utc) + RENEW_BEFORE
    for cred in app.password_credentials or []:
        end = cred.end_date_time
        if cred.display_name == CREDENTIAL_NAME and end is not None and end.astimezone(timezone.utc) > horizon:
            return cred
    return None


def assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    """A deterministic role assignment name, so re-runs address the same assignment."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{principal_id.lower()}|{role_guid.lower()}"))


ASSIGNING_ROLES = {"owner", "user access administrator", "role based access control administrator"}


def _lighthouse_only(ctx: Context, auth: Any, scope: str) -> str | None:
    """The Lighthouse offer through which the runbook reaches a subscription when it holds no RBAC role there that may
    assign roles (then Azure refuses role assignments to the app: a delegated User Access Administrator may assign
    roles only to managed identities); None when the runbook assigns roles here by RBAC."""
    runbook = ctx.params.msp.principal_id
    names = {d.name.lower(): d.role_name.lower() for d in auth.role_definitions.list(scope)}
    held = {
        names.get(ra.role_definition_id.rsplit("/", 1)[-1].lower(), "")
        for ra in auth.role_assignments.list_for_scope(scope, filter=f"principalId eq '{runbook}'")
    }
    if held & ASSIGNING_ROLES:
        return None
    for reg in ctx.clients.managed_services().registration_assignments.list(scope, expand_registration_definition=True):
        definition = reg.properties.registration_definition if reg.properties else None
        if (
            definition is not None
            and definition.properties is not None
            and (definition.properties.managed_by_tenant_id or "").lower() == ctx.params.msp.tenant_id
        ):
            return definition.properties.registration_definition_name or reg.name
    return None


class AppRegistration(Step):
    """Find or create the MSP application and its service principal, assign roles, store a secret."""

    item_id = "s1-app-registration"
    requires = ("app_registration",)
    graph_permission = "Application.ReadWrite.All"

    def inspect(self, ctx: Context) -> Observation:
        """The application by display name, its service principal, secret, and role assignments."""
        cfg = _cfg(ctx)
        apps, sp = ctx.clients.run_graph(lambda g: _find(g, cfg.display_name))
        app = apps[0] if len(apps) == 1 else None
        cred = _valid_credential(app) if app else None
        # the store must hold this credential's value: Key Vault versions carry the key id they were stored with
        key = str(cred.key_id) if cred is not None else ""
        versions = ctx.secrets.versions(cfg.secret_store) if cred is not None else []
        kept = next((v for v in versions if v.tags.get("key_id", key) == key), None)
        stored = kept is not None
        rows = [
            {
                "object": "application",
                "name": cfg.display_name,
                "id": app.app_id if app else "",
                "state": "exists" if app else ("AMBIGUOUS" if apps else "missing"),
            },
            {
                "object": "service principal",
                "name": cfg.display_name,
                "id": sp.id if sp else "",
                "state": "exists" if sp else "missing",
            },
            {
                "object": "client secret",
                "name": CREDENTIAL_NAME,
                "id": str(cred.key_id) if cred else "",
                "state": f"valid until {cred.end_date_time:%Y-%m-%d}, stored at {cfg.secret_store.describe()}"
                + (f" (version {kept.version})" if kept is not None and kept.version else "")
                if stored and cred is not None
                else ("valid but not in the secret store" if cred else "missing"),
            },
        ]
        roles: dict[tuple[str, str], bool] = {}
        guids: dict[str, str] = {}
        via_lighthouse: dict[str, str] = {}  # subscription -> offer: roles there come from the offer, not from here
        unreadable: list[ScopeFailure] = []
        for sub in ctx.params.subscription_ids:
            try:
                self._inspect_roles(ctx, cfg, sp, sub, rows, roles, guids, via_lighthouse)
            except HttpResponseError as exc:  # this subscription fails, the others go on
                unreadable.append(
                    ScopeFailure(
                        f"/subscriptions/{sub}",
                        f"cannot read or assign roles: {error_text(exc)}; the runbook principal needs Owner or User Access Administrator there",
                    )
                )
                rows.append(
                    {
                        "object": "role assignment",
                        "name": ", ".join(cfg.roles),
                        "id": f"/subscriptions/{sub}",
                        "state": f"failed: {error_text(exc)}",
                    }
                )
        self.role_guids = guids  # apply assigns by these ids; no second lookup
        return Observation(
            rows,
            {
                "apps": apps,
                "app": app,
                "sp": sp,
                "stored_secret": stored,
                "roles": roles,
                "guids": guids,
                "via_lighthouse": via_lighthouse,
                "unreadable": unreadable,
            },
        )

    @staticmethod
    def _inspect_roles(
        ctx: Context,
        cfg: AppRegistrationParams,
        sp: Any,
        sub: str,
        rows: list[dict],
        roles: dict,
        guids: dict,
        via_lighthouse: dict,
    ) -> None:
        """The app's role assignments on one subscription (or that Lighthouse makes them unnecessary)."""
        scope = f"/subscriptions/{sub}"
        auth = ctx.clients.authorization(sub)
        offer = _lighthouse_only(ctx, auth, scope)
        if offer is not None:
            via_lighthouse[sub] = offer
            rows.append(
                {
                    "object": "role assignment",
                    "name": ", ".join(cfg.roles),
                    "id": scope,
                    "state": f"not needed: the MSP manages this subscription through the Lighthouse offer '{offer}', which can assign roles only to managed identities",
                }
            )
            return
        held = set()
        if sp is not None:
            held = {
                ra.role_definition_id.rsplit("/", 1)[-1].lower()
                for ra in auth.role_assignments.list_for_scope(scope, filter=f"principalId eq '{sp.id}'")
            }
        for role in cfg.roles:
            if role not in guids:
                found = list(auth.role_definitions.list(scope, filter=f"roleName eq '{role}'"))
                if not found:
                    raise ValueError(
                        f"role '{role}' in app_registration.roles does not exist; use a built-in role name such as Reader"
                    )
                guids[role] = found[0].name.lower()
            roles[(sub, role)] = guids[role] in held
            rows.append(
                {
                    "object": "role assignment",
                    "name": role,
                    "id": scope,
                    "state": "assigned" if roles[(sub, role)] else "missing",
                }
            )

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """What is missing, in the order it must be created."""
        f, cfg = obs.facts, _cfg(ctx)
        if len(f["apps"]) > 1:
            return []  # ambiguous: judged as failed, nothing is changed
        changes = []
        if f["app"] is None:
            changes.append(Change(cfg.display_name, "create application"))
        if f["sp"] is None:
            changes.append(Change(cfg.display_name, "create service principal"))
        if not f["stored_secret"]:
            changes.append(
                Change(
                    cfg.display_name,
                    "add client secret",
                    {"store": cfg.secret_store.describe(), "valid_days": cfg.secret_valid_days},
                )
            )
        for (sub, role), held in f["roles"].items():
            if not held:
                changes.append(Change(f"/subscriptions/{sub}", "assign role", {"role": role}))
        return changes

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        """Create what the plan lists; the new secret goes straight to its store and is never returned."""
        from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
            AddPasswordPostRequestBody,
        )
        from msgraph.generated.models.application import Application
        from msgraph.generated.models.password_credential import PasswordCredential
        from msgraph.generated.models.service_principal import ServicePrincipal

        cfg = _cfg(ctx)
        by_action = {c.action: c for c in changes}

        async def graph_work(graph: Any) -> str:
            apps, sp = await _find(graph, cfg.display_name)
            if apps:
                app = apps[0]
            else:
                app = await graph.applications.post(
                    Application(display_name=cfg.display_name, sign_in_audience="AzureADMyOrg")
                )
                ctx.accepted(by_action["create application"])
            if sp is None:
                sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
                ctx.accepted(by_action["create service principal"])
            if "add client secret" in by_action:
                end = datetime.now(timezone.utc) + timedelta(days=cfg.secret_valid_days)
                cred = await graph.applications.by_application_id(app.id).add_password.post(
                    AddPasswordPostRequestBody(
                        password_credential=PasswordCredential(display_name=CREDENTIAL_NAME, end_date_time=end)
                    )
                )
                try:
                    kept = ctx.secrets.store(
                        cfg.secret_store,
                        cred.secret_text,
                        expires_on=end,
                        content_type=f"client secret of {cfg.display_name} ({app.app_id})",
                        tags={"customer": ctx.params.customer, "app_id": str(app.app_id), "key_id": str(cred.key_id)},
                    )
                except SecretError:  # nobody holds the value: take the credential off the app again, then say why
                    from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
                        RemovePasswordPostRequestBody,
                    )

                    await graph.applications.by_application_id(app.id).remove_password.post(
                        RemovePasswordPostRequestBody(key_id=cred.key_id)
                    )
                    raise
                change = by_action["add client secret"]
                change.detail.update(
                    {"key_id": str(cred.key_id), "expires": f"{end:%Y-%m-%d}"}
                    | ({"version": kept.version} if kept.version else {})
                )
                ctx.accepted(change)
            return sp.id

        sp_id = ctx.clients.run_graph(graph_work)

        def assign(c: Change) -> None:
            auth = ctx.clients.authorization(c.target.rsplit("/", 1)[-1])
            guid = self.role_guids[c.detail["role"]]
            body = {
                "role_definition_id": f"{c.target}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                "principal_id": sp_id,
                "principal_type": "ServicePrincipal",
            }
            try:
                auth.role_assignments.create(c.target, assignment_name(c.target, sp_id, guid), body)
            except HttpResponseError as exc:
                if not (exc.error is not None and exc.error.code == "RoleAssignmentExists"):
                    raise  # named by apply_each; the other scopes go on

        roles = [c for c in changes if c.action == "assign role"]
        return self.applied(ctx, self.apply_each(ctx, roles, assign, what=lambda c: f"assign {c.detail['role']}"))

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Fulfilled when the app, its principal, a stored valid secret and every role exist."""
        f, cfg = obs.facts, _cfg(ctx)
        if len(f["apps"]) > 1:
            return Verdict(
                "failed",
                f"{len(f['apps'])} applications are named '{cfg.display_name}'; the runbook will not guess which one is the MSP's.",
                [f"delete or rename the duplicates of '{cfg.display_name}' in Entra ID"],
            )
        if f["unreadable"]:
            return Verdict(
                "failed",
                f"Could not handle the roles on {len(f['unreadable'])} subscription(s); everything else was done.",
                f["unreadable"] + [c.headline for c in pending[:50]],
            )
        if pending:
            return super().judge(ctx, obs, pending, applied)
        app = f["app"]
        done = f" ({len(applied)} change(s) applied)" if applied else ""
        lighthouse = (
            f" ({len(f['via_lighthouse'])} subscription(s) managed through Lighthouse need none)"
            if f["via_lighthouse"]
            else ""
        )
        return Verdict(
            "fulfilled",
            f"Application {app.app_id} with its service principal, {len(f['roles'])} role assignment(s){lighthouse} and a client secret stored at {cfg.secret_store.describe()}{done}.",
        )
