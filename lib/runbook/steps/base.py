"""The shared inspect / plan / apply / verify mechanism every checklist step runs through."""

from __future__ import annotations

import getpass
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError

from ..adapters.clients import Clients
from ..adapters.passwordstate import Passwordstate
from ..adapters.secrets import SecretStores
from ..adapters.secrets import read as read_secret
from ..customer import catalogue
from ..customer.params import Parameters
from ..errors import InputError, TargetError
from ..errors import PartialFailure as PartialFailure
from ..errors import ScopeFailure as ScopeFailure
from ..errors import StepInputError as StepInputError
from ..evidence.journal import Journal, from_environment
from ..evidence.results import Change, ItemResult, stamp

if TYPE_CHECKING:
    from ..adapters.connectors.base import Connector


@dataclass
class Context:
    """What a step may use: the customer's parameters, the SDK clients, and whether to apply."""

    params: Parameters
    clients_factory: Callable[[], Clients] | None = field(repr=False, default=None)  # built on first use
    apply: bool = False
    ran_by: str = ""
    journal: Journal | None = field(default_factory=from_environment, repr=False)  # the run's journal, if any
    item_id: str = ""  # the item being executed
    applied: list[Change] = field(default_factory=list, repr=False)  # what Azure accepted for that item so far
    # one inventory listing shared by the steps of a batch run (a session by hand always reads afresh: the tenant
    # may change between cells); verification, and an apply of a reviewed plan, always read afresh
    share_inventory: bool = False
    fresh: bool = False
    _inventory: dict = field(default_factory=dict, repr=False)
    _connectors: dict[str, Any] = field(default_factory=dict, repr=False)

    def resources(self, msp_resource_group: str, unreadable: list[ScopeFailure] | None = None) -> list:
        """The customer's resources (inventory.customer_resources), listed once per run where sharing is on; a
        fresh listing replaces the shared one."""
        from ..adapters.inventory import customer_resources

        key = (tuple(s.lower() for s in self.params.subscription_ids), msp_resource_group.lower())
        if self.share_inventory and not self.fresh and key in self._inventory:
            listed, refused = self._inventory[key]
            if unreadable is not None:
                unreadable.extend(refused)
            elif refused:  # the caller cannot take a partial list: read again, and let Azure's refusal surface
                return customer_resources(self.clients, self.params.subscription_ids, msp_resource_group)
            return list(listed)
        refused_now: list[ScopeFailure] = []
        listed = customer_resources(
            self.clients,
            self.params.subscription_ids,
            msp_resource_group,
            refused_now if unreadable is not None else None,
        )
        if unreadable is not None:
            unreadable.extend(refused_now)
        self._inventory[key] = (listed, refused_now)
        return list(listed)

    def accepted(self, change: Change) -> None:
        """Record a change the moment Azure accepted it: in the item's result, and durably in the run's journal."""
        self.applied.append(change)
        if self.journal is not None:
            self.journal.change(self.item_id, change)

    @cached_property
    def secrets(self) -> SecretStores:
        """The secret stores the parameters' references point to: Key Vault through the target's credential,
        Passwordstate at the MSP's server (msp.passwordstate) with its API key."""
        server = self.params.msp.passwordstate

        def passwordstate() -> Passwordstate:
            if server is None:
                raise StepInputError("no msp.passwordstate in the parameters")
            return Passwordstate(self.clients.http(), server.url, read_secret(server.api_key))

        return SecretStores(
            lambda vault_url: self.clients.secret_client(vault_url), passwordstate if server is not None else None
        )

    def connector(self, system: str) -> Connector:
        """The connector to one of the MSP's systems (msp.connectors.<system>), built once: over the clients' httpx
        client (the sandbox's stand-ins reached by name), its credential read from its store at the first call (and a
        rotating one, Exact Online's refresh token, written back to it)."""
        if system not in self._connectors:
            from ..customer.connect import make_connector

            self._connectors[system] = make_connector(
                system,
                self.params,
                self.clients.http(),
                self.secrets.read,
                self.secrets.store,
                self.secrets.probe,
                self.clients.target,
            )
        made: Connector = self._connectors[system]
        return made

    @cached_property
    def clients(self) -> Clients:
        """SDK clients for the customer's tenant (sandbox or Azure), built once."""
        if self.clients_factory is None:
            raise StepInputError("no tenant to talk to: this context was made without clients")
        return self.clients_factory()

    def who(self) -> str:
        """Who ran the step: the engineer named in the parameters and the OS account."""
        return self.ran_by or f"{self.params.engineer} ({getpass.getuser()})"


