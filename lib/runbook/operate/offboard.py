"""`runbook offboard <customer>`: the reverse runbook. Each automated item's `undo:` in the catalogue says how it is
undone (remove, hand_over, keep); this module finds the MSP's artefacts of every item, plans their removal per
subscription, and with `--apply` removes exactly the reviewed plan, journaling each deletion Azure accepted.

* **The MSP's artefacts** are what the evidence names: every change a stage or drift run journaled (the ids Azure
  returned: `create action group`, `grant role to the baseline's identity`, `deploy Lighthouse offer`, ...), the MSP
  tag (`managed_tag`, its key with the MSP's value), the app registration's name together with its creation record,
  the Lighthouse offer of `msp.tenant_id`. Nothing without a record or the MSP tag is ever deleted: a look-alike (the
  MSP's names, no record) is listed as the customer's and left as it is.
* **Decisions per artefact**: `remove` (planned), `kept` / `hand over` (the item's undo, with its reason),
  `needs the customer` (what only the customer's admin, or an MSP engineer holding a role the runbook does not, can
  remove: the Lighthouse delegation of a delegated subscription, the MSP's own access), `locked` (under a management
  lock: reported, never unlocked), `gone` (recorded, no longer there), `not the MSP's` (a look-alike).
* **Order**: the reverse of the onboarding (Stage 3's items before Stage 1's, within an item the reverse of the order
  Azure accepted the changes: alerts before their action group before its resource group), the Lighthouse delegation
  last (it may carry the runbook's own access). A resource group goes only when nothing else is left in it.
* **The plan is reviewed**: the dry run (`plan`) records each item's removals; `remove` (with apply) applies exactly
  that plan through `steps.base.execute(reviewed=...)`, which refuses a plan the tenant no longer matches, and verifies.
* **Afterwards** the customer is offboarded: `runbook drift` reports it so (exit 0) and inspects nothing.

The offboarding notebook (`notebooks/offboard.ipynb`) calls `start`, then `plan`, `remove`, `checklist` and `finish`
on the session; `runner.run_offboard` executes it with papermill and seals the run (kind `offboard`).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ..customer import catalogue
from ..customer.params import Parameters, load
from ..errors import InputError
from ..evidence import EvidenceStore, archive, journal
from ..evidence.results import Change, ItemResult, short_name
from ..steps.base import Context, Observation, ScopeFailure, Step, Verdict, apply_hint, attested, error_text

OFFBOARD = "offboard"  # the run kind, and the journal entry kind of an item's result in it
DECISIONS = (
    "remove",
    "removed",
    "refused",
    "locked",
    "needs the customer",
    "hand over",
    "kept",
    "not the MSP's",
    "gone",
)
#: the changes that made something the MSP's (a creation, a grant, a deployment, the tag)
CREATING = ("create ", "deploy ", "grant role", "assign role", "add client secret", "merge tag", "protect VM")
#: api-versions for the types whose journal record names none (the same versions the steps use)
API_BY_TYPE = {
    "microsoft.authorization/roleassignments": "2022-04-01",
    "microsoft.managedservices/registrationassignments": "2022-10-01",
    "microsoft.managedservices/registrationdefinitions": "2022-10-01",
    "microsoft.authorization/policyassignments": "2023-04-01",
    "microsoft.authorization/policysetdefinitions": "2023-04-01",
    "microsoft.authorization/policyexemptions": "2022-07-01-preview",
    "resourcegroups": "2025-04-01",
}
API_LOCKS = "2020-05-01"
API_RESOURCES = "2021-04-01"
DELETE_ROLE = "Managed Services Registration assignment Delete Role"


# --- what the evidence names as the MSP's --------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """One change a run journaled: the item, the target (the id Azure returned or the step addressed), the action."""

    item_id: str
    target: str
    action: str
    detail: dict = field(hash=False, compare=False, default_factory=dict)
    run_id: str = ""

    @property
    def creating(self) -> bool:
        return self.action.startswith(CREATING)


def records(store: EvidenceStore) -> list[Record]:
    """Every change the customer's stage and drift runs journaled, oldest first (offboard runs' removals left out)."""
    out: list[Record] = []
    for run_dir in store.runs():
        if archive.run_kind(run_dir.name) not in ("stage", "drift"):
            continue
        entries, _ = journal.read(run_dir / journal.JOURNAL)
        changes = [e for e in entries if e.get("kind") == "change"]
        if not changes and (run_dir / archive.RESULTS).exists():  # a run without its journal: what results.json holds
            data = json.loads((run_dir / archive.RESULTS).read_text())
            changes = [
                {"item": i["item_id"], **c}
                for i in data.get("items", [])
                for c in i.get("applied", [])
                if "target" in c
            ]
        for e in changes:
            out.append(Record(e["item"], e["target"], e["action"], e.get("detail") or {}, run_dir.name))
    return out


def by_item(recs: list[Record]) -> dict[str, list[Record]]:
    """Records per item, oldest first."""
    out: dict[str, list[Record]] = {}
    for r in recs:
        out.setdefault(r.item_id, []).append(r)
    return out


def offboarded(store: EvidenceStore) -> Path | None:
    """The applied offboarding run that ended the customer's management (sealed, with apply), or None."""
    found = None
    for run_dir in store.runs():
        path = run_dir / archive.RESULTS
        if archive.run_kind(run_dir.name) != OFFBOARD or not path.exists():
            continue
        if ends_management(OFFBOARD, json.loads(path.read_text())):
            found = run_dir
    return found


def ends_management(kind: str, results: dict) -> bool:
    """Whether a sealed run's results (of run kind `kind`) ended the customer's management: an applied offboarding,
    not a tier change's removals."""
    return (
        kind == OFFBOARD
        and bool(results.get("apply"))
        and results.get("status") in ("offboarded", "incomplete")
        and not results.get("tier_to")
    )


# --- one artefact and its decision --------------------------------------------------------------------------------
@dataclass
class Artefact:
    """One thing an item made (or the MSP holds), what the offboarding does with it and why."""

    item_id: str
    kind: str
    target: str
    decision: str
    why: str
    subscription: str = ""
    api_version: str = ""
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {
            "subscription": self.subscription,
            "kind": self.kind,
            "name": short_name(self.target) or self.target,
            "decision": self.decision,
            "why": self.why,
            "id": self.target,
        }


