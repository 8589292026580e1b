"""Four eyes on real tenants: `runbook approve` (a second person approves the reviewed plan) and the gate an apply
passes (`gate`: the runner before the kernel starts; `check_interactive`: a JupyterLab session's apply cell).

The approver signs in with azure-identity's default chain (environment variables, managed identity, the Azure CLI's
`az login`, ...) in the MSP's tenant, on the customer's cloud: on their own machine, or with their own credential,
never with the runbook's `credential:`. Their token's principal (object id, name or UPN) is what the approval names,
and an apply by that same principal is refused. What is recorded lives in `evidence/approval.py`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..customer.catalogue import OFFBOARDING_STAGE
from ..customer.params import Parameters, load
from ..errors import InputError, TargetError
from ..evidence import EvidenceStore
from ..evidence import approval as four_eyes
from ..evidence.approval import Approval, Principal
from ..evidence.results import Change


def approver_credential(params: Parameters) -> tuple[Any, str]:
    """azure-identity's default chain for the customer's cloud (the sandbox's authority and CA on the sandbox), and
    the token scope to ask for; it signs in to the MSP's tenant (where the MSP's people are)."""
    from azure.identity import DefaultAzureCredential

    from ..adapters.clients import ARM_SCOPE, KNOWN_CLOUDS, sandbox_target

    kw: dict[str, Any] = {"additionally_allowed_tenants": [params.msp.tenant_id, params.tenant_id]}
    scope = ARM_SCOPE
    if params.target == "sandbox":
        target = sandbox_target()
        kw |= {"authority": target.arm_url, "connection_verify": target.ca_path, "disable_instance_discovery": True}
    elif params.cloud.name == "custom":
        kw |= {"authority": (params.cloud.authority or "").rstrip("/"), "disable_instance_discovery": True}
        if params.cloud.ca_bundle:
            kw["connection_verify"] = params.cloud.ca_bundle
    else:
        cloud = KNOWN_CLOUDS[params.cloud.name]
        kw["authority"], scope = cloud.authority, cloud.arm_scope
    return DefaultAzureCredential(**kw), scope


def _claims(token: str) -> dict:
    import base64
    import json

    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def sign_in_as_approver(params: Parameters) -> Principal:
    """Who approves: the principal of a token the default chain gets for the MSP's tenant. A failed sign-in is one
    line naming the fix."""
    from azure.core.exceptions import ClientAuthenticationError

    credential, scope = approver_credential(params)
    try:
        token = credential.get_token(scope, tenant_id=params.msp.tenant_id).token
    except ClientAuthenticationError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TargetError(
            f"signing in as the approver to the MSP's tenant {params.msp.tenant_id} failed ({first[:300]}). Fix: sign "
            f"in as yourself (`az login --tenant {params.msp.tenant_id}`, or AZURE_CLIENT_ID / AZURE_CLIENT_SECRET / "
            "AZURE_TENANT_ID for your own app), then run `runbook approve` again"
        ) from None
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            close()
    return Principal.from_claims(_claims(token))


def approve(
    customer: str, stage: int | None, run_id: str = "", offboard: bool = False
) -> tuple[Approval, four_eyes.ReviewedPlan]:
    """`runbook approve <customer> --stage N`: sign in as the approver and record their approval of the stage's
    reviewed plan (its newest sealed dry run, or `run_id`). `--offboard` (`offboard`): of the newest sealed offboard
    dry run instead (`runbook offboard`, or a tier change's removals), or `run_id`. InputError (exit 2) when there is no
    such plan."""
    from ..adapters import secrets

    params = load(customer)
    store = EvidenceStore(params.customer)
    if offboard:
        stage, subject = OFFBOARDING_STAGE, four_eyes.ANY_OFFBOARD
        reviewed = four_eyes.reviewed_plan(store, stage, run_id, subject)
        what = f"run {run_id} is not a sealed offboard run" if run_id else "there is no dry run of `runbook offboard`"
        how = f"`runbook offboard {params.customer}` (or `runbook tier {params.customer} --to <tier>`)"
    else:
        assert stage is not None
        reviewed = four_eyes.reviewed_plan(store, stage, run_id)
        what = f"run {run_id} is not a sealed stage {stage} run" if run_id else f"there is no dry run of stage {stage}"
        how = f"`runbook run {params.customer} --stage {stage}`"
    if reviewed is None:
        raise InputError(
            f"{params.customer}: nothing to approve: {what}. Fix: {how} (a dry run), read its plan, then approve it"
        )
    approver = sign_in_as_approver(params)
    made = four_eyes.record(store, reviewed, approver, secrets.stored_values(params.secret_refs()))
    return made, reviewed


def applier(params: Parameters) -> Principal:
    """Who the run signs in as (the runbook's credential for the customer's tenant): one token request."""
    from ..customer.connect import make_clients
    from ..steps.base import Context, sign_in_failure, unreachable

    clients = make_clients(params)
    try:
        return Principal.from_claims(clients.target.signed_in())
    except Exception as exc:
        if unreachable(exc):
            raise TargetError(
                f"the tenant could not be reached to check the approval ({exc}). Fix: check the network"
            ) from None
        raise TargetError(sign_in_failure(Context(params), exc)) from None
    finally:
        clients.close()


def gate(params: Parameters, stage: int, apply: bool, subject: str = "") -> tuple[dict, dict[str, str]]:
    """Before a stage run whose customer needs approval: the facts for the run's header (who planned, approved,
    applies) and the environment for its kernel. A dry run records who planned; an apply is refused (ApprovalRequired,
    exit 3) unless a second principal approved the reviewed plan, and its kernel then applies that plan only. With a
    `subject` (approval.OFFBOARD, or a tier change's `tier:<to>`), the same for an offboard run's removals."""
    me = applier(params)
    if not apply:
        return {"planned_by": me.describe(), "planner": asdict(me)}, {}
    store = EvidenceStore(params.customer)
    reviewed = four_eyes.reviewed_plan(store, stage, subject=subject)
    if reviewed is not None and reviewed.changes == 0:  # nothing to approve: the run may apply nothing (Stage 0)
        meta: dict = {"planned_by": f"{reviewed.planned_by} (run {reviewed.run_id})", "applied_by": me.describe()}
        meta["approved_by"] = f"not needed: the reviewed plan (run {reviewed.run_id}) changes nothing"
        return meta, {four_eyes.APPROVAL_ENV: four_eyes.NOTHING}
    ok = four_eyes.check(params.customer, stage, reviewed, four_eyes.approvals(store, stage, subject), me, subject)
    assert reviewed is not None
    meta = {
        "planned_by": f"{reviewed.planned_by} (run {reviewed.run_id})",
        "approved_by": ok.describe(),
        "applied_by": me.describe(),
        "approved_plan": {"run": reviewed.run_id, "sha256": reviewed.sha256, "approval_run": ok.run_id},
    }
    return meta, {four_eyes.APPROVAL_ENV: ok.run_id}


def check_interactive(
    params: Parameters, stage: int, item_id: str, shown: list[Change], target: Any, subject: str = ""
) -> Approval:
    """A JupyterLab session's apply cell with approval required: the plan the cell shows must be the approved one
    for this item, approved by another principal than the session's. ApprovalRequired naming why and the fix; the
    approval that lets it through. `subject`: an offboard run's plan (the offboarding notebook's remove cell)."""
    from ..errors import ApprovalRequired
    from ..steps.base import review_differences

    store = EvidenceStore(params.customer)
    reviewed = four_eyes.reviewed_plan(store, stage, subject=subject)
    me = Principal.from_claims(target.signed_in())
    ok = four_eyes.check(params.customer, stage, reviewed, four_eyes.approvals(store, stage, subject), me, subject)
    approved = four_eyes.approved_plans(params.customer, ok.run_id).get(item_id, [])
    differs = review_differences(approved, shown)
    if differs:
        raise ApprovalRequired(
            f"{item_id}: nothing was applied: the plan shown differs from the approved one ({'; '.join(differs[:5])}). "
            + four_eyes.fix(params.customer, stage, subject)
        )
    return ok