@dataclass
class Observation:
    """What inspect found: rows to show plus facts the plan and verdict use."""

    rows: list[dict] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


@dataclass
class Verdict:
    """A step's judgement of the current state."""

    status: str  # fulfilled | open | failed
    summary: str
    missing: list[str] = field(default_factory=list)


class Step:
    """One automated checklist item. Subclasses implement inspect and judge; configuring steps also plan and apply."""

    item_id: str = ""
    requires: tuple[str, ...] = ()  # parameter sections the step needs; checked before it runs (named input error)
    graph_permission: str = ""  # the Microsoft Graph application permission the step needs, named when Graph refuses

    def inspect(self, ctx: Context) -> Observation:
        """Read the current state from the tenant."""
        raise NotImplementedError

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """Changes that would bring the tenant to the wanted state (none for check-only steps)."""
        return []

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        """Carry out planned changes; returns those applied."""
        return []

    def explain(self, exc: HttpResponseError) -> str:
        """Azure's refusal as one line (steps add the fix they know)."""
        return error_text(exc)

    def apply_each(
        self,
        ctx: Context,
        changes: list[Change],
        write: Callable[[Change], object],
        what: Callable[[Change], str] | None = None,
    ) -> list[ScopeFailure]:
        """Apply changes one after another: `write` makes one change's calls; a change Azure accepted is on the
        record at once (`ctx.accepted`), a refusal is named ("<target>: <what>: <why>") and the others go on."""
        failures: list[ScopeFailure] = []
        for c in changes:
            try:
                write(c)
            except HttpResponseError as exc:
                why = self.explain(exc)
                failures.append(ScopeFailure(c.target, f"{what(c)}: {why}" if what else why))
                continue
            ctx.accepted(c)
        return failures

    def applied(self, ctx: Context, failures: Sequence[str]) -> list[Change]:
        """The end of an apply: PartialFailure naming the refused parts (the accepted ones are on the record), else
        what Azure accepted."""
        if failures:
            raise PartialFailure(failures)
        return list(ctx.applied)

    def state(self, ctx: Context, obs: Observation, change: Change) -> object:
        """The state of a change's target as `obs` read it, for the record of before and after: its relevant
        properties, None where it does not exist, or `states.UNREAD` (the default) when this step cannot tell (the
        change's own values stand in: see `steps/states.py`)."""
        from .states import UNREAD

        return UNREAD

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Status of the item given what was observed, what is still pending and what was applied."""
        if pending and applied:
            return Verdict(
                "failed",
                f"Applied {len(applied)} change(s) but {len(pending)} remain after verification.",
                [c.headline for c in pending[:50]],
            )
        if pending:
            return Verdict(
                "open",
                f"{len(pending)} change(s) planned; {apply_hint()} to make them.",
                [c.headline for c in pending[:50]],
            )
        done = f" after applying {len(applied)} change(s)" if applied else ""
        return Verdict("fulfilled", f"The tenant is in the wanted state{done}.")


class ConnectorCheck(Step):
    """A `both` item whose check reads one of the MSP's systems through a connector (the catalogue's `connector:`).
    When the connector is configured for the customer (the MSP's settings and the customer's record in it) the check
    decides, as any step does; when it is not, the item's attestation is used (`check_or_attest`). Most only check;
    one that configures the system (s2-partner-center-budget) plans and applies like any configuring step, through
    its connector's write (`Connector.writes`), each accepted change on the record at once (`ctx.accepted`)."""

    connector = ""  # adapters.connectors name: hubspot, topdesk, exact, partner_center

    def unavailable(self, ctx: Context) -> str:
        """Why the check cannot run for this customer ('' when it can)."""
        return ctx.params.connector_unavailable(self.connector)

    def record(self, ctx: Context) -> str:
        """The customer's record the check reads (its company card, its branch), read now, in words: what the
        preflight shows. Raises the connector's errors (an unknown id, a refused credential)."""
        raise NotImplementedError

    def refused(self) -> str:
        """After a failed run: why the check could not be made in a way the attestation may stand in for ('' when
        the failure is the check's own: the item stays failed)."""
        return ""