def subscription_of(target: str) -> str:
    parts = target.split("/")
    return parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def type_of(target: str) -> str:
    """The ARM type of an id, lower case (`resourcegroups` for a resource group)."""
    parts = [p for p in target.split("/") if p]
    if "providers" not in [p.lower() for p in parts]:
        return "resourcegroups" if len(parts) == 4 else ""
    i = max(n for n, p in enumerate(parts) if p.lower() == "providers")
    rest = parts[i + 1 :]
    return "/".join([rest[0], *rest[1::2]]).lower()


def api_for(target: str, detail: dict) -> str:
    return str(detail.get("api_version") or API_BY_TYPE.get(type_of(target), ""))


class Plan:
    """What the whole offboarding removes (shared by the items' undos: a resource group goes only when nothing that
    stays is left in it)."""

    def __init__(self, recs: list[Record] | None = None) -> None:
        self.removing: set[str] = set()
        # every target any item's runs created (a resource group one item made is not a look-alike in another's table)
        self.recorded: set[str] = {r.target.lower() for r in recs or [] if r.creating}
        self.records: list[Record] = list(recs or [])


class Undo(Step):
    """The undo of one automated item: `artefacts` says what the MSP made and what happens to it; the base checks
    locks, plans the removals, deletes each (a refusal is named, the others go on) and verifies by looking again."""

    kind_label = "artefact"

    def __init__(self, item_id: str, recs: list[Record], plan: Plan) -> None:
        self.item_id, self.recs, self.shared = item_id, recs, plan
        self.undo = catalogue.load().item(item_id).undo

    # what subclasses implement
    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        raise NotImplementedError

    def remove(self, ctx: Context, change: Change) -> None:
        """Delete one artefact (generic ARM: DELETE by id with its api-version, a long-running one waited for)."""
        sub = subscription_of(change.target)
        ctx.clients.resource(sub).resources.begin_delete_by_id(
            change.target, api_version=change.detail["api_version"]
        ).result()

    # the mechanism
    def kept(self) -> str:
        """The decision for what the item's undo does not remove."""
        assert self.undo is not None
        return {"hand_over": "hand over", "keep": "kept"}.get(self.undo.action, "remove")

    def inspect(self, ctx: Context) -> Observation:
        failures: list[ScopeFailure] = []
        found = self.artefacts(ctx, failures)
        locks = _locks(ctx, {a.subscription for a in found if a.decision == "remove" and a.subscription})
        for a in found:
            if a.decision == "remove":
                lock = next((lk for scope, lk in locks if a.target.lower().startswith(scope)), None)
                if lock is not None:
                    a.decision, a.why = (
                        "locked",
                        f"under the {lock} lock: reported, not unlocked; the customer lifts it",
                    )
                else:
                    self.shared.removing.add(a.target.lower())
        return Observation([a.row() for a in found], {"artefacts": found, "failures": failures})

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        return [
            Change(
                a.target,
                f"remove {a.kind}",
                {"kind": a.kind, "name": short_name(a.target) or a.target, "api_version": a.api_version, "why": a.why}
                | a.extra,
            )
            for a in obs.facts["artefacts"]
            if a.decision == "remove"
        ]

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        return self.applied(ctx, self.apply_each(ctx, changes, lambda c: self.remove(ctx, c), lambda c: c.action))

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        found: list[Artefact] = obs.facts["artefacts"]
        counts: dict[str, int] = {}
        for a in found:
            counts[a.decision] = counts.get(a.decision, 0) + 1
        told = [
            f"{a.decision}: {a.kind} {short_name(a.target) or a.target}: {a.why}"
            for a in found
            if a.decision in ("locked", "needs the customer")
        ]
        if obs.facts["failures"]:
            return Verdict(
                "failed",
                f"Could not read {len(obs.facts['failures'])} scope(s); the others were handled.",
                obs.facts["failures"] + told,
            )
        if pending:
            if applied:
                return Verdict(
                    "failed", f"Removed {len(applied)} but {len(pending)} remain.", [c.headline for c in pending[:50]]
                )
            return Verdict(
                "open",
                f"{len(pending)} artefact(s) of the MSP to remove; {apply_hint()} to remove them."
                + _also(counts, exclude=("remove",)),
                [c.headline for c in pending[:50]] + told,
            )
        done = (
            f"Removed {len(applied)} artefact(s) and verified." if applied else "Nothing of the MSP's left to remove."
        )
        if counts.get("locked"):  # reported, never unlocked: the item is not done until the customer lifts the lock
            text = f" {counts['locked']} locked: the customer lifts the lock, then run again."
            return Verdict("open", done + text + _also(counts, exclude=("remove", "gone", "locked")), told)
        return Verdict("fulfilled", done + _also(counts, exclude=("remove", "gone")), told)


def _name_actions(changes: list[Change], flag: str, flagged: str, other: str) -> list[Change]:
    """The planned removals, each's action named for what it does: `flagged` where its detail sets `flag`, else
    `other` (an undo whose removals do one of two things: stop a VM's protection or also delete its data, take a tag
    off or write the customer's value back)."""
    for c in changes:
        c.action = flagged if c.detail.get(flag) else other
    return changes


def _also(counts: dict[str, int], exclude: tuple[str, ...]) -> str:
    shown = [f"{n} {d}" for d, n in counts.items() if d not in exclude and n]
    return f" Also: {', '.join(shown)}." if shown else ""


def _locks(ctx: Context, subscriptions: set[str]) -> list[tuple[str, str]]:
    """The management locks of the subscriptions (at and below them): (scope prefix, 'name (level)')."""
    out: list[tuple[str, str]] = []
    for sub in sorted(subscriptions):
        try:
            resp = ctx.clients.resource(sub).send_request(
                _get(f"/subscriptions/{sub}/providers/Microsoft.Authorization/locks?api-version={API_LOCKS}")
            )
            if resp.status_code != 200:
                continue  # no right to read locks: a locked delete is refused (409 ScopeLocked) and named then
            for lk in resp.json().get("value", []):
                scope = lk["id"].lower().split("/providers/microsoft.authorization/locks/")[0]
                level = (lk.get("properties") or {}).get("level", "")
                out.append((scope, f"{lk.get('name')} ({level})"))
        except HttpResponseError:
            continue
    return out


