"""The bootstrap notebooks call first: a stage session that runs items and shows their results."""

from __future__ import annotations

import html
import os
from typing import Any

import pandas as pd

from . import catalogue, errors
from .connect import make_clients
from .params import Parameters, load
from .progress import BATCH_ENV
from .results import Change, ItemResult
from .steps import REGISTRY
from .steps.base import Context, attested, execute, not_in_tier, with_attestation


class Session:
    """One stage for one customer: runs items in the notebook and keeps their results."""

    def __init__(
        self, params: Parameters, stage: int, apply: bool = False, run_id: str = "", forced: bool = False
    ) -> None:
        self.params = params
        self.stage = catalogue.load().stage(stage)
        self.apply = apply
        self.run_id = run_id
        self.forced = forced
        self.ctx = Context(params, lambda: make_clients(params), apply)
        self.results: dict[str, ItemResult] = {}
        self.plans: dict[str, list[Change]] = {}  # the plan each item last showed: what `apply` may carry out

    def mode(self) -> bool:
        """Whether changes are allowed, read at every call: under papermill the run's --apply; in JupyterLab the
        notebook's current `apply` variable (re-running the parameters cell with apply = False takes effect)."""
        if os.environ.get(BATCH_ENV):
            return self.apply
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is not None and "apply" in shell.user_ns:
            return bool(shell.user_ns["apply"])
        return self.apply

    def apply_reviewed(self, item_id: str, confirm: str = "") -> ItemResult:
        """Carry out the plan the item last showed, and nothing else: the tenant is inspected again and the apply is
        refused, naming the differences, when the plan it gives now is not the one reviewed. On a real tenant
        `confirm` must name it (the tenant name), like Terraform's `yes`."""
        item = self._item(item_id)
        reviewed = self.plans.get(item_id)
        if reviewed is None or item.id not in REGISTRY:
            raise errors.InputError(
                f'{item_id} has no reviewed plan. Fix: run session.run("{item_id}") first and read its plan.'
            )
        if self.params.target != "sandbox" and confirm != self.params.tenant_name:
            raise errors.InputError(
                f'applying changes to tenant \'{self.params.tenant_name}\' ({self.params.tenant_id}) needs confirmation. Fix: session.apply_reviewed("{item_id}", confirm="{self.params.tenant_name}").'
            )
        self.ctx.apply = True
        result = execute(REGISTRY[item.id](), self.ctx, reviewed=reviewed)
        if item.kind == "both":
            result = with_attestation(item, self.ctx, result)
        self.plans.pop(item_id, None)
        self.results[item_id] = result
        return result

    def _item(self, item_id: str) -> catalogue.Item:
        item = catalogue.load().item(item_id)
        if item.stage != self.stage.number:
            raise ValueError(f"{item_id} belongs to stage {item.stage}, not stage {self.stage.number}")
        return item

    def run(self, item_id: str) -> ItemResult:
        """Run one checklist item of this stage: its automated step (applying only in apply mode, read now), or its
        attestation. A dry run's plan is kept for `apply_reviewed`."""
        self.ctx.apply = self.mode()
        item = self._item(item_id)
        if not item.applies_to(self.params.tier):
            result = not_in_tier(item, self.ctx)
        elif item.id in REGISTRY:
            result = execute(REGISTRY[item.id](), self.ctx)
            if item.kind == "both":
                result = with_attestation(item, self.ctx, result)
        else:
            result = attested(item, self.ctx, automation_pending=item.kind == "automated")
        if result.planned and not result.applied:
            self.plans[item_id] = result.planned
        self.results[item_id] = result
        return result

    def resource_sheet(self, regenerate: bool = False):
        """Generate (if missing) and check the Manageable Resource Sheet; shows what it marks."""
        from .steps.tagging import prepare_sheet

        return prepare_sheet(self.ctx, regenerate)

    def summary(self) -> pd.DataFrame:
        """Status of every item of the stage run so far."""
        rows = [
            {"item": r.item_id, "role": r.role, "status": r.status, "summary": r.summary} for r in self.results.values()
        ]
        return pd.DataFrame(rows, columns=["item", "role", "status", "summary"])

    def _repr_html_(self) -> str:
        p = self.params
        rows = {
            "Customer": f"{p.tenant_name} ({p.customer})",
            "Tenant": p.tenant_id,
            "Subscriptions": ", ".join(p.subscription_ids),
            "Tier": p.tier,
            "Engineer": p.engineer,
            "SLA project": p.sla_project_number,
            "Target": p.target,
            "Mode": "APPLY: changes will be made"
            if self.mode()
            else "DRY RUN: nothing will be changed (read at each item)",
            "Stage gate": self.gate_text(),
            "Signed in as": self.whoami(),
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        return f"<h4>Run settings</h4><table>{body}</table>"

    def gate_text(self) -> str:
        """The stage gate as the evidence shows it, checked now (not assumed)."""
        from .runner import gate

        blocking = gate(self.params.customer, self.stage.number)
        if not blocking:
            return "passed"
        forced = "FORCED: " if self.forced else "NOT passed: "
        return (
            forced + f"stage {self.stage.number - 1} still has {len(blocking)} item(s) not done: {', '.join(blocking)}"
        )

    def whoami(self) -> str:
        """Who the session signs in as, where, and whether the tenant answers (one token request, no change)."""
        import base64
        import json

        try:
            target = self.ctx.clients.target
            if target.credential is None:
                return "no credential"
            token = target.credential.get_token(target.arm_scope).token
            body = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            return f"principal {claims.get('oid')} (app {claims.get('appid')}) in tenant {claims.get('tid')} at {target.arm_url}"
        except Exception as exc:  # shown, not raised: the items report it again with their fix
            fix = (
                "start it with `runbook sandbox serve`"
                if self.params.target == "sandbox"
                else "check the credential and the network"
            )
            return f"UNREACHABLE ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Fix: {fix}"

    def __repr__(self) -> str:
        return f"Session(customer={self.params.customer!r}, stage={self.stage.number}, apply={self.apply})"


def start(customer: str, stage: int, apply: bool = False, run_id: str = "", forced: bool = False) -> Session:
    """Load and validate the customer's parameters and open a stage session (the notebook's bootstrap call)."""
    brief_errors()
    pd.set_option("display.max_colwidth", None)  # summaries are shown whole, never cut with '...'
    return Session(load(customer), stage, apply, run_id, forced)


def brief_errors() -> None:
    """In a notebook kernel, show the runbook's own errors as their one-line message with the fix (errors.describe),
    not a traceback; the cell still fails, so papermill and Run All stop as before."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        shell.showtraceback((etype, value, tb), exception_only=True)  # "TargetError: <message with the fix>"

    shell.set_custom_exc((errors.RunbookError,), handler)
