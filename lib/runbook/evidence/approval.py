"""Four eyes: a second person's approval of a reviewed plan, as a run of its own in the customer's evidence.

The reviewed plan of a stage is the newest sealed dry run of it: every item's planned changes, named by one canonical
hash (`plan_hash`: action, target and the values each change writes, as the stale-plan check compares them).
`runbook approve <customer> --stage N` signs in as the approver and records an approval run
(`<time>-approval-<hex>/`: results.json and manifest, in the hash chain and anchored like every run, so it cannot be
forged or removed unnoticed) naming the plan's run and hash, the approver's principal and the time. An apply with
approval required (`Parameters.approval_required`) is refused (`refusal`) when no approval names the reviewed plan's
hash, or when the only approvals of it are by the principal applying; the apply itself then carries out the approved
plan only (each item's fresh plan must be the approved one, `approved_plans`).

The same engine approves an offboarding's plan (`runbook offboard`: the newest sealed offboard dry run, its removals
per item) and a tier change's removals (`runbook tier --to X`: the offboard dry run with that `tier_to`): their
`subject` (`OFFBOARD`, or `tier:<to>`) says which, their stage is the offboarding lines' (`OFFBOARDING_STAGE`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ApprovalRequired, EvidenceError
from . import archive
from .results import Change, stamp
from .store import EvidenceStore

KIND = "approval"
APPROVAL_ENV = "RUNBOOK_APPROVAL"  # the apply run's kernel: the approval run whose plan it may carry out
NOTHING = "-"  # ... or none: the reviewed plan changes nothing, so the run may apply nothing
# items whose changes write the evidence, not the tenant (their plan names the run's own folder): not approved
EVIDENCE_ONLY = frozenset({"s3-documentation"})
OFFBOARD = "offboard"  # the subject of an offboarding's plan (a tier change's removals: "tier:<to>"; a stage's: "")
ANY_OFFBOARD = "*"  # `runbook approve --offboard`: the newest offboard dry run, an offboarding or a tier change's


def subject_of(results: dict) -> str:
    """The subject of an offboard run's plan, from its results: a tier change's removals or an offboarding."""
    return f"tier:{results['tier_to']}" if results.get("tier_to") else OFFBOARD


def subject_for(tier_to: str = "") -> str:
    """The subject of the plan `runbook offboard` (no tier) or `runbook tier --to <tier_to>` carries out."""
    return f"tier:{tier_to}" if tier_to else OFFBOARD


def what(stage: int, subject: str = "") -> str:
    """What a plan is of, for people: 'stage 1', 'offboarding', 'tier change to CSP (its removals)'."""
    if not subject:
        return f"stage {stage}"
    return "offboarding" if subject == OFFBOARD else f"tier change to {subject.split(':', 1)[1]} (its removals)"


def dry_run_command(customer: str, stage: int, subject: str = "") -> str:
    """The command whose dry run is the reviewed plan."""
    if not subject:
        return f"runbook run {customer} --stage {stage}"
    if subject == OFFBOARD:
        return f"runbook offboard {customer}"
    return f"runbook tier {customer} --to '{subject.split(':', 1)[1]}'"


def approve_command(customer: str, stage: int, subject: str = "") -> str:
    return f"runbook approve {customer} --offboard" if subject else f"runbook approve {customer} --stage {stage}"


@dataclass(frozen=True)
class Principal:
    """Who signed in, from the claims of an Entra access token: object id, tenant, app id, name or UPN."""

    object_id: str
    tenant_id: str = ""
    app_id: str = ""
    name: str = ""
    upn: str = ""
    kind: str = "app"  # app (a service principal, app-only token) | user

    @classmethod
    def from_claims(cls, claims: dict) -> Principal:
        """The principal of an access token's claims (`oid`, `tid`, `appid`/`azp`, `name`/`app_displayname`,
        `upn`/`preferred_username`/`unique_name`, `idtyp`)."""
        upn = str(claims.get("upn") or claims.get("preferred_username") or claims.get("unique_name") or "")
        app = claims.get("idtyp") == "app" or (not upn and not claims.get("scp"))
        return cls(
            str(claims.get("oid") or ""),
            str(claims.get("tid") or ""),
            str(claims.get("appid") or claims.get("azp") or ""),
            str(claims.get("name") or claims.get("app_displayname") or ""),
            upn,
            "app" if app else "user",
        )

    def same_as(self, other: Principal) -> bool:
        """Whether two sign-ins are the same principal: the same object id, the same app (app-only tokens: a
        multi-tenant app's service principal has another object id in each tenant), or the same user name."""
        if self.object_id and self.object_id.lower() == other.object_id.lower():
            return True
        if self.kind == other.kind == "app" and self.app_id and self.app_id.lower() == other.app_id.lower():
            return True
        return bool(self.upn) and self.upn.lower() == other.upn.lower()

    def describe(self) -> str:
        """One line for people and the evidence: name (or UPN, or app id), object id, tenant."""
        who = self.name or self.upn or (f"app {self.app_id}" if self.app_id else self.kind)
        extra = f" <{self.upn}>" if self.name and self.upn else ""
        return f"{who}{extra} (object id {self.object_id}, tenant {self.tenant_id})"


def principal_of(data: dict | None) -> Principal | None:
    """A Principal from its recorded form (None for nothing recorded)."""
    if not data:
        return None
    return Principal(**{k: str(v) for k, v in data.items() if k in Principal.__dataclass_fields__})


def plan_hash(plans: dict[str, list[Change]]) -> str:
    """SHA-256 of a plan: per item, each change's action, target (case-insensitive, as Azure's IDs are) and the
    values it writes, as canonical JSON (sorted keys; the same canonical form the stale-plan check compares); items
    planning nothing and evidence-only items left out."""
    canon = {
        item: sorted(json.dumps([c.action, c.target.lower(), c.detail], sort_keys=True, default=str) for c in changes)
        for item, changes in plans.items()
        if changes and item not in EVIDENCE_ONLY
    }
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()


@dataclass
class ReviewedPlan:
    """A stage's reviewed plan: the newest sealed dry run of it, its changes per item, their hash, who planned."""

    stage: int
    run_id: str
    plans: dict[str, list[Change]]
    sha256: str
    planned_by: str = ""  # the principal the dry run signed in as (or, not recorded, who ran it)
    planner: dict = field(default_factory=dict)
    subject: str = ""  # "" a stage's plan; OFFBOARD or "tier:<to>" an offboard run's removals

    @property
    def changes(self) -> int:
        return sum(len(v) for k, v in self.plans.items() if k not in EVIDENCE_ONLY)


@dataclass
class Approval:
    """An approval on record: which plan (run and hash), by whom, when, and the approval run that records it."""

    stage: int
    plan_run: str
    plan_sha256: str
    approver: dict
    approved_at: str
    changes: int = 0
    items: dict[str, int] = field(default_factory=dict)
    planned_by: str = ""
    run_id: str = ""
    subject: str = ""  # as ReviewedPlan.subject

    @property
    def principal(self) -> Principal:
        found = principal_of(self.approver)
        return found if found is not None else Principal("")

    def describe(self) -> str:
        return f"{self.principal.describe()} at {self.approved_at} (approval run {self.run_id})"


def _sealed(store: EvidenceStore) -> list[tuple[Path, dict]]:
    out = []
    for run_dir in store.runs():
        path = run_dir / archive.RESULTS
        if (run_dir / archive.MANIFEST).exists() and path.exists():
            out.append((run_dir, json.loads(path.read_text())))
    return out


def _plans(data: dict) -> dict[str, list[Change]]:
    return {
        rec["item_id"]: [Change(c["target"], c["action"], c.get("detail") or {}) for c in rec.get("planned") or []]
        for rec in data.get("items", [])
        if rec.get("planned")
    }


def _reviewed(run_dir: Path, data: dict, stage: int, subject: str = "") -> ReviewedPlan:
    plans = _plans(data)
    planner = data.get("planner") or {}
    who = str(data.get("planned_by") or data.get("ran_by") or "")
    return ReviewedPlan(stage, run_dir.name, plans, plan_hash(plans), who, dict(planner), subject)


def _of(run_dir: Path, data: dict, stage: int, subject: str) -> str | None:
    """The subject of a sealed run's plan when it is one of `stage` (and `subject`; ANY_OFFBOARD: any offboard
    run's), else None."""
    kind = archive.run_kind(run_dir.name)
    if not subject:
        return "" if kind == "stage" and data.get("stage") == stage else None
    if kind != OFFBOARD:
        return None
    found = subject_of(data)
    return found if subject in (ANY_OFFBOARD, found) else None


def reviewed_plan(store: EvidenceStore, stage: int, run_id: str = "", subject: str = "") -> ReviewedPlan | None:
    """The stage's reviewed plan: its newest sealed dry run that ran to its end (or the run `run_id` names). With a
    `subject`, an offboard run's instead: its newest sealed dry run of that subject (ANY_OFFBOARD: of any)."""
    found = None
    for run_dir, data in _sealed(store):
        got = _of(run_dir, data, stage, subject)
        if got is None:
            continue
        if run_id and run_dir.name == run_id:
            return _reviewed(run_dir, data, stage, got)
        if not data.get("apply") and data.get("status") in ("complete", "incomplete", "planned"):
            found = (run_dir, data, got)
    if run_id or found is None:
        return None
    return _reviewed(found[0], found[1], stage, found[2])


def approvals(store: EvidenceStore, stage: int | None = None, subject: str = "") -> list[Approval]:
    """The approvals on record (of one stage's plans, or of any; with a subject, of an offboard run's), oldest
    first."""
    out = []
    for run_dir, data in _sealed(store):
        if archive.run_kind(run_dir.name) == KIND and data.get("status") == "recorded" and data.get(KIND):
            rec = data[KIND]
            if (stage is None or rec.get("stage") == stage) and (
                stage is None or str(rec.get("subject") or "") == subject
            ):
                a = Approval(**{k: v for k, v in rec.items() if k in Approval.__dataclass_fields__})
                a.run_id = run_dir.name
                out.append(a)
    return out


def fix(customer: str, stage: int, subject: str = "") -> str:
    """The way through the closed gate, in one sentence."""
    return (
        f"Fix: a second person (signed in as themselves) reviews the plan and runs "
        f"`{approve_command(customer, stage, subject)}`; then run the apply again"
    )


def check(
    customer: str,
    stage: int,
    reviewed: ReviewedPlan | None,
    approved: list[Approval],
    applier: Principal,
    subject: str = "",
) -> Approval:
    """The approval that lets `applier` carry out the reviewed plan: one naming the plan's hash, by another principal.
    ApprovalRequired (exit 3) naming why not and the fix: no reviewed plan, no approval, an approval of another plan,
    or only the applier's own. `subject`: an offboard run's plan (an offboarding, a tier change's removals)."""
    of = what(stage, subject)
    if reviewed is None:
        raise ApprovalRequired(
            f"{customer} {of}: an apply needs a reviewed and approved plan, and there is no dry run of the "
            f"{'stage' if not subject else of} to approve; nothing was applied. Fix: "
            f"`{dry_run_command(customer, stage, subject)}` (a dry run), then a second person runs "
            f"`{approve_command(customer, stage, subject)}`"
        )
    head = f"{customer} {of}: nothing was applied: "
    if not approved:
        raise ApprovalRequired(
            head + f"the reviewed plan (run {reviewed.run_id}, {reviewed.changes} change(s), sha256 "
            f"{reviewed.sha256[:12]}) has no approval. {fix(customer, stage, subject)}"
        )
    same_plan = [a for a in approved if a.plan_sha256 == reviewed.sha256]
    if not same_plan:
        last = approved[-1]
        raise ApprovalRequired(
            head + f"the plan differs from the approved one: approved sha256 {last.plan_sha256[:12]} (run "
            f"{last.plan_run}), the reviewed plan is now sha256 {reviewed.sha256[:12]} (run {reviewed.run_id}). "
            + fix(customer, stage, subject)
        )
    others = [a for a in same_plan if not a.principal.same_as(applier)]
    if not others:
        raise ApprovalRequired(
            head + f"the plan is approved only by the principal applying it ({applier.describe()}); four eyes need a "
            f"second person. {fix(customer, stage, subject)}"
        )
    return others[-1]


def record(
    store: EvidenceStore, reviewed: ReviewedPlan, approver: Principal, known_secrets: tuple[str, ...] = ()
) -> Approval:
    """Record an approval of the reviewed plan as an approval run (sealed, in the chain, anchored), under the
    customer's run lock."""
    approval = Approval(
        reviewed.stage,
        reviewed.run_id,
        reviewed.sha256,
        asdict(approver),
        stamp(),
        reviewed.changes,
        {k: len(v) for k, v in reviewed.plans.items() if k not in EVIDENCE_ONLY},
        reviewed.planned_by,
        subject=reviewed.subject,
    )
    with store.lock(f"approve {what(reviewed.stage, reviewed.subject)}"):
        store.recover()
        run = store.new_run(reviewed.stage, kind=KIND)
        approval.run_id = run.run_id
        header: dict = {"customer": store.customer, "run_id": run.run_id, "kind": KIND, "stage": reviewed.stage}
        header |= {"status": "recorded", "forced": False, "error": "", "started_at": approval.approved_at}
        if reviewed.subject:
            header["subject"] = reviewed.subject
        header |= {"apply": False, "approved_by": approver.describe(), "planned_by": reviewed.planned_by}
        header[KIND] = {k: v for k, v in asdict(approval).items() if k != "run_id"}
        store.archive(run, header, [], known_secrets)
    return approval


def approved_plans(customer: str, approval_run: str) -> dict[str, list[Change]]:
    """The plan an approval run approved, per item, read from its dry run and checked against the approved hash
    (EvidenceError when the dry run's results no longer give that hash)."""
    store = EvidenceStore(customer)
    found = [a for a in approvals(store) if a.run_id == approval_run]
    if not found:
        raise EvidenceError(f"approval run {approval_run} of {customer} is not in the evidence (or not sealed)")
    a = found[0]
    reviewed = reviewed_plan(store, a.stage, a.plan_run, a.subject)
    if reviewed is None or reviewed.sha256 != a.plan_sha256:
        raise EvidenceError(
            f"the plan approved in {approval_run} (run {a.plan_run}, sha256 {a.plan_sha256[:12]}) is not what that "
            f"run's evidence holds now. Fix: run `runbook evidence verify {customer}`"
        )
    return reviewed.plans


def from_environment(customer: str) -> dict[str, list[Change]] | None:
    """In an apply run's kernel: the approved plan the runner named ($RUNBOOK_APPROVAL), or None (no four eyes)."""
    run = os.environ.get(APPROVAL_ENV, "")
    if run == NOTHING:
        return {}
    return approved_plans(customer, run) if run else None