def _get(url: str) -> Any:
    from azure.core.rest import HttpRequest

    return HttpRequest("GET", url)


def _exists(ctx: Context, target: str, api_version: str) -> dict | None:
    """The object at an ARM id, or None when Azure has none (404)."""
    try:
        return dict(
            ctx.clients.resource(subscription_of(target)).resources.get_by_id(target, api_version=api_version).as_dict()
        )
    except ResourceNotFoundError:
        return None
    except HttpResponseError as exc:
        if exc.status_code == 404:
            return None
        raise


# --- the undos --------------------------------------------------------------------------------------------------
class RecordedResources(Undo):
    """An item whose artefacts are the ARM resources its runs created (the ids in the journal): each that still exists
    is removed (or kept / handed over, as the item's undo says), newest first; a resource group only when nothing that
    stays is left in it. Changes the item made to the customer's own resources (an update, a VM's patch mode) are
    listed as the customer's. Rows of the onboarding step's table that exist without a record are look-alikes."""

    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        seen: set[str] = set()
        out: list[Artefact] = []
        refused: set[str] = set()
        for r in reversed(self.recs):
            if not r.target.startswith("/subscriptions/") or r.target.lower() in seen:
                continue
            seen.add(r.target.lower())
            sub = subscription_of(r.target)
            if sub.lower() in refused or sub.lower() not in {s.lower() for s in ctx.params.subscription_ids}:
                continue
            api = api_for(r.target, r.detail)
            kind = str(r.detail.get("kind") or r.action.split(" ", 1)[-1])
            try:
                have = _exists(ctx, r.target, api)
            except HttpResponseError as exc:  # this subscription fails its part; the others go on
                refused.add(sub.lower())
                failures.append(
                    ScopeFailure(f"/subscriptions/{sub}", f"cannot read the MSP's artefacts: {error_text(exc)}")
                )
                continue
            if have is None:
                out.append(
                    Artefact(
                        self.item_id, kind, r.target, "gone", "recorded in the evidence; no longer there", sub, api
                    )
                )
            elif self.kept() != "remove":
                assert self.undo is not None
                out.append(Artefact(self.item_id, kind, r.target, self.kept(), self.undo.reason, sub, api))
            elif not any(x.creating for x in self.recs if x.target.lower() == r.target.lower()):
                why = f"the customer's resource: the MSP's change to it ({r.action}) stays"
                out.append(Artefact(self.item_id, kind, r.target, "kept", why, sub, api))
            else:
                out.append(Artefact(self.item_id, kind, r.target, "remove", f"created by run {r.run_id}", sub, api))
        for a in out:  # a resource group goes last, and only empty of what stays
            if a.decision == "remove" and type_of(a.target) == "resourcegroups":
                left = self._left_in(ctx, a.target)
                if left:
                    a.decision = "kept"
                    a.why = f"still holds {len(left)} resource(s) that stay: " + ", ".join(sorted(left)[:5])
        out.sort(key=lambda a: type_of(a.target) == "resourcegroups")
        return out + self.look_alikes(ctx, seen)

    def _left_in(self, ctx: Context, group: str) -> list[str]:
        """What is in a resource group that this offboarding does not remove (its own removals and the other items'
        planned so far)."""
        sub = subscription_of(group)
        client = ctx.clients.resource(sub)
        url: str | None = f"{group}/resources?api-version={API_RESOURCES}"
        left: list[str] = []
        mine = {a.lower() for a in self.shared.removing} | {r.target.lower() for r in self.recs if r.creating}
        while url:
            resp = client.send_request(_get(url))
            if resp.status_code == 404:
                return left
            resp.raise_for_status()
            page = resp.json()
            left += [str(o.get("name")) for o in page.get("value", []) if str(o.get("id", "")).lower() not in mine]
            url = page.get("nextLink")
        return left

    def look_alikes(self, ctx: Context, recorded: set[str]) -> list[Artefact]:
        """The onboarding table's rows that exist without a record: the customer's, whatever their name says."""
        from ..steps import REGISTRY
        from ..steps.desired import DesiredResourcesStep

        step_cls = REGISTRY.get(self.item_id)
        if step_cls is None or not issubclass(step_cls, DesiredResourcesStep):
            return []
        try:
            obs = step_cls().inspect(ctx)
        except Exception:  # the onboarding table needs what the parameters no longer give: nothing to compare
            return []
        return [
            Artefact(
                self.item_id,
                want.kind,
                want.id,
                "not the MSP's",
                "the MSP's name, but no record in the evidence and no MSP tag: the customer's, left as it is",
                want.subscription,
                want.api_version,
            )
            for want, have in obs.facts.get("pairs", [])
            if have is not None and want.id.lower() not in recorded and want.id.lower() not in self.shared.recorded
        ]