class TenantCheck(ConnectorCheck):
    """A `both` item checked through the runbook's own access to the customer's tenant (ARM, Microsoft Graph), with no
    connector of its own. The check is not available, and the attestation is used (`check_or_attest`), when the
    parameters do not name what to check (`unavailable`), or when the tenant refuses the read for want of a
    permission: the step then calls `refuse` with the one line naming what was refused and the permission to grant."""

    connector = ""
    refusal = ""

    def unavailable(self, ctx: Context) -> str:
        return ""

    def refuse(self, text: str) -> StepInputError:
        """Record a read the tenant refused for want of a permission; the error to raise (the item fails with it
        unless check_or_attest falls back to the attestation)."""
        self.refusal = text
        return StepInputError(text)

    def refused(self) -> str:
        return self.refusal


def follow_operation(client: Any, resp: Any, deadline: float, longest_wait: float = 30.0) -> bool:
    """Follow an ARM asynchronous operation (202 + Location) until it stops answering 202, as azure-core's poller
    does: its status asked once at once, then again after each answer's Retry-After (at most `longest_wait`). True
    when it finished, False when time.monotonic() passed `deadline` first. An error answer raises."""
    from azure.core.rest import HttpRequest

    location = resp.headers.get("Location")
    first = True
    while location and resp.status_code == 202:
        if not first:
            if time.monotonic() > deadline:
                return False
            time.sleep(min(float(resp.headers.get("Retry-After") or 1), longest_wait))
        first = False
        resp = client.send_request(HttpRequest("GET", location))
        resp.raise_for_status()
    return True


def new_result(item: catalogue.Item, ctx: Context) -> ItemResult:
    """An empty result for an item, stamped with who and when."""
    return ItemResult(
        item.id, item.stage, item.role, item.kind, item.title, started_at=stamp(), ran_by=ctx.who(), apply=ctx.apply
    )


def _fingerprint(c: Change) -> str:
    """A change's values as the review saw them: what it sets and, for an update, what it replaces."""
    return json.dumps(c.detail, sort_keys=True, default=str)


def review_differences(reviewed: list[Change], planned: list[Change]) -> list[str]:
    """How a fresh plan differs from the reviewed one, change for change and value for value: changes that are new
    (+), no longer needed (-), or the same change with other values (~, e.g. a tag someone set meanwhile)."""
    before = {(c.action, c.target.lower()): c for c in reviewed}
    now = {(c.action, c.target.lower()): c for c in planned}
    out = [f"+ {a}: {t}" for a, t in sorted(now.keys() - before.keys())]
    out += [f"- {a}: {t}" for a, t in sorted(before.keys() - now.keys())]
    for key in sorted(before.keys() & now.keys()):
        was, is_ = before[key].detail, now[key].detail
        fields = sorted(k for k in {*was, *is_} if _canonical(was.get(k)) != _canonical(is_.get(k)))
        if fields:
            shown = ", ".join(
                f"{f}: reviewed {json.dumps(was.get(f), default=str)[:120]}, now {json.dumps(is_.get(f), default=str)[:120]}"
                for f in fields
            )
            out.append(f"~ {key[0]}: {key[1]} ({shown})")
    return out


def _canonical(value: object) -> str:
    """A detail value as JSON with sorted keys: two values are the same when these are."""
    return json.dumps(value, default=str, sort_keys=True)


