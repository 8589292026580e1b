"""The bootstrap notebooks call first: a stage session that runs items and shows their results."""

from __future__ import annotations

import html
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from . import errors
from .adapters.progress import BATCH_ENV, ONLY_ITEM_ENV
from .customer import catalogue
from .customer.connect import make_clients
from .customer.params import Parameters, load
from .evidence import EvidenceStore
from .evidence.interactive import InteractiveRun
from .evidence.results import Change, ItemResult
from .steps import REGISTRY
from .steps.base import (
    ConnectorCheck,
    Context,
    Step,
    attested,
    check_or_attest,
    execute,
    not_in_tier,
    with_attestation,
)


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
        # by hand (not under the runner): this session keeps its own evidence, like a papermill run
        self.interactive = not os.environ.get(BATCH_ENV)
        self.ctx.share_inventory = not self.interactive  # a batch run lists the inventory once for its steps
        self.record: InteractiveRun | None = None
        self.sealed_before: list[str] = []
        self._preflight: Any = None
        self._banner_mode: bool | None = None  # the mode the session card showed when it was last drawn
        # four eyes: under an apply run, the approved plan per item (the runner names the approval); None without
        from .evidence.approval import from_environment

        self.approved = from_environment(params.customer) if not self.interactive else None
        from .customer.params import parameters_hash

        # the parameter files as this session read them: a later edit is not silently ignored (see `stale_parameters`)
        self.parameters_sha256 = parameters_hash(params.customer)

    def begin_record(self, shell: Any) -> None:
        """Interactive only: take the customer's lock and start recording the kernel's cells as evidence."""
        from .authoring.notebooks import stage_notebook

        self.record = InteractiveRun(
            self.params.customer,
            self.stage.number,
            forced=self.forced,
            parameters_sha256=self.parameters_sha256,  # what this session read, not what the file holds now
            template=stage_notebook(self.stage.notebook),
        )
        self.sealed_before = self.record.begin(shell)

    def _prepare(self, apply: bool) -> None:
        """Before an item: the journal to write to, and the stage gate when the item may change the tenant."""
        if self.record is not None and not self.record.sealed:
            self.ctx.journal = self.record.journal()
        elif self.record is not None:  # finished: a new item opens a new record
            self.begin_record(_shell())
            self.ctx.journal = self.record.journal()
        if apply and not self.forced:
            blocking = EvidenceStore(self.params.customer).gate(self.stage.number)
            if blocking:
                raise errors.StageGateError(self.stage.number, blocking)

    def stale_parameters(self) -> str:
        """'' while the parameter files are as this session read them; else what changed and the fix."""
        from .customer.params import display_path, parameters_hash, resolve_path

        if parameters_hash(self.params.customer) == self.parameters_sha256:
            return ""
        return (
            f"{display_path(resolve_path(self.params.customer))} (or the MSP's msp.yml) changed after this session "
            "read it; this session still uses the old values. Fix: run the session cell again (it reads the file anew)"
        )

    def _done(self, result: ItemResult) -> ItemResult:
        """Record an item's final result (with its attestation) the moment it is known, then keep it. A result keeps
        every change applied to the item earlier in this run: re-running an item cell after an apply shows it in
        place, and the changes that put it there stay on its record."""
        earlier = self.results.get(result.item_id)
        if earlier is not None and earlier.applied:
            seen = {(c.action, c.target.lower()) for c in result.applied}
            kept = [c for c in earlier.applied if (c.action, c.target.lower()) not in seen]
            if kept:
                result.applied = kept + result.applied
                result.apply = True
                result.summary += f" ({len(kept)} change(s) applied earlier in this run are kept on the record.)"
        if self.record is not None:
            self.record.item(result)
        elif self.ctx.journal is not None:
            self.ctx.journal.item(result)  # the final word: after the attestation was weighed
        self.results[result.item_id] = result
        return result

    def mode(self) -> bool:
        """Whether changes are allowed, read at every call: under papermill the run's --apply; in JupyterLab the
        notebook's current `apply` variable (re-running the parameters cell with apply = False takes effect)."""
        if os.environ.get(BATCH_ENV):
            return self.apply
        shell = _shell()
        if shell is not None and "apply" in shell.user_ns:
            return bool(shell.user_ns["apply"])
        return self.apply

    def apply_reviewed(self, item_id: str, confirm: str = "") -> ItemResult | Note:
        """Carry out the plan the item last showed, and nothing else: the tenant is inspected again and the apply is
        refused, naming the differences, when the plan it gives now is not the one reviewed. Only in apply mode (the
        notebook's `apply`, read now); in a dry run it says what it would apply and changes nothing. On a real tenant
        the engineer confirms by typing the tenant's name (or passes it as `confirm`), like Terraform's `yes`."""
        item = self._item(item_id)
        only = os.environ.get(ONLY_ITEM_ENV, "") if not self.interactive else ""
        if only and only != item_id:
            return Note(f"{item_id}: not run (runbook run --item {only} runs that item only)")
        reviewed = self.plans.get(item_id)
        if reviewed is None:
            last = self.results.get(item_id)
            if last is not None and not self.interactive:
                return Note(
                    f"{item_id}: the run above already did this item in {'APPLY' if last.apply else 'DRY RUN'} mode."
                )
            if last is not None and last.status != "failed":
                return Note(f"{item_id}: nothing to apply; the run above planned no change ({last.status}).")
            raise errors.InputError(
                f'{item_id} has no reviewed plan. Fix: run session.run("{item_id}") first and read its plan.'
            )
        if not self.mode():
            return Note(
                f"DRY RUN: the {len(reviewed)} reviewed change(s) of {item_id} were not applied. To apply them: set "
                "apply = True in the parameters cell, run it, then run this cell again (the plan is checked again first).",
                mode="DRY RUN",
            )
        if self.params.target != "sandbox" and confirm != self.params.tenant_name:
            confirm = _ask(
                f"Apply {len(reviewed)} change(s) of {item_id} to tenant '{self.params.tenant_name}' ({self.params.tenant_id})? Type the tenant name to confirm: "
            )
            if confirm != self.params.tenant_name:
                raise errors.InputError(
                    f'applying changes to tenant \'{self.params.tenant_name}\' ({self.params.tenant_id}) needs confirmation; nothing was applied. Fix: session.apply_reviewed("{item_id}", confirm="{self.params.tenant_name}").'
                )
        stale = self.stale_parameters()
        if stale:
            raise errors.InputError(f"{item_id}: nothing was applied: {stale}.")
        if self.params.approval_required:  # four eyes: the plan shown is the approved one, by another principal
            from .evidence.approval import EVIDENCE_ONLY
            from .operate.approve import check_interactive

            if item.id not in EVIDENCE_ONLY:
                check_interactive(self.params, self.stage.number, item_id, reviewed, self.ctx.clients.target)
        self._prepare(apply=True)
        self.ctx.apply = True
        result = execute(REGISTRY[item.id](), self.ctx, reviewed=reviewed)
        if item.kind == "both" and not item.connector:  # a connector item's check decides alone (check_or_attest)
            result = with_attestation(item, self.ctx, result)
        self.plans.pop(item_id, None)
        return self._done(result)

    def _approved(self, item_id: str, applying: bool) -> tuple[list[Change] | None, str]:
        """Four eyes, under an apply run: the plan a second person approved for this item (what `execute` may
        apply: a fresh plan that differs is refused) and the fix it names; (None, '') without an approval."""
        from .evidence.approval import EVIDENCE_ONLY, fix

        if not applying or self.approved is None or item_id in EVIDENCE_ONLY:
            return None, ""
        text = fix(self.params.customer, self.stage.number).replace("Fix: ", "Fix: run the dry run again; ", 1)
        return self.approved.get(item_id, []), f"The plan differs from the approved one. {text}."

    def _item(self, item_id: str) -> catalogue.Item:
        item = catalogue.load().item(item_id)
        if item.stage != self.stage.number:
            raise ValueError(f"{item_id} belongs to stage {item.stage}, not stage {self.stage.number}")
        return item

    def run(self, item_id: str) -> ItemResult | Note:
        """Run one checklist item of this stage: its automated step, or its attestation. Under the runner, the step
        applies in apply mode (`--apply`). By hand, it inspects and shows the plan only; the plan is kept for
        `apply_reviewed` (the next cell), which applies exactly what was shown."""
        item = self._item(item_id)
        only = os.environ.get(ONLY_ITEM_ENV, "") if not self.interactive else ""
        if only and only != item_id:  # `runbook run --item`: this run is for one item; the others keep their evidence
            return Note(f"{item_id}: not run (runbook run --item {only} runs that item only)")
        self._prepare(apply=False)
        applying = self.mode() and not self.interactive
        self.ctx.apply = applying
        if not item.applies_to(self.params.tier):
            result = not_in_tier(item, self.ctx)
        elif item.connector or issubclass(REGISTRY.get(item.id, Step), ConnectorCheck):
            # the check decides where it can run (its connector configured, the tenant's read allowed); else the
            # attestation
            step = REGISTRY[item.id]()
            assert isinstance(step, ConnectorCheck), item.id
            result = check_or_attest(item, self.ctx, step, *self._approved(item.id, applying))
        elif item.id in REGISTRY:
            reviewed, fix = self._approved(item.id, applying)
            result = execute(REGISTRY[item.id](), self.ctx, reviewed=reviewed, changed_fix=fix)
            if item.kind == "both":
                result = with_attestation(item, self.ctx, result)
        else:
            result = attested(item, self.ctx, automation_pending=item.kind == "automated")
        if self.interactive:  # the card's mode is the session's: an APPLY session's item cell plans, the next applies
            result.apply = self.mode()
        if result.planned and not result.applied and not applying:  # an apply run's item already applied (or
            # was refused): its apply cell says so, it does not try again
            self.plans[item_id] = result.planned
            if self.interactive and result.status != "failed":
                next_step = (
                    f'review them, then run session.apply_reviewed("{item_id}") (the next cell) to apply exactly these.'
                    if self.mode()
                    else "to apply them, set apply = True in the parameters cell and run it, then the next cell."
                )
                result.summary = f"{len(result.planned)} change(s) planned (shown below); {next_step}"
        stale = self.stale_parameters()
        if stale:  # shown on the card, first; an apply is refused until the session reads the file again
            result.summary = f"WARNING: {stale}. " + result.summary
        if self.interactive and self._banner_mode is not None and self._banner_mode != self.mode():
            now, then = ("APPLY", "DRY RUN") if self.mode() else ("DRY RUN", "APPLY")
            result.summary = (
                f"The mode is now {now} (apply = {self.mode()}); the session card above still says {then}: run the "
                "session cell again to refresh it. " + result.summary
            )
        return self._done(result)

    def finish(self) -> StageSummary:
        """The stage summary; in a session run by hand, also seal its evidence (executed cells, HTML, results,
        manifest), so `runbook status` and `runbook checklist` count it. Under the runner, the runner archives."""
        where = ""
        if self.record is not None and not self.record.sealed:
            from .adapters import secrets

            closing = StageSummary(self, "")
            bundle = {"text/html": closing._repr_html_(), "text/plain": repr(closing)}
            where = self.record.seal(self.stage.notebook, secrets.stored_values(self.params.secret_refs()), bundle)
        return StageSummary(self, where)

    def resource_sheet(self, regenerate: bool = False):
        """Generate (if missing) and check the Manageable Resource Sheet; shows what it marks."""
        from .steps.tagging import prepare_sheet

        return prepare_sheet(self.ctx, regenerate)

    def schedule(self):
        """The backup and patch schedule agreed with the customer, in words and as a table."""
        from .customer.schedule import AgreedSchedule

        return AgreedSchedule(self.params)

    def summary(self) -> pd.DataFrame:  # pandas loads here, not at the bootstrap
        """Every item of the stage, in the checklist's order: its status in this session, or "not run" (an item not
        run is never left out of the count)."""
        rows = []
        for item in catalogue.load().for_stage(self.stage.number):
            r = self.results.get(item.id)
            rows.append(
                {"item": item.id, "role": r.role, "status": r.status, "summary": r.summary}
                if r is not None
                else {"item": item.id, "role": item.role, "status": NOT_RUN, "summary": "not run in this session"}
            )
        import pandas as pd

        pd.set_option("display.max_colwidth", None)
        return pd.DataFrame(rows, columns=["item", "role", "status", "summary"])

    def _repr_html_(self) -> str:
        p = self.params
        self._banner_mode = self.mode()
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
        if self.sealed_before:  # re-running this cell starts a new session: the open one was sealed, said here
            rows["Previous session"] = (
                f"sealed when this one started ({', '.join(self.sealed_before)}): its evidence is complete; "
                "this session records a new run"
            )
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        if self.mode():
            banner = ("#cf222e", "APPLY", "the apply cells change the tenant (each after its plan is shown)")
        else:
            banner = ("#0969da", "DRY RUN", "nothing in the tenant will change; set apply = True to allow changes")
        if not self.interactive:
            banner = (banner[0], banner[1], "run by runbook run" + (" --apply" if self.mode() else ""))
        loud = (
            f'<div class="runbook-banner" style="background:{banner[0]};color:#fff;padding:6px 10px;border-radius:4px;'
            f'font-size:120%"><b>{banner[1]}</b> · {html.escape(banner[2])}</div>'
        )
        return f"{loud}<h4>Run settings</h4><table>{body}</table>{self._preflight_html() if self.interactive else ''}"

    def preflight(self) -> Any:
        """`runbook preflight` for this session's customer (read-only), once per session."""
        if self._preflight is None:
            from .operate import preflight

            # a context of its own (never in apply mode, no journal), sharing the session's clients
            self._preflight = preflight.run(self.params, Context(self.params, lambda: self.ctx.clients, False))
        return self._preflight

    def _preflight_html(self) -> str:
        """The preflight folded under the settings: its verdict in the summary line, every check inside."""
        try:
            pf = self.preflight()
        except Exception as exc:  # shown, not raised: the items report it again with their fix
            return f"<p class='runbook-preflight'>Preflight not run: {html.escape(str(exc).splitlines()[0][:300])}</p>"
        blocked = {n: p for n, p in pf.stages().items() if p}
        here = blocked.get(self.stage.number, [])
        verdict = (
            "ready: nothing found that blocks any stage"
            if pf.ok
            else f"{sum(c.state != 'ok' for c in pf.checks)} check(s) not ok"
            + (f"; this stage: {'; '.join(here)}" if here else f"; stage(s) {', '.join(map(str, blocked))} blocked")
        )
        rows = "".join(
            f"<tr><td>{html.escape(c.state.upper())}</td><td>{html.escape(c.what)}</td><td>{html.escape(c.detail)}</td></tr>"
            for c in pf.checks
        )
        colour = "#1a7f37" if pf.ok else "#9a6700"
        return (
            f"<details class='runbook-preflight'><summary style='color:{colour}'><b>Preflight</b>: "
            f"{html.escape(verdict)}</summary><table>{rows}</table></details>"
        )

    def gate_text(self) -> str:
        """The stage gate as the evidence shows it, checked now (not assumed)."""
        blocking = EvidenceStore(self.params.customer).gate(self.stage.number)
        if not blocking:
            return "passed"
        forced = "FORCED: " if self.forced else "NOT passed: "
        return (
            forced + f"stage {self.stage.number - 1} still has {len(blocking)} item(s) not done: {', '.join(blocking)}"
        )

    def whoami(self) -> str:
        """Who the session signs in as, where, and whether the tenant answers (one token request, no change)."""
        try:
            target = self.ctx.clients.target
            if target.credential is None:
                return "no credential"
            claims = target.signed_in()
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