class BackupUndo(RecordedResources):
    """Backup stays the customer's: the vault, its policy and the recovery points are kept; the protection the runbook
    enabled on each VM is stopped with its data retained (a PUT of the protected item with protectionState
    ProtectionStopped), so nothing is backed up on the MSP's schedule any more and nothing is lost. With
    `offboarding.backup_data: delete` the protection is stopped and its recovery points deleted instead (a DELETE of
    the protected item, a long-running operation; with the vault's soft delete on Azure keeps the item soft-deleted for
    14 days, then purges it): irreversible, so only after the customer's written agreement is attested
    (`attestations.off-backup-data-deletion-agreed`; `check_inputs` refuses the apply without it, exit 2). The vault and
    its policy stay either way."""

    def deleting(self, ctx: Context) -> bool:
        return ctx.params.offboarding.backup_data == "delete"

    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        out = super().artefacts(ctx, failures)
        sources = {r.target.lower(): r.detail.get("vm", "") for r in self.recs if r.action == "protect VM"}
        deleting = self.deleting(ctx)
        for a in out:
            if a.decision != "kept":
                continue
            if a.target.lower() not in sources:
                if deleting and a.subscription:  # the vault and its policy stay either way
                    a.why = (
                        "the vault and its policy stay (offboarding.backup_data: delete removes the recovery points)"
                    )
                continue
            props = (_exists(ctx, a.target, a.api_version) or {}).get("properties") or {}
            if props.get("isScheduledForDeferredDelete") or props.get("is_scheduled_for_deferred_delete"):
                until = props.get("deferredDeleteTimeInUTC") or props.get("deferred_delete_time_in_utc") or ""
                a.decision = "gone"
                a.why = "protection stopped and its recovery points deleted" + (
                    f" (soft-deleted until {until}, then purged)" if until else ""
                )
                continue
            state = props.get("protection_state") or props.get("protectionState", "")
            if deleting:
                a.decision, a.kind = "remove", "VM protection and its recovery points"
                a.why = "stop protection and delete its recovery points: irreversible (offboarding.backup_data: delete)"
                if not deletion_agreed(ctx.params):
                    a.why += f"; --apply needs attestations.{DELETION_AGREED} first"
                a.extra = {"delete_data": True, "vm": sources[a.target.lower()]}
                continue
            if state == "ProtectionStopped":
                a.why = "protection stopped, the recovery points retained: the customer's data"
                continue
            a.decision, a.kind = "remove", "VM protection"
            a.why = "the protection the runbook enabled: stopped, the recovery points retained"
            a.extra = {"stop": True, "vm": sources[a.target.lower()]}
        return out

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        return _name_actions(
            super().plan(ctx, obs), "delete_data", "stop protection, delete data", "stop protection, retain data"
        )

    def remove(self, ctx: Context, change: Change) -> None:
        client = ctx.clients.resource(subscription_of(change.target)).resources
        if change.detail.get("delete_data"):
            if not deletion_agreed(ctx.params):  # the runner refused this run already (exit 2): never without it
                raise HttpResponseError(
                    message=f"not deleted: attestations.{DELETION_AGREED} (the customer's written agreement) is missing"
                )
            client.begin_delete_by_id(change.target, api_version=change.detail["api_version"]).result()
            return
        body = {
            "properties": {
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "sourceResourceId": change.detail["vm"],
                "protectionState": "ProtectionStopped",
            }
        }
        client.begin_create_or_update_by_id(change.target, body, api_version=change.detail["api_version"]).result()

    def explain(self, exc: HttpResponseError) -> str:
        return error_text(exc) if exc.error is not None else str(exc.message)


DELETION_AGREED = "off-backup-data-deletion-agreed"  # the customer's written agreement to delete their backup data


def deletion_agreed(params: Parameters) -> bool:
    att = params.attestations.get(DELETION_AGREED)
    return att is not None and att.status == "fulfilled"


def check_inputs(params: Parameters, apply: bool, only: tuple[str, ...] = ()) -> None:
    """Before an offboarding run (or a tier change's removals) starts: deleting backup data is irreversible, so an
    apply with `offboarding.backup_data: delete` that would undo the backup needs the customer's written agreement
    attested; without it InputError (exit 2) before anything runs, naming the file, the field and the fix."""
    from ..customer.params import display_path, resolve_path

    if not apply or params.offboarding.backup_data != "delete" or deletion_agreed(params):
        return
    item = catalogue.load().item("s3-backup-deployed")
    if not item.applies_to(params.tier) or (only and item.id not in only):
        return
    raise InputError(
        f"{display_path(resolve_path(params.customer))}: offboarding.backup_data is delete: the recovery points of "
        f"the VMs the runbook protects are deleted, which cannot be undone; attestations.{DELETION_AGREED} is "
        "required first (the customer's written agreement); nothing was run. Fix: add "
        f"attestations.{DELETION_AGREED} with by, at and reference, or set offboarding.backup_data: retain."
    )


class ManagedTag(Undo):
    """The MSP tag: its key with the MSP's value comes off every resource that carries it (Tags API, operation Delete
    of that key and value only); where the tag's key held the customer's value before the MSP's merge (the journal's
    `was`), that value is written back."""

    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        if self.item_id == "s3-tag-sheet-resources":
            return [Artefact(self.item_id, "tag", "managed tag", "gone", "removed with s1-tag-managed-resources")]
        key, value = ctx.params.managed_tag.key, ctx.params.managed_tag.value
        was: dict[str, str | None] = {}  # the value before the MSP's first merge (both tagging items' records)
        for r in self.shared.records:
            if r.action == "merge tag":
                was.setdefault(r.target.lower(), r.detail.get("was"))
        from ..adapters.inventory import list_resources

        out = []
        # every resource with its tags (a list filtered by tag returns none, as ARM's does): the MSP tag by key (any
        # casing) and value
        found = list_resources(ctx.clients, ctx.params.subscription_ids, failures)
        for res in found:
            use = res.tag_key(key)
            if (
                use is None or str(res.tags[use]) != value
            ):  # a tag's value is case-sensitive in Azure: 'managed' is not it
                continue
            before = was.get(res.id.lower())
            extra = {"key": use, "value": res.tags[use]}
            if before is not None and extra["value"] == before:  # written back already, or never the MSP's value
                why = f"the customer's own tag {use}={before}: it was there before the MSP's merge"
                out.append(Artefact(self.item_id, "tag", res.id, "kept", why, res.subscription_id))
                continue
            if before:
                extra["restore"] = before
            why = f"carries the MSP tag {use}={extra['value']}" + (
                f"; the customer's value '{before}' is written back" if before else ""
            )
            out.append(Artefact(self.item_id, "tag", res.id, "remove", why, res.subscription_id, "", extra))
        return out

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        return _name_actions(super().plan(ctx, obs), "restore", "restore tag", "remove tag")

    def remove(self, ctx: Context, change: Change) -> None:
        d = change.detail
        body = {"operation": "Delete", "properties": {"tags": {d["key"]: d["value"]}}}
        client = ctx.clients.resource(subscription_of(change.target))
        client.tags.begin_update_at_scope(change.target, body).result()
        if d.get("restore"):
            merge = {"operation": "Merge", "properties": {"tags": {d["key"]: d["restore"]}}}
            client.tags.begin_update_at_scope(change.target, merge).result()