def unreachable(exc: BaseException) -> bool:
    """Whether an SDK error means nothing answered (connection refused, DNS, TLS), rather than an Azure refusal."""
    text = str(exc)
    return (
        isinstance(exc, ServiceRequestError)
        or "Failed to establish a new connection" in text
        or "Connection refused" in text
    )


def error_text(exc: Exception) -> str:
    """A one-line account of an Azure error (code and message, never headers or tokens)."""
    if isinstance(exc, HttpResponseError) and exc.error is not None:
        if exc.error.code == "RequestDisallowedByPolicy":
            return disallowed_text(exc)
        return f"{exc.status_code} {exc.error.code}: {exc.error.message}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def disallowed_text(exc: HttpResponseError) -> str:
    """A deny policy's refusal in one line: which assignment and definition refused what, and the way out."""
    raw: list = [
        {"type": getattr(i, "type", ""), "info": getattr(i, "info", None)}
        for i in getattr(exc.error, "additional_info", None) or []
    ]
    if not raw and exc.response is not None:  # send_request: the body was not parsed as ARM's error format
        try:
            import json

            raw = (json.loads(exc.response.text()).get("error") or {}).get("additionalInfo") or []
        except (ValueError, AttributeError, TypeError):
            raw = []
    infos = [i.get("info") or {} for i in raw if isinstance(i, dict) and i.get("type") == "PolicyViolation"]
    message = (exc.error.message if exc.error is not None else "") or ""
    resource = message.split("'")[1] if message.count("'") >= 2 else "the resource"
    if not infos:
        return f"{exc.status_code} RequestDisallowedByPolicy: {message}"
    names = "; ".join(
        f"assignment '{i.get('policyAssignmentDisplayName') or i.get('policyAssignmentName')}' at "
        f"{i.get('policyAssignmentScope')} (policy '{i.get('policyDefinitionDisplayName') or i.get('policyDefinitionName')}')"
        for i in infos
    )
    return (
        f"403 RequestDisallowedByPolicy: Azure Policy refused the write to '{resource}': {names}. Fix: ask the "
        "customer to exempt the MSP's change from that assignment (a policy exemption with an owner and an expiry), "
        "or to change the policy; then run the step again."
    )


def graph_error_text(exc: BaseException, permission: str = "") -> str | None:
    """A Microsoft Graph refusal (msgraph-sdk's ODataError) as one line with the fix; None for anything else."""
    try:
        from kiota_abstractions.api_error import APIError
    except ImportError:  # pragma: no cover - kiota comes with msgraph-sdk
        return None
    if not isinstance(exc, APIError):
        return None
    err = getattr(exc, "error", None)
    code = str(getattr(err, "code", "") or "")
    message = str(getattr(err, "message", "") or exc.message or "").strip()
    text = f"{exc.response_status_code} {code}: {message}".strip()
    if code == "Authorization_RequestDenied":
        needed = permission or "the application permission this step needs"
        text += (
            f" Fix: grant the runbook's app the Microsoft Graph application permission {needed} and admin consent "
            "(Entra admin center > App registrations > the runbook's app > API permissions > Grant admin consent)"
        )
    return text


