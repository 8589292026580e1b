"""`runbook preflight <customer>`: before any change, on the sandbox or a real tenant, what the runbook will be able to
do: who it signs in as, the MSP's access per subscription (RBAC or Lighthouse), the Microsoft Graph permissions its
token carries against what Stage 1 needs, the secret store reachable and writable, the credentials Stage 3 looks up,
each connector to the MSP's own systems (HubSpot, TOPdesk, Exact Online) reachable with its credential accepted and the
customer's record found there, and per stage what will fail and why. Read-only: it writes nothing anywhere (the store's
write probe changes nothing, see `SecretStores.probe`), except the one write a check of Exact Online cannot avoid:
exchanging its refresh token replaces it, and the new one is stored back where the old one was."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from ..customer import catalogue
from ..customer.params import Parameters
from ..errors import InputError, RunbookError
from ..steps import REGISTRY
from ..steps.access import MspAccess
from ..steps.base import ConnectorCheck, Context, TenantCheck, execute

FINE = ("ok", "off")  # off: a connector not configured for the customer (its items use their attestations)


@dataclass
class Check:
    """One line of the preflight: what, its state (ok | missing | unknown | off: not configured, which is fine), the
    detail, the stages it blocks."""

    what: str
    state: str
    detail: str
    blocks: tuple[int, ...] = ()


@dataclass
class Preflight:
    """Every check and what it means per stage."""

    customer: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.state in FINE for c in self.checks)

    def stages(self) -> dict[int, list[str]]:
        """Per stage, what will fail (empty: nothing found that blocks it)."""
        out: dict[int, list[str]] = {n: [] for n in range(5)}
        for c in self.checks:
            if c.state not in FINE:
                for n in c.blocks:
                    out[n].append(f"{c.what}: {c.detail}")
        return out

    def to_dict(self) -> dict:
        return {
            "customer": self.customer,
            "ok": self.ok,
            "checks": [c.__dict__ | {"blocks": list(c.blocks)} for c in self.checks],
            "stages": {str(k): v for k, v in self.stages().items()},
        }

    def text(self) -> str:
        width = max(len(c.what) for c in self.checks) if self.checks else 10
        lines = [f"preflight of '{self.customer}':"]
        lines += [f"  {c.state.upper():8} {c.what:<{width}}  {c.detail}" for c in self.checks]
        lines.append("per stage:")
        for n, problems in self.stages().items():
            lines.append(f"  stage {n}: " + ("nothing found that blocks it" if not problems else "; ".join(problems)))
        lines.append("ready" if self.ok else "something is missing (named above)")
        return "\n".join(lines)


def _claims(token: str) -> dict:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


STAGE1_GRAPH = "Application.ReadWrite.All"


def run(params: Parameters, ctx: Context) -> Preflight:
    """Every read-only check, each failing on its own (one refusal does not hide the others)."""
    pf = Preflight(params.customer)
    target = ctx.clients.target
    where = target.arm_url if target.kind == "sandbox" else f"{target.kind} ({target.arm_url})"
    try:
        me = _claims(target.credential.get_token(target.arm_scope).token) if target.credential else {}
        pf.checks.append(
            Check(
                "sign-in",
                "ok",
                f"as app {me.get('appid')} (object {me.get('oid')}) of tenant {me.get('tid')} at {where}",
            )
        )
    except Exception as exc:  # nothing else can be checked without a token
        pf.checks.append(
            Check("sign-in", "missing", f"{type(exc).__name__}: {str(exc).splitlines()[0]}", (0, 1, 2, 3, 4))
        )
        return pf
    access = execute(MspAccess(), ctx)
    if access.error:
        pf.checks.append(Check("access", "missing", access.error, (0, 1, 2, 3)))
    for sub in params.subscription_ids:
        missing = [m for m in access.missing if m.startswith(sub)]
        held = sorted({f"{r['source']} {r['role']}" for r in access.observed if r["subscription"] == sub and r["msp"]})
        if missing:
            pf.checks.append(
                Check(f"access {sub}", "missing", "; ".join(m.split(": ", 1)[-1] for m in missing), (0, 1, 2, 3))
            )
        elif not access.error:
            pf.checks.append(Check(f"access {sub}", "ok", ", ".join(held) or "authorized"))
    if params.app_registration is not None and target.credential is not None:
        try:
            roles = set(_claims(target.credential.get_token(target.graph_scope).token).get("roles") or [])
            if STAGE1_GRAPH in roles:
                pf.checks.append(
                    Check("graph permission", "ok", f"{STAGE1_GRAPH} (token roles: {', '.join(sorted(roles))})")
                )
            else:
                pf.checks.append(
                    Check(
                        "graph permission",
                        "missing",
                        f"the token lacks {STAGE1_GRAPH} (has: {', '.join(sorted(roles)) or 'none'}); s1-app-registration needs it. Fix: grant the application permission and admin consent",
                        (1,),
                    )
                )
        except Exception as exc:
            pf.checks.append(Check("graph permission", "unknown", f"no Graph token: {str(exc).splitlines()[0]}", (1,)))
        ref = params.app_registration.secret_store
        try:
            versions = ctx.secrets.versions(ref)
            writable = ctx.secrets.probe(ref)
            pf.checks.append(
                Check("secret store", "ok", f"{ref.describe()}: {len(versions)} version(s) stored; {writable}")
            )
        except (InputError, RunbookError) as exc:
            pf.checks.append(Check("secret store", "missing", str(exc), (1,)))
    pf.checks += connector_checks(params, ctx)
    pf.checks += handover_checks(params, ctx)
    for cred in params.credentials:  # s3-credentials-stored looks each one up (names and metadata, never values)
        try:
            found = ctx.secrets.versions(cred.store)
            state, detail = ("ok", f"{cred.store.describe()}: stored") if found else ("missing", "not stored yet")
            pf.checks.append(Check(f"credential {cred.name}", state, detail, () if found else (3,)))
        except (InputError, RunbookError) as exc:
            pf.checks.append(Check(f"credential {cred.name}", "missing", str(exc), (3,)))
    return pf


# Stage 4's checks in the customer's tenant read users and directory roles through Microsoft Graph: one permission of
# each group (steps.handover); without them their items use their attestations, which blocks nothing
HANDOVER_GRAPH = (
    ("User.Read.All", ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")),
    (
        "RoleManagement.Read.Directory",
        (
            "RoleManagement.Read.Directory",
            "RoleManagement.ReadWrite.Directory",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ),
    ),
)


def handover_checks(params: Parameters, ctx: Context) -> list[Check]:
    """Whether the runbook's Graph token carries what Stage 4's tenant checks read (users; directory roles for
    s4-o365-licenses): ok, or off naming the permission to grant (their items then use their attestations). The ARM
    side (Reader on each subscription) is the access check above."""
    items = [
        i.id
        for i in catalogue.load().for_stage(4)
        if isinstance(REGISTRY.get(i.id), type) and issubclass(REGISTRY[i.id], TenantCheck)
    ]
    target = ctx.clients.target
    if not items or target.credential is None:
        return []
    try:
        roles = set(_claims(target.credential.get_token(target.graph_scope).token).get("roles") or [])
    except Exception as exc:
        return [Check("graph stage 4 reads", "unknown", f"no Graph token: {str(exc).splitlines()[0]}")]
    lacking = [name for name, any_of in HANDOVER_GRAPH if not roles & set(any_of)]
    if lacking:
        return [
            Check(
                "graph stage 4 reads",
                "off",
                f"the token lacks {' and '.join(lacking)} (or Directory.Read.All): {', '.join(items)} use(s) the "
                "attestation. Fix: grant the application permission and admin consent",
            )
        ]
    return [Check("graph stage 4 reads", "ok", f"users and directory roles readable ({', '.join(items)})")]


def connector_checks(params: Parameters, ctx: Context) -> list[Check]:
    """Per connector: off when it is not configured for the customer (its items use their attestations); else one
    read proving the system answers and accepts the credential, and the customer's record found in it. A failure
    names the items it makes fail, in their stage."""
    out = []
    for system in catalogue.CONNECTOR_NAMES:
        items = [i for i in catalogue.load().items if i.connector == system]
        if not items:
            continue
        names = ", ".join(i.id for i in items)
        why = params.connector_unavailable(system)
        if why:
            out.append(Check(f"connector {system}", "off", f"not configured ({why}): {names} use(s) the attestation"))
            continue
        step = REGISTRY[items[0].id]()
        assert isinstance(step, ConnectorCheck)
        try:
            proved = ctx.connector(system).reachable()
            out.append(Check(f"connector {system}", "ok", f"{proved}; {step.record(ctx)}"))
        except RunbookError as exc:
            stages = tuple(sorted({i.stage for i in items}))
            out.append(Check(f"connector {system}", "missing", f"{exc} ({names} will fail)", stages))
    return out