class AppRegistrationUndo(Undo):
    """The MSP's application (its name in the parameters AND its creation in the evidence): the role assignments of its
    service principal on every subscription, the service principal, the application, then its client secret in the
    secret store."""

    graph_permission = "Application.ReadWrite.All"

    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        from ..steps.app_registration import _find

        cfg = ctx.params.app_registration
        if cfg is None:
            return []
        apps, sp = ctx.clients.run_graph(lambda g: _find(g, cfg.display_name))
        created = any(r.action == "create application" for r in self.recs)
        out: list[Artefact] = []
        if not apps:
            out.append(Artefact(self.item_id, "application", cfg.display_name, "gone", "no application of that name"))
        elif not created or len(apps) > 1:
            why = (
                "no record in the evidence that the runbook created it"
                if not created
                else f"{len(apps)} applications of that name: the runbook will not guess"
            )
            for app in apps:
                out.append(
                    Artefact(
                        self.item_id, "application", str(app.id), "not the MSP's", why, extra={"name": cfg.display_name}
                    )
                )
            return out
        else:
            app = apps[0]
            if sp is not None:
                for sub in ctx.params.subscription_ids:
                    scope = f"/subscriptions/{sub}"
                    try:
                        held = list(
                            ctx.clients.authorization(sub).role_assignments.list_for_scope(
                                scope, filter=f"principalId eq '{sp.id}'"
                            )
                        )
                    except HttpResponseError as exc:
                        failures.append(
                            ScopeFailure(scope, f"cannot read the app's role assignments: {error_text(exc)}")
                        )
                        continue
                    for ra in held:
                        out.append(
                            Artefact(
                                self.item_id,
                                "role assignment",
                                str(ra.id),
                                "remove",
                                f"held by the MSP's app {cfg.display_name}",
                                sub,
                                API_BY_TYPE["microsoft.authorization/roleassignments"],
                            )
                        )
                out.append(
                    Artefact(
                        self.item_id,
                        "service principal",
                        str(sp.id),
                        "remove",
                        f"of the MSP's app {cfg.display_name}",
                        extra={"graph": "servicePrincipals", "name": cfg.display_name},
                    )
                )
            out.append(
                Artefact(
                    self.item_id,
                    "application",
                    str(app.id),
                    "remove",
                    f"{cfg.display_name}, created by the runbook (the evidence records it)",
                    extra={"graph": "applications", "name": cfg.display_name},
                )
            )
        if ctx.secrets.versions(cfg.secret_store):
            out.append(
                Artefact(
                    self.item_id,
                    "client secret",
                    cfg.secret_store.describe(),
                    "remove",
                    "the app's secret in the MSP's store, deleted after the app",
                    extra={"secret": True},
                )
            )
        return out

    def remove(self, ctx: Context, change: Change) -> None:
        if change.detail.get("secret"):
            cfg = ctx.params.app_registration
            assert cfg is not None
            ctx.secrets.delete(cfg.secret_store)
            return
        graph_kind = change.detail.get("graph")
        if graph_kind:

            async def delete(g: Any) -> None:
                coll = g.service_principals if graph_kind == "servicePrincipals" else g.applications
                builder = (
                    coll.by_service_principal_id(change.target)
                    if graph_kind == "servicePrincipals"
                    else coll.by_application_id(change.target)
                )
                await builder.delete()

            ctx.clients.run_graph(delete)
            return
        super().remove(ctx, change)

    def explain(self, exc: HttpResponseError) -> str:
        """Azure's refusal, or the secret store's or Graph's line as it was raised."""
        return error_text(exc) if exc.error is not None else str(exc.message)

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        from ..errors import SecretError

        def one(c: Change) -> None:
            try:
                self.remove(ctx, c)
            except SecretError as exc:  # the store refused: named like an Azure refusal
                raise HttpResponseError(message=str(exc)) from None
            except Exception as exc:
                from ..steps.base import graph_error_text

                text = graph_error_text(exc, self.graph_permission)
                if text is None:
                    raise
                raise HttpResponseError(message=text) from None

        return self.applied(ctx, self.apply_each(ctx, changes, one, lambda c: c.action))


class LighthouseUndo(Undo):
    """The MSP's delegation (registration assignments whose definition the MSP's tenant manages). Where the runbook
    deployed the offer (its record in the evidence: it holds Owner there) it removes the assignment, then the
    definition; elsewhere only the customer's admin, or a principal of the MSP holding the Delete Role through the
    offer, can remove it: the plan names who."""

    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        msp = ctx.params.msp
        deployed = {r.target.lower() for r in self.recs if r.action == "deploy Lighthouse offer"}
        holders = [a for a in msp.expected_authorizations if a.role.lower() == DELETE_ROLE.lower()]
        runbook_may = any(a.principal_id.lower() == msp.principal_id.lower() for a in holders)
        who = ", ".join(sorted({a.principal_name or a.principal_id for a in holders}))
        out: list[Artefact] = []
        for sub in ctx.params.subscription_ids:
            scope = f"/subscriptions/{sub}"
            try:
                regs = list(
                    ctx.clients.managed_services().registration_assignments.list(
                        scope, expand_registration_definition=True
                    )
                )
            except HttpResponseError as exc:
                failures.append(ScopeFailure(scope, f"cannot read the Lighthouse delegation: {error_text(exc)}"))
                continue
            for reg in regs:
                d = reg.properties.registration_definition if reg.properties else None
                props = d.properties if d is not None else None
                if props is None or (props.managed_by_tenant_id or "").lower() != msp.tenant_id.lower():
                    continue  # another service provider's: not the MSP's
                def_id = (
                    f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{d.name}"
                    if d is not None
                    else ""
                )
                api = API_BY_TYPE["microsoft.managedservices/registrationassignments"]
                if def_id.lower() in deployed:
                    out.append(
                        Artefact(
                            self.item_id,
                            "Lighthouse assignment",
                            str(reg.id),
                            "remove",
                            f"the offer {props.registration_definition_name} the runbook deployed",
                            sub,
                            api,
                        )
                    )
                    out.append(
                        Artefact(
                            self.item_id,
                            "Lighthouse definition",
                            def_id,
                            "remove",
                            "the offer's definition, after its assignment",
                            sub,
                            api,
                        )
                    )
                elif runbook_may:
                    out.append(
                        Artefact(
                            self.item_id,
                            "Lighthouse assignment",
                            str(reg.id),
                            "remove",
                            f"the runbook holds the {DELETE_ROLE} through the offer",
                            sub,
                            api,
                        )
                    )
                else:
                    out.append(
                        Artefact(
                            self.item_id,
                            "Lighthouse assignment",
                            str(reg.id),
                            "needs the customer",
                            f"the offer {props.registration_definition_name} was deployed by the customer: their admin removes it "
                            "(Service providers > Delegations > Remove)"
                            + (f", or {who} from the MSP's tenant with the {DELETE_ROLE}" if who else ""),
                            sub,
                            api,
                        )
                    )
        return out