def execute(
    step: Step,
    ctx: Context,
    reviewed: list[Change] | None = None,
    keep: Callable[[Change], bool] | None = None,
    changed_fix: str = "",
) -> ItemResult:
    """Inspect, plan, apply when allowed, then inspect again to verify; Azure errors mark the item failed. `keep`
    narrows the plan (and what verification still finds pending) to the changes it accepts: `runbook drift` leaves
    the deviations an engineer accepted as they are. With `reviewed`, only that plan is applied (a fresh plan that
    differs is refused, with `changed_fix` as the fix when given: an approved plan's). Every applied change carries
    the state its target had before (as the inspect read it) and after (as the verification read it)."""
    item = catalogue.load().item(step.item_id)
    result = new_result(item, ctx)
    ctx.item_id, ctx.applied = item.id, []
    try:
        missing = [name for name in step.requires if getattr(ctx.params, name, None) is None]
        if missing:
            raise StepInputError(
                f"parameters/{ctx.params.customer}.yml: {', '.join(repr(m) for m in missing)} is required for {item.id}. Fix: add the section as parameters/template.yml shows it."
            )
        ctx.fresh = reviewed is not None  # applying a reviewed plan: what it checks against must be read now
        obs = step.inspect(ctx)
        planned = [c for c in step.plan(ctx, obs) if keep is None or keep(c)]
        result.planned = planned
        pending = planned
        drift = review_differences(reviewed, planned) if reviewed is not None else []
        if drift:
            counts = {sign: sum(d.startswith(sign) for d in drift) for sign in "+-~"}
            raise StepInputError(
                f"the tenant changed since the plan was shown ({counts['+']} new, {counts['-']} no longer needed, {counts['~']} with other values); nothing was applied. "
                + (changed_fix or "Fix: run the item again and review its new plan.")
                + " "
                + "; ".join(drift[:10])
            )
        if planned and ctx.apply:
            from . import states

            states.before(step, ctx, obs, planned)  # on each change before Azure is asked (the journal has it)
            returned = step.apply(ctx, planned)
            result.applied = list(ctx.applied) or returned
            ctx.fresh = True  # verification re-reads what it verifies
            obs = step.inspect(ctx)
            pending = [c for c in step.plan(ctx, obs) if keep is None or keep(c)]
            states.after(step, ctx, obs, result.applied, pending)
        verdict = step.judge(ctx, obs, pending, result.applied)
        result.status, result.summary, result.missing = verdict.status, verdict.summary, verdict.missing
        result.observed = obs.rows
    except AzureError as exc:
        result.status, result.error = "failed", error_text(exc)
        if unreachable(exc):  # nothing answered (also while signing in): not an Azure error
            where = "start it with `runbook sandbox serve`" if ctx.params.target == "sandbox" else "check the network"
            result.summary = f"The tenant could not be reached ({result.error}). Fix: {where}."
        elif isinstance(exc, ClientAuthenticationError) and exc.status_code is None:  # the sign-in, not Azure
            result.summary = sign_in_failure(ctx, exc)
        else:
            result.summary = f"Azure answered with an error: {result.error}"
    except (InputError, TargetError) as exc:  # bad input, a secret store's refusal, no tenant: failed with the fix
        result.status, result.error = "failed", str(exc)
        result.summary = str(exc)
    except PartialFailure as exc:
        result.status, result.error, result.missing = "failed", str(exc), exc.failures
        result.summary = f"Failed on {len(exc.failures)} part(s), the rest went on: {exc.failures[0]}"
    except Exception as exc:
        text = graph_error_text(exc, step.graph_permission)
        if text is None:
            raise  # a bug: the cell fails, the runner keeps the evidence
        result.status, result.error = "failed", text
        result.summary = f"Microsoft Graph answered with an error: {text}"
    ctx.fresh = False
    if result.status == "failed" and ctx.applied:
        result.applied = list(ctx.applied)  # what was done before the error stays on the record
        result.summary += f" {len(ctx.applied)} change(s) had been applied before it; they are listed under applied."
    result.finished_at = stamp()
    if ctx.journal is not None:  # the notebook records the final word (with the attestation) right after
        ctx.journal.item(result, provisional=True)
    return result


def apply_hint() -> str:
    """How to let a run change the tenant, in the words of where it runs: the CLI's flag, or the notebook's cell."""
    import os

    from ..adapters.progress import BATCH_ENV

    return "run again with --apply" if os.environ.get(BATCH_ENV) else "run with apply = True"