class Note:
    """A message a cell shows instead of a result (nothing ran, nothing is recorded)."""

    def __init__(self, text: str, mode: str = "") -> None:
        self.text, self.mode = text, mode

    def _repr_html_(self) -> str:
        badge = (
            f'<span class="runbook-mode" style="background:#ddf4ff;color:#0969da;padding:0 6px;border-radius:4px">{html.escape(self.mode)}</span> '
            if self.mode
            else ""
        )
        return f'<div class="runbook-note">{badge}{html.escape(self.text)}</div>'

    def __repr__(self) -> str:
        return self.text


def _ask(prompt: str) -> str:
    """A typed answer from the engineer (the kernel's stdin in JupyterLab); '' where nobody can answer."""
    try:
        return input(prompt).strip()
    except Exception:  # papermill, nbval, a kernel without stdin
        return ""


NOT_RUN = "not run"  # the summary's status of an item this session did not run


class StageSummary:
    """The stage's results at a glance: totals by status, one row per item, and links to the resource sheet and to
    the evidence this session sealed."""

    def __init__(self, session: Session, evidence_dir: str = "") -> None:
        self.session, self.evidence_dir = session, evidence_dir
        self.table = session.summary()

    def totals(self) -> dict[str, int]:
        """How many items reached each status."""
        return {str(k): int(v) for k, v in self.table["status"].value_counts().items()}

    def _repr_html_(self) -> str:
        colours = {"fulfilled": "#1a7f37", "not-required": "#57606a", "open": "#9a6700", "failed": "#cf222e"}
        badges = " ".join(
            f'<span style="background:{colours.get(k, "#57606a")};color:#fff;padding:2px 8px;border-radius:4px">{n} {html.escape(k)}</span>'
            for k, n in sorted(self.totals().items())
        )
        rows = "".join(
            f"<tr><td><b>{html.escape(r['item'])}</b></td><td>{html.escape(r['role'])}</td>"
            f'<td style="color:{colours.get(r["status"], "#57606a")}"><b>{html.escape(r["status"])}</b></td>'
            f"<td style='text-align:left'>{html.escape(r['summary'])}</td></tr>"
            for r in self.table.to_dict("records")
        )
        links = []
        p = self.session.params
        if self.session.stage.number == 1:
            from .customer import sheet

            path = sheet.sheet_path(p.customer, p.resource_sheet.path)
            if path.exists():
                links.append(f'<a href="{html.escape(_rel(path))}" download>Manageable Resource Sheet</a>')
        if self.evidence_dir:
            from pathlib import Path

            run = Path(self.evidence_dir)
            page = next(iter(sorted(run.glob("*.html"))), run)
            links.append(
                f'<a href="{html.escape(_rel(page))}" target="_blank">evidence of this session</a> ({html.escape(run.name)})'
            )
        elif self.session.interactive:
            links.append("no evidence sealed: nothing ran in this session")
        return (
            f'<div class="runbook-summary"><h4>Stage {self.session.stage.number} summary: {len(self.table)} item(s)</h4><p>{badges}</p>'
            f"<table><thead><tr><th>item</th><th>role</th><th>status</th><th>summary</th></tr></thead><tbody>{rows}</tbody></table>"
            + (f"<p>{' · '.join(links)}</p>" if links else "")
            + "</div>"
        )

    def __repr__(self) -> str:
        where = f"\nevidence: {self.evidence_dir}" if self.evidence_dir else ""
        return self.table.to_string(index=False) + where