class Handed(Undo):
    """An item with nothing in the tenant to remove (its undo hands over or keeps): one row with the undo's reason; the
    MSP's access (Stage 0) is the customer's to take away."""

    def artefacts(self, ctx: Context, failures: list[ScopeFailure]) -> list[Artefact]:
        assert self.undo is not None
        if self.item_id == "s0-msp-authorized":
            return [
                Artefact(
                    self.item_id, "MSP access", f"/subscriptions/{sub}", "needs the customer", self.undo.reason, sub
                )
                for sub in ctx.params.subscription_ids
            ]
        return [Artefact(self.item_id, "configuration", self.item_id, self.kept(), self.undo.reason)]


UNDOS: dict[str, type[Undo]] = {
    "s1-app-registration": AppRegistrationUndo,
    "s1-tag-managed-resources": ManagedTag,
    "s3-tag-sheet-resources": ManagedTag,
    "s3-lighthouse": LighthouseUndo,
    "s3-backup-deployed": BackupUndo,
    "s0-msp-authorized": Handed,
    "s2-partner-center-budget": Handed,
    "s3-documentation": Handed,
    "s3-iac-pushed": Handed,
}


def tier_items(before: str, to: str) -> tuple[list[catalogue.Item], list[catalogue.Item]]:
    """A tier change's (items undone, items added): with an undo, in the old tier and not the new; in the new and not
    the old (`tier.plan_items`)."""
    cat = catalogue.load()
    removes = [i for i in cat.items if i.undo is not None and i.applies_to(before) and not i.applies_to(to)]
    adds = [i for i in cat.items if i.applies_to(to) and not i.applies_to(before)]
    return removes, adds


def order(items: list[catalogue.Item]) -> list[catalogue.Item]:
    """The reverse of the onboarding, the Lighthouse delegation last (it may carry the runbook's own access)."""
    rev = list(reversed(items))
    return [i for i in rev if i.id != "s3-lighthouse"] + [i for i in rev if i.id == "s3-lighthouse"]


def undo_for(item: catalogue.Item, recs: list[Record], plan: Plan) -> Undo:
    return UNDOS.get(item.id, RecordedResources)(item.id, recs, plan)


# --- the offboarding notebook's session ------------------------------------------------------------------------
@dataclass
class OffboardOutcome:
    """One offboarding run: its state and each item's result."""

    customer: str
    run_id: str
    run_dir: Path
    status: str  # planned | offboarded | incomplete | failed | interrupted | refused
    items: list[ItemResult] = field(default_factory=list)
    error: str = ""
    apply: bool = False

    @property
    def exit_code(self) -> int:
        from ..errors import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK

        return {
            "planned": EXIT_OK,
            "offboarded": EXIT_OK,
            "incomplete": EXIT_INCOMPLETE,
            "interrupted": EXIT_INTERRUPTED,
        }.get(self.status, EXIT_FAILED)


def collect(journal_path: Path) -> list[ItemResult]:
    """Each item's last result as the session journaled it."""
    entries, _ = journal.read(journal_path)
    out: dict[str, ItemResult] = {}
    for e in entries:
        if e.get("kind") == OFFBOARD and "result" in e:
            r = ItemResult.from_dict(e["result"])
            out[r.item_id] = r
    return list(out.values())


def state_of(items: list[ItemResult], apply: bool, error: str = "", interrupted: bool = False) -> str:
    if interrupted:
        return "interrupted"
    if error:
        return "failed"
    undone = [r for r in items if r.stage != catalogue.OFFBOARDING_STAGE]
    if any(r.status == "failed" for r in undone):
        return "incomplete"
    if not apply:
        return "planned"
    return "offboarded" if all(r.status in catalogue.DONE_STATUSES for r in undone) else "incomplete"


def tally(items: list[ItemResult]) -> dict[str, int]:
    """Artefacts per decision over every item (removed: what Azure accepted)."""
    out: dict[str, int] = {}
    for r in items:
        for row in r.observed:
            d = row.get("decision", "")
            if d:
                out[d] = out.get(d, 0) + 1
        if r.applied:
            out["removed"] = out.get("removed", 0) + len(r.applied)
        if r.status == "failed" and r.missing:
            out["refused"] = out.get("refused", 0) + len(r.missing)
    return out


def header(outcome: OffboardOutcome, started: str, parameters_sha256: str) -> dict:
    """results.json's facts of an offboarding run: its state and what was removed, refused, kept, needs the customer."""
    undone = [r for r in outcome.items if r.stage != catalogue.OFFBOARDING_STAGE]
    return {
        "customer": outcome.customer,
        "run_id": outcome.run_id,
        "kind": OFFBOARD,
        "stage": None,
        "status": outcome.status,
        "forced": False,
        "error": outcome.error,
        "started_at": started,
        "apply": outcome.apply,
        "parameters_sha256": parameters_sha256,
        "totals": tally(undone),
        "removed": [{"item": r.item_id, "target": c.target, "action": c.action} for r in undone for c in r.applied],
        "refused": [{"item": r.item_id, "why": m} for r in undone if r.status == "failed" for m in r.missing],
        "kept": [
            {"item": r.item_id, **row}
            for r in undone
            for row in r.observed
            if row.get("decision") in ("kept", "hand over", "not the MSP's", "locked", "needs the customer")
        ],
    }