def sign_in_failure(ctx: Context, exc: BaseException) -> str:
    """A credential that got no token, in one line: which credential (and, for the default chain, each one it
    tried), the tenant, and the command or parameter that fixes it. Azure was never asked."""
    tenant = ctx.params.tenant_id
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    tried = re.findall(r"^\s*(\w+Credential): (.+)$", text, re.MULTILINE)  # DefaultAzureCredential lists its chain
    chain = "; ".join(f"{name}: {why.strip()[:120]}" for name, why in tried[:6])
    if ctx.params.target == "sandbox":
        fix = "restart the sandbox (`runbook sandbox serve`): its client secret is made anew at each start"
    elif ctx.params.credential is not None:
        fix = f"check credential.client_id and the secret its client_secret names (a secret of that app in tenant {tenant})"
    else:
        fix = f"sign in with `az login --tenant {tenant}`, or give credential: {{client_id, client_secret: {{env: NAME}}}} in the parameters"
    what = "DefaultAzureCredential tried " + chain if chain else first
    return f"Signing in to tenant {tenant} failed ({what}). Fix: {fix}."


def attested(item: catalogue.Item, ctx: Context, automation_pending: bool = False) -> ItemResult:
    """Result of a human step from its attestation in the parameters; open until someone attests it."""
    result = new_result(item, ctx)
    att = ctx.params.attestations.get(item.id)
    if att is None:
        result.status = "not-verified" if automation_pending else "open"
        what = (
            "automation for this item is not built yet; attest it after checking by hand"
            if automation_pending
            else f"awaiting attestation by the {item.role}"
        )
        result.summary = (
            f"{what}: add attestations.{item.id} with by, at and reference to parameters/{ctx.params.customer}.yml."
        )
        result.missing = [f"attestation of {item.id}"]
    else:
        result.attestation = att.model_dump(mode="json")
        result.status = att.status
        suffix = f" Not required: {att.reason}." if att.status == "not-required" else ""
        pending = " (checked by hand; automation pending)" if automation_pending else ""
        result.summary = f"Attested by {att.by} on {att.at.isoformat()}{pending}: {att.reference}.{suffix}"
    result.finished_at = stamp()
    return result


def not_in_tier(item: catalogue.Item, ctx: Context) -> ItemResult:
    """Result of an item outside the customer's tier."""
    result = new_result(item, ctx)
    result.status = "not-required"
    result.summary = f"Not part of the {ctx.params.tier} tier (applies to {', '.join(item.tiers)})."
    result.finished_at = stamp()
    return result


def with_attestation(item: catalogue.Item, ctx: Context, result: ItemResult) -> ItemResult:
    """An item that is both attested and automated is done when the automation is fulfilled AND a person attested
    what was agreed; the attestation is recorded on the result either way."""
    att = ctx.params.attestations.get(item.id)
    if att is None:
        if result.status == "fulfilled":
            result.status = "open"
        result.missing.append(
            f"attestation of {item.id} by the {item.role} (what was agreed): add attestations.{item.id} to parameters/{ctx.params.customer}.yml"
        )
        result.summary += f" Awaiting the {item.role}'s attestation of what was agreed."
        return result
    result.attestation = att.model_dump(mode="json")
    if att.status == "not-required" and result.status != "failed":
        result.status = "not-required"
    result.summary += f" Agreed by {att.by} on {att.at.isoformat()}: {att.reference}."
    return result


def check_or_attest(
    item: catalogue.Item,
    ctx: Context,
    step: ConnectorCheck,
    reviewed: list[Change] | None = None,
    changed_fix: str = "",
) -> ItemResult:
    """A connector item: its check decides when the connector is configured for the customer (fulfilled, open with
    what is missing, or failed with the connector's one-line error); otherwise the attestation is used exactly as for
    an attested item, and the result says why the check was not available. Unlike `with_attestation` (automation AND
    a person's agreement), the check and the attestation are alternatives here."""
    why = step.unavailable(ctx)
    observed: list[dict] = []
    if not why:
        checked = execute(step, ctx, reviewed=reviewed, changed_fix=changed_fix)
        why = step.refused() if checked.status == "failed" else ""  # a read refused for want of a permission
        if not why:
            return checked
        observed = checked.observed
    result = attested(item, ctx)
    result.observed = observed or result.observed  # what could be read before the refusal stays on the record
    result.summary = f"Check not available: {why}, attestation used. {result.summary}"
    return result