def _rel(path: Any) -> str:
    """A link from the notebook's folder (the kernel's working directory) to a file."""
    try:
        return os.path.relpath(path, os.getcwd())
    except ValueError:
        return str(path)


def start(customer: str, stage: int, apply: bool = False, run_id: str = "", forced: bool = False) -> Session:
    """Load and validate the customer's parameters and open a stage session (the notebook's bootstrap call). By hand,
    a session started again in the same kernel first seals the previous one's evidence."""
    brief_errors()
    if "pandas" in sys.modules:  # summaries are shown whole, never cut with '...' (set again when pandas loads)
        sys.modules["pandas"].set_option("display.max_colwidth", None)
    from .customer.params import check_sign_in_refs

    params = load(customer)
    check_sign_in_refs(params)  # an unset variable the sign-in needs: said here, not at the first item
    session = Session(params, stage, apply, run_id, forced)
    if session.interactive:
        from .evidence import interactive

        sealed = interactive._seal_open()  # the session this cell started before: said in the new card
        session.begin_record(_shell())
        session.sealed_before = sealed + session.sealed_before
    return session


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


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
        # one line, "TargetError: <message with the fix>", sent as the cell's error (papermill and Run All stop)
        shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])

    import logging

    # azure-identity logs each failed token request on stderr; the card or the one-line error already says it
    logging.getLogger("azure.identity").setLevel(logging.ERROR)

    shell.set_custom_exc((errors.RunbookError,), handler)