class OffboardSession:
    """One customer's offboarding in the offboarding notebook: plan (dry run), remove (apply), checklist, finish."""

    def __init__(self, params: Parameters, apply: bool = False, run_id: str = "", only: str = "") -> None:
        from ..adapters.progress import BATCH_ENV
        from ..customer.connect import make_clients

        self.params, self.apply, self.run_id = params, apply, run_id
        self.store = EvidenceStore(params.customer)
        self.batch = bool(run_id)
        if self.batch:
            os.environ[BATCH_ENV] = "1"
        self.journal = journal.Journal(self.store.folder / run_id / journal.JOURNAL) if self.batch else None
        self.ctx = Context(params, lambda: make_clients(params), False, journal=self.journal)
        found = records(self.store)
        self.recs = by_item(found)
        cat = catalogue.load()
        self.scope = order([i for i in cat.items if i.undo is not None and i.applies_to(params.tier)])
        # a tier change (`runbook tier`) undoes only the items the new tier does not include
        self.only = [x for x in only.split(",") if x]
        if self.only:
            self.scope = [i for i in self.scope if i.id in self.only]
        self.outside = [i for i in cat.items if i.undo is not None and not i.applies_to(params.tier)]
        self.shared = Plan(found)
        self.results: dict[str, ItemResult] = {}
        # four eyes, under an apply run: the plan a second person approved, per item (the runner names the approval)
        from ..evidence.approval import from_environment, subject_for

        self.subject = subject_for(self.tier_to(params))
        self.approved = from_environment(params.customer) if self.batch and apply else None

    def tier_to(self, params: Parameters) -> str:
        """The tier a tier change's removals move to ('' for an offboarding), from the runner's `only`."""
        if not self.only:
            return ""
        for to in catalogue.TIERS:
            if to != params.tier and [i.id for i in tier_items(params.tier, to)[0]] == self.only:
                return to
        return ""

    def _record(self, result: ItemResult) -> None:
        self.results[result.item_id] = result
        if self.journal is not None:
            self.journal.record(OFFBOARD, result=result.to_dict())

    def _run(self, item: catalogue.Item, **kw: Any) -> ItemResult:
        from ..steps.base import execute

        return execute(undo_for(item, self.recs.get(item.id, []), self.shared), self.ctx, **kw)

    def plan(self) -> OffboardTable:
        """Every item's undo inspected and planned (a dry run: nothing changes)."""
        self.ctx.apply = False
        self.shared.removing.clear()
        for item in self.scope:
            self._record(self._run(item))
        return OffboardTable(self, "Offboarding plan")

    def remove(self) -> OffboardTable | Notice:
        """With apply: each item's reviewed plan (the removals shown above) applied through the reviewed-plan path,
        in the same order, then verified; a plan the tenant no longer matches is refused, naming the differences."""
        todo = [i for i in self.scope if i.id in self.results and self.results[i.id].planned]
        if not self.apply:
            n = sum(len(self.results[i.id].planned) for i in todo)
            return Notice(
                f"DRY RUN: {n} artefact(s) of {len(todo)} item(s) would be removed; nothing was changed. To remove "
                f"them: runbook offboard {self.params.customer} --apply"
                if todo
                else "Nothing of the MSP's to remove."
            )
        if not self.batch:
            if self.params.approval_required:  # four eyes: the plan shown is the approved one, by another principal
                from .approve import check_interactive

                for item in todo:
                    check_interactive(
                        self.params,
                        catalogue.OFFBOARDING_STAGE,
                        item.id,
                        list(self.results[item.id].planned),
                        self.ctx.clients.target,
                        self.subject,
                    )
            raise InputError(
                f"removing is recorded as an offboarding run: run `runbook offboard {self.params.customer} --apply`"
            )
        for item in todo:
            self.ctx.apply = True
            self._record(self._run(item, **self._reviewed(item.id)))
            self.ctx.apply = False
        return OffboardTable(self, "After removing")

    def _reviewed(self, item_id: str) -> dict[str, Any]:
        """What an item's removal may carry out: the plan this run showed, or under four eyes the approved plan (a
        fresh plan that differs is refused, naming the differences and the fix)."""
        if self.approved is None:
            return {"reviewed": list(self.results[item_id].planned)}
        from ..evidence.approval import OFFBOARD, dry_run_command, fix

        stage = catalogue.OFFBOARDING_STAGE
        text = fix(self.params.customer, stage, self.subject).replace(
            "Fix: ", f"Fix: run `{dry_run_command(self.params.customer, stage, self.subject)}` again; ", 1
        )
        what = "offboarding" if self.subject == OFFBOARD else "tier change"
        return {
            "reviewed": self.approved.get(item_id, []),
            "changed_fix": f"The plan differs from the approved {what} plan. {text}.",
        }

    def checklist(self) -> OffboardTable:
        """The CSM's and the Engineer's offboarding lines, from their attestations in the parameters (a tier change
        records the customer's agreement instead)."""
        from ..steps.base import not_in_tier

        lines = catalogue.load().tier_change if self.only else catalogue.load().offboarding
        for item in lines:
            if not item.applies_to(self.params.tier):
                self._record(not_in_tier(item, self.ctx))
            elif item.id == DELETION_AGREED and self.params.offboarding.backup_data != "delete":
                self._record(not_needed(item, self.ctx, "offboarding.backup_data is retain: the recovery points stay"))
            else:
                self._record(attested(item, self.ctx))
        return OffboardTable(self, "Offboarding checklist", lines=True)

    def finish(self) -> OffboardTable:
        return OffboardTable(self, "Offboarding summary", summary=True)

    def _repr_html_(self) -> str:
        p = self.params
        rows = {
            "Customer": f"{p.tenant_name} ({p.customer})",
            "Tenant": p.tenant_id,
            "Subscriptions": ", ".join(p.subscription_ids),
            "Tier": p.tier,
            "Engineer": p.engineer,
            "Mode": "APPLY: the MSP's artefacts are removed" if self.apply else "DRY RUN: nothing will be changed",
            "Items": f"{len(self.scope)} automated item(s) of the tier, undone in reverse order",
            "Changes on record": str(sum(len(v) for v in self.recs.values())),
            "Run": self.run_id or "by hand: plans and shows; `runbook offboard` records the evidence",
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows.items()
        )
        return f"<h4>Offboarding settings</h4><table>{body}</table>"

    def __repr__(self) -> str:
        return f"OffboardSession(customer={self.params.customer!r}, apply={self.apply}, items={len(self.scope)})"


def start(customer: str, apply: bool = False, run_id: str = "", only: str = "") -> OffboardSession:
    """Load and validate the customer's parameters and open its offboarding session (the notebook's first call);
    `only`: the comma-separated items a tier change undoes."""
    from ..customer.params import check_sign_in_refs

    params = load(customer)
    check_sign_in_refs(params)
    return OffboardSession(params, apply, run_id, only)


def gate(params: Parameters, apply: bool, tier_to: str = "") -> tuple[dict, dict[str, str]]:
    """Four eyes on an offboard run (`runbook offboard`, a tier change's removals) of a customer that needs approval
    (`msp.require_approval`): the stages' gate (`operate.approve.gate`) on the offboard dry run's plan. A dry run
    records who planned; an apply is refused (ApprovalRequired, exit 3, before any run folder) unless a second
    principal approved the newest dry run's plan (`runbook approve <customer> --offboard`) and it has not changed since;
    the kernel then removes that plan only. Without approval required: nothing to record, nothing to check."""
    if not params.approval_required:
        return {}, {}
    from ..evidence.approval import subject_for
    from .approve import gate as approval_gate

    return approval_gate(params, catalogue.OFFBOARDING_STAGE, apply, subject_for(tier_to))


def not_needed(item: catalogue.Item, ctx: Context, why: str) -> ItemResult:
    """An offboarding line the parameters make unnecessary: not-required, with why."""
    from ..evidence.results import stamp
    from ..steps.base import new_result

    result = new_result(item, ctx)
    result.status, result.summary, result.finished_at = "not-required", f"Not required: {why}.", stamp()
    return result


class Notice:
    """A message a cell shows instead of a table."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return f'<div class="runbook-note">{html.escape(self.text)}</div>'

    def __repr__(self) -> str:
        return self.text


class OffboardTable:
    """Per item its status and summary, then every artefact: decision, kind, name, subscription, why."""

    def __init__(self, session: OffboardSession, title: str, summary: bool = False, lines: bool = False) -> None:
        self.title, self.summary = title, summary
        cat = catalogue.load()
        own = [i.id for i in cat.offboarding + cat.tier_change]
        ids = own if lines else [i.id for i in session.scope]
        if summary:
            ids = [i.id for i in session.scope] + own
        self.items = [session.results[i] for i in ids if i in session.results]

    def totals(self) -> dict[str, int]:
        return tally([r for r in self.items if r.stage != catalogue.OFFBOARDING_STAGE])

    def _repr_html_(self) -> str:
        esc = html.escape
        badges = " ".join(f"<span class='runbook-badge'>{n} {esc(d)}</span>" for d, n in self.totals().items())
        rows = "".join(
            f"<tr><td><b>{esc(r.item_id)}</b></td><td>{esc(r.status)}</td><td>{esc(r.summary)}</td></tr>"
            for r in self.items
        )
        detail = "".join(
            f"<tr><td>{esc(r.item_id)}</td><td><b>{esc(str(a.get('decision')))}</b></td><td>{esc(str(a.get('kind')))}</td>"
            f"<td title='{esc(str(a.get('id')))}'>{esc(str(a.get('name')))}</td><td>{esc(str(a.get('subscription')))}</td>"
            f"<td>{esc(str(a.get('why')))}</td></tr>"
            for r in self.items
            for a in r.observed
            if "decision" in a
        )
        applied = "".join(f"<li>{esc(r.item_id)}: {esc(c.headline)}</li>" for r in self.items for c in r.applied)
        refused = "".join(
            f"<li>{esc(r.item_id)}: {esc(m)}</li>" for r in self.items if r.status == "failed" for m in r.missing
        )
        out = (
            f'<div class="runbook-offboard"><h4>{esc(self.title)}</h4><p>{badges}</p>'
            "<table><thead><tr><th>item</th><th>status</th><th>summary</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        if detail:
            out += (
                "<p><b>Artefacts</b></p><table><thead><tr><th>item</th><th>decision</th><th>kind</th><th>name</th>"
                f"<th>subscription</th><th>why</th></tr></thead><tbody>{detail}</tbody></table>"
            )
        if applied:
            out += f"<p><b>Removed</b></p><ul>{applied}</ul>"
        if refused:
            out += f"<p><b>Refused</b></p><ul>{refused}</ul>"
        return out + "</div>"

    def __repr__(self) -> str:
        lines = [f"{self.title}: " + (", ".join(f"{n} {d}" for d, n in self.totals().items()) or "nothing")]
        for r in self.items:
            lines.append(f"  [{r.status}] {r.item_id}: {r.summary}")
            lines += [
                f"      {a.get('decision'):<18} {a.get('kind')} {a.get('name')}" for a in r.observed if "decision" in a
            ]
        return "\n".join(lines)


def describe(outcome: OffboardOutcome, link: Callable[[Path], str]) -> str:
    """An offboarding run in lines for the CLI: state, evidence, per item its summary, what needs the customer."""
    totals = tally([r for r in outcome.items if r.stage != catalogue.OFFBOARDING_STAGE])
    lines = [
        f"offboard {outcome.customer}: {outcome.status}{' (--apply)' if outcome.apply else ''} - "
        + (", ".join(f"{n} {d}" for d, n in totals.items()) or "nothing of the MSP's")
        + f"  evidence: {link(outcome.run_dir)}"
    ]
    for r in outcome.items:
        lines.append(f"  {r.status:<12} {r.item_id}: {r.summary}")
        for row in r.observed:
            if row.get("decision") in ("remove", "needs the customer", "locked"):
                lines.append(
                    f"      {row['decision']:<18} {row.get('kind')} {row.get('name')} ({row.get('subscription') or '-'})"
                )
        lines += [f"      refused            {m}" for m in (r.missing if r.status == "failed" else [])]
    if outcome.error:
        lines.append(f"  error: {outcome.error}")
    return "\n".join(lines)
