"""`runbook drift <customer>`: the month after onboarding. Every automated item of every completed stage is inspected
again (a dry run: nothing changes) and compared with the last verified state in the evidence; `--apply` re-applies
what deviates through the reviewed-plan path and verifies; an engineer may accept a finding as customer-specific.

* **In scope**: the items in `steps.REGISTRY` that apply to the customer's tier, of every stage the evidence shows
  complete (every item fulfilled or not-required: what opens the next stage's gate), whose newest fulfilled result
  exists. Connector checks whose connector is not configured are left out (their attestation stands).
* **The last verified state** of an item is its newest fulfilled result in any sealed run (a stage run, or a drift
  run that found it unchanged or repaired it): its run and time are the "since when" of a finding.
* **Findings**: one per pending change of the fresh plan (what the plan would change: its headline and value lines;
  where: its target), `drifted` when the last verified state covered the target, `new in scope` when it did not (a
  new resource to tag, a new subscription); an item that only checks gives one finding per line it finds missing.
  A finding's id is the item id and a hash of (action, target): stable across runs.
* **Decisions**: `accept()` records an engineer's acceptance (who, when, reason, until) as a decision run in the
  same hash chain; the finding is then `accepted` until its date passes, then reported as before ("expired").
* **Normalisation**: the comparison is the configuring steps' own (`steps.desired.project`: strings
  case-insensitive, numbers as numbers, lists as sets; tag names case-insensitive), so what Azure normalises is not
  drift.

The drift notebook (`notebooks/drift.ipynb`) calls `start`, then `inspect`, `remediate`, `decisions` and `finish`
on the session; `runner.run_drift` executes it with papermill and seals the run like a stage run.
"""

from __future__ import annotations

import getpass
import hashlib
import html
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..customer import catalogue
from ..customer.params import Parameters, load
from ..errors import InputError
from ..evidence import EvidenceStore, archive, journal
from ..evidence.results import Change, ItemResult, short_name, stamp, subscription_of
from ..evidence.store import Latest

# the steps (and the Azure SDK under them) load when a drift session starts: `runbook status` reads the last drift
# run's findings without them

#: per-item states, worst first (the item's state is its worst finding's)
STATES = ("failed", "drifted", "new in scope", "accepted", "repaired", "unchanged")
OPEN_STATES = ("failed", "drifted", "new in scope")  # what makes `runbook drift` exit 3
CHANGED = "the tenant changed since the plan was shown"  # steps.base.execute's refusal of a reviewed plan
DRIFT = "drift"  # the journal entry kind of a drift run (one per item, the last one counts)


# --- the model ---------------------------------------------------------------------------------------
@dataclass
class Decision:
    """An engineer's acceptance of a finding as customer-specific, as a decision run records it."""

    finding: str
    item_id: str
    reason: str
    by: str
    at: str
    until: str | None = None  # YYYY-MM-DD, the last day it holds; None: until revoked
    target: str = ""
    what: str = ""
    run_id: str = ""  # the decision run that recorded it

    def active(self, today: date) -> bool:
        """Whether the acceptance still holds on `today` (it holds through its `until` day)."""
        return self.until is None or date.fromisoformat(self.until) >= today


@dataclass
class Finding:
    """One deviation: what the plan would change (or what the check finds missing), where, since when."""

    id: str
    item_id: str
    state: str  # drifted | new in scope | accepted
    what: str  # the change's headline, or the line the check found missing
    target: str = ""
    values: list[str] = field(default_factory=list)
    since: str = ""  # the last verified state's time (finished_at) and run
    since_run: str = ""
    note: str = ""  # an acceptance: by, reason, until; or that it expired

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ItemDrift:
    """One item's re-verification: its state and findings."""

    item_id: str
    stage: int
    title: str
    state: str
    summary: str
    findings: list[Finding] = field(default_factory=list)
    since: str = ""
    since_run: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ItemDrift:
        d = dict(data)
        d["findings"] = [Finding(**f) for f in d.get("findings", [])]
        return cls(**d)


def finding_id(item_id: str, action: str, target: str) -> str:
    """A finding's stable id: the item and a short hash of what (the action) and where (the target, any casing)."""
    digest = hashlib.sha256(f"{action}|{target.lower()}".encode()).hexdigest()[:8]
    return f"{item_id}:{digest}"


# --- classification (pure: results in, findings out) ---------------------------------------------------
def covered(result: ItemResult) -> set[str]:
    """What a verified result covered: the targets of its changes, the resource IDs its observed rows name, and
    `<subscription>|<name>` of rows that name a resource so (the desired-resource tables)."""
    keys = {c.target.lower() for c in result.planned + result.applied}
    for row in result.observed:
        keys |= {v.lower() for v in row.values() if isinstance(v, str) and v.startswith("/subscriptions/")}
        if row.get("subscription") and row.get("name"):
            keys.add(f"{row['subscription']}|{row['name']}".lower())
    return keys


def is_covered(target: str, keys: set[str]) -> bool:
    """Whether a change's target was in the verified state (by ID, or by subscription and name)."""
    sub = subscription_of(target)
    return target.lower() in keys or bool(sub and f"{sub}|{short_name(target)}".lower() in keys)


def classify(
    item: catalogue.Item,
    now: ItemResult,
    baseline: Latest,
    decisions: dict[str, Decision],
    today: date,
) -> ItemDrift:
    """An item's state from its fresh (dry-run) result against its last verified result and the decisions."""
    since, since_run = baseline.result.finished_at, baseline.run_id
    out = ItemDrift(item.id, item.stage, item.title, "unchanged", "", [], since, since_run)
    if now.status == "failed":
        out.state, out.summary = "failed", now.summary
        return out
    keys = covered(baseline.result)
    raw: list[tuple[str, str, str, list[str], bool]] = [
        (c.action, c.target, c.headline, c.value_lines(), is_covered(c.target, keys)) for c in now.planned
    ]
    if not raw and now.status not in catalogue.DONE_STATUSES:  # a check: what it finds missing now
        raw = [("missing", "", line, [], True) for line in (now.missing or [now.summary])]
    for action, target, what, values, known in raw:
        fid = finding_id(item.id, action, target if target else what)
        f = Finding(fid, item.id, "drifted" if known else "new in scope", what, target, values, since, since_run)
        decision = decisions.get(fid)
        if decision is not None and decision.active(today):
            f.state = "accepted"
            f.note = f"accepted by {decision.by} on {decision.at[:10]}: {decision.reason}" + (
                f" (until {decision.until})" if decision.until else ""
            )
        elif decision is not None:
            f.note = f"the acceptance by {decision.by} expired on {decision.until}: {decision.reason}"
        out.findings.append(f)
    states = {f.state for f in out.findings}
    out.state = next((s for s in STATES if s in states), "unchanged")
    counts = {s: sum(f.state == s for f in out.findings) for s in STATES if s in states}
    out.summary = (
        "as verified" + (f" on {since[:10]} (run {since_run})" if since_run else "")
        if not out.findings
        else ", ".join(f"{n} {s}" for s, n in counts.items()) + f" since {since[:10] or '?'} (run {since_run})"
    )
    return out


def repaired(before: ItemDrift, result: ItemResult) -> ItemDrift:
    """The item after `--apply` re-applied its reviewed plan: repaired when verification finds nothing pending but the
    accepted findings (left as they are); failed with the step's summary when the apply failed or did not hold."""
    after = ItemDrift.from_dict(before.to_dict())
    if result.status == "fulfilled":
        kept = [f for f in after.findings if f.state == "accepted"]
        after.state, after.findings = "repaired", kept
        after.summary = f"{len(result.applied)} change(s) re-applied and verified" + (
            f"; {len(kept)} accepted finding(s) left as they are" if kept else ""
        )
    else:
        after.state, after.summary = "failed", f"re-applying did not repair it: {result.summary}"
    return after


# --- what the evidence says ------------------------------------------------------------------------------
def sealed_runs(store: EvidenceStore, kind: str) -> list[tuple[Path, dict]]:
    """The sealed runs of one kind (stage, drift, decision), oldest first, with their results.json."""
    out = []
    for run_dir in store.runs():
        path = run_dir / archive.RESULTS
        if archive.run_kind(run_dir.name) == kind and path.exists():
            out.append((run_dir, json.loads(path.read_text())))
    return out


def verified(store: EvidenceStore) -> dict[str, Latest]:
    """Per item, its newest fulfilled result in a sealed stage or drift run: the last verified state."""
    out: dict[str, Latest] = {}
    for run_dir in store.runs():
        path = run_dir / archive.RESULTS
        if archive.run_kind(run_dir.name) in ("decision", "offboard") or not path.exists():  # undo results: no baseline
            continue
        data = json.loads(path.read_text())
        for rec in data.get("items", []):
            if rec.get("status") == "fulfilled":
                how = "drift" if archive.run_kind(run_dir.name) == "drift" else "batch"
                out[rec["item_id"]] = Latest(ItemResult.from_dict(rec), run_dir.name, run_dir, how)
    return out


def decisions(store: EvidenceStore) -> dict[str, Decision]:
    """The decisions on record by finding id (a later decision on the same finding replaces the earlier)."""
    out: dict[str, Decision] = {}
    for run_dir, data in sealed_runs(store, "decision"):
        if data.get("status") == "recorded" and data.get("decision"):
            d = Decision(**{k: v for k, v in data["decision"].items() if k in Decision.__dataclass_fields__})
            d.run_id = run_dir.name
            out[d.finding] = d
    return out


def last_drift(store: EvidenceStore) -> tuple[Path, dict] | None:
    """The newest sealed drift run and its results, or None."""
    found = sealed_runs(store, "drift")
    return found[-1] if found else None


def complete_stages(store: EvidenceStore) -> list[int]:
    """The stages the evidence shows complete: every item fulfilled or not-required (the next stage's gate open)."""
    return [s.number for s in catalogue.load().stages if not store.gate(s.number + 1)]


def in_scope(params: Parameters, store: EvidenceStore) -> list[tuple[catalogue.Item, Latest]]:
    """The items drift re-inspects, with their last verified state (see the module's docstring)."""
    from ..steps import REGISTRY

    stages = set(complete_stages(store))
    base = verified(store)
    out = []
    for item in catalogue.load().items:
        step = REGISTRY.get(item.id)
        if item.stage not in stages or step is None or not item.applies_to(params.tier) or item.id not in base:
            continue
        if item.connector and params.connector_unavailable(item.connector):
            continue  # its attestation decided; there is nothing to inspect
        out.append((item, base[item.id]))
    return out


def status_line(store: EvidenceStore) -> str:
    """The last drift finding in one line, for `runbook status` ('' when drift never ran)."""
    last = last_drift(store)
    if last is None:
        return ""
    run_dir, data = last
    items = [ItemDrift.from_dict(d) for d in data.get("drift", [])]
    counts = {s: sum(i.state == s for i in items) for s in STATES}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no item in scope"
    deviating = [i.item_id for i in items if i.state in OPEN_STATES]
    return (
        f"last drift run {run_dir.name} ({data.get('finished_at', '')}): {data.get('status')}: {shown}"
        + (f"; open: {', '.join(deviating)}" if deviating else "")
        + f"  evidence: {run_dir.parent.name}/{run_dir.name}"
    )


# --- decisions ---------------------------------------------------------------------------------------------
def accept(customer: str, finding: str, reason: str, until: str | None = None, today: date | None = None) -> Path:
    """Record the acceptance of a finding of the last drift run as customer-specific: a decision run in the
    customer's evidence chain (who: the engineer in the parameters and the OS user; when; reason; until), sealed under
    the run lock. InputError (exit 2) for an unknown finding, no reason, or a date that is not a later day."""
    params = load(customer)
    store = EvidenceStore(params.customer)
    today = today or date.today()
    if not reason.strip():
        raise InputError(
            f'--accept {finding}: a reason is required. Fix: add --reason "why this is customer-specific".'
        )
    if until is not None:
        try:
            day = date.fromisoformat(until)
        except ValueError:
            raise InputError(f"--until {until}: not a date. Fix: give YYYY-MM-DD.") from None
        if day < today:
            raise InputError(f"--until {until} is in the past. Fix: give today or a later day (YYYY-MM-DD).")
    last = last_drift(store)
    known = {f["id"]: f for d in (last[1].get("drift", []) if last else []) for f in d.get("findings", [])}
    if finding not in known:
        raise InputError(
            f"--accept {finding}: no such finding in the last drift run of {params.customer}. Fix: run "
            f"`runbook drift {params.customer}` and use an id it shows."
        )
    f = known[finding]
    record = Decision(
        finding,
        f["item_id"],
        reason.strip(),
        f"{params.engineer} ({getpass.getuser()})",
        stamp(),
        until,
        f.get("target", ""),
        f.get("what", ""),
        "",
    )
    with store.lock(f"drift --accept {finding}"):
        store.recover()
        run = store.new_run(0, kind="decision")
        record.run_id = run.run_id
        header: dict = {"customer": params.customer, "run_id": run.run_id, "kind": "decision", "stage": None}
        header |= {"status": "recorded", "forced": False, "error": "", "started_at": stamp(), "apply": False}
        header["decision"] = {k: v for k, v in asdict(record).items() if k != "run_id"}
        header["drift_run"] = last[0].name if last else ""
        store.archive(run, header, [])
    return run.path


# --- a drift run as the runner seals it -------------------------------------------------------------------
@dataclass
class DriftOutcome:
    """What one drift run found (and repaired): its state and the items' reports."""

    customer: str
    run_id: str
    run_dir: Path
    status: str  # complete | drift | incomplete | failed | interrupted | refused | offboarded
    items: list[ItemDrift] = field(default_factory=list)
    error: str = ""
    apply: bool = False

    @property
    def exit_code(self) -> int:
        """0 nothing deviates (accepted findings do not count), 3 drift found or an item not inspected, 130
        interrupted, 1 failed."""
        from ..errors import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK

        return {
            "complete": EXIT_OK,
            "offboarded": EXIT_OK,  # the customer left (an applied `runbook offboard`): nothing is inspected
            "drift": EXIT_INCOMPLETE,
            "incomplete": EXIT_INCOMPLETE,
            "interrupted": EXIT_INTERRUPTED,
        }.get(self.status, EXIT_FAILED)

    def findings(self) -> list[Finding]:
        return [f for i in self.items for f in i.findings]


def collect(journal_path: Path) -> tuple[list[ItemDrift], list[ItemResult]]:
    """The items' last reports and results, as the drift session journaled them."""
    entries, _ = journal.read(journal_path)
    reports: dict[str, ItemDrift] = {}
    results: dict[str, ItemResult] = {}
    for e in entries:
        if e.get("kind") == DRIFT:
            r = ItemDrift.from_dict(e["report"])
            reports[r.item_id], results[r.item_id] = r, ItemResult.from_dict(e["result"])
    return list(reports.values()), list(results.values())


def state_of(items: list[ItemDrift], error: str = "", interrupted: bool = False) -> str:
    """The run's state from its items' (and the notebook's error)."""
    if interrupted:
        return "interrupted"
    if error:
        return "failed"
    states = {i.state for i in items}
    return "drift" if states & {"drifted", "new in scope"} else "incomplete" if "failed" in states else "complete"


def header(outcome: DriftOutcome, started: str, parameters_sha256: str) -> dict:
    """results.json's facts of a drift run: its state, every item's report and the findings flat."""
    totals = {s: n for s in STATES if (n := sum(i.state == s for i in outcome.items))}
    return {
        "customer": outcome.customer,
        "run_id": outcome.run_id,
        "kind": "drift",
        "stage": None,
        "status": outcome.status,
        "forced": False,
        "error": outcome.error,
        "started_at": started,
        "apply": outcome.apply,
        "parameters_sha256": parameters_sha256,
        "totals": totals,
        "drift": [i.to_dict() for i in outcome.items],
        "findings": [f.to_dict() for f in outcome.findings()],
    }


# --- the drift notebook's session ---------------------------------------------------------------------------
class DriftSession:
    """One customer's drift run in the drift notebook: inspect, remediate (with apply), decisions, finish."""

    def __init__(self, params: Parameters, apply: bool = False, run_id: str = "", today: date | None = None) -> None:
        from ..adapters.progress import BATCH_ENV
        from ..customer.connect import make_clients
        from ..steps.base import Context

        self.params, self.apply, self.run_id = params, apply, run_id
        self.store = EvidenceStore(params.customer)
        self.today = today or date.today()
        self.batch = bool(run_id)  # under `runbook drift`: the run folder and journal are the runner's
        if self.batch:
            os.environ[BATCH_ENV] = "1"  # this kernel's progress as plain lines, and the CLI's words in hints
        self.journal = journal.Journal(self.store.folder / run_id / journal.JOURNAL) if self.batch else None
        self.ctx = Context(params, lambda: make_clients(params), False, journal=self.journal)
        self.ctx.share_inventory = True  # one listing for the steps of the inspection (an apply reads afresh)
        self.scope = in_scope(params, self.store)
        self.decided = decisions(self.store)
        self.reports: dict[str, ItemDrift] = {}
        self.results: dict[str, ItemResult] = {}

    def _record(self, report: ItemDrift, result: ItemResult) -> None:
        self.reports[report.item_id], self.results[report.item_id] = report, result
        if self.journal is not None:
            self.journal.record(DRIFT, report=report.to_dict(), result=result.to_dict())

    def _run(self, item: catalogue.Item, **kw: Any) -> ItemResult:
        from ..steps import REGISTRY
        from ..steps.base import ConnectorCheck, execute

        step = REGISTRY[item.id]()
        if isinstance(step, ConnectorCheck) and step.unavailable(self.ctx):  # pragma: no cover - left out of scope
            raise InputError(f"{item.id}: {step.unavailable(self.ctx)}")
        return execute(step, self.ctx, **kw)

    def inspect(self) -> DriftTable:
        """Every item in scope inspected again (dry run) and classified against its last verified state."""
        self.ctx.apply = False
        for item, baseline in self.scope:
            result = self._run(item)
            self._record(classify(item, result, baseline, self.decided, self.today), result)
        return DriftTable(self, "Findings")

    def remediate(self) -> DriftTable | Notice:
        """With apply: for each item that deviates, the plan shown above minus the accepted findings is applied
        through the reviewed-plan path (the tenant is inspected again; a plan that changed meanwhile is refused,
        naming the differences), then verified. In a dry run it says what it would apply and changes nothing."""
        todo = [
            (item, base)
            for item, base in self.scope
            if item.id in self.reports
            and self.reports[item.id].state in ("drifted", "new in scope")
            and self.results[item.id].planned
        ]
        if not self.apply:
            n = sum(f.state != "accepted" and bool(f.target) for i, _ in todo for f in self.reports[i.id].findings)
            return Notice(
                f"DRY RUN: {n} change(s) of {len(todo)} item(s) would be re-applied; nothing was changed. "
                f"To repair them: runbook drift {self.params.customer} --apply"
                if todo
                else "Nothing to re-apply."
            )
        if not self.batch:
            raise InputError(
                f"re-applying is recorded as a drift run: run `runbook drift {self.params.customer} --apply` (it "
                "executes this notebook and seals its evidence)."
            )
        for item, _ in todo:
            reviewed = [c for c in self.results[item.id].planned if not self._accepted_for(item.id, c)]
            self.ctx.apply = True
            keep = lambda c, i=item.id: not self._accepted_for(i, c)  # noqa: E731
            result = self._run(item, reviewed=reviewed, keep=keep)
            self.ctx.apply = False
            report = repaired(self.reports[item.id], result)
            if result.status == "failed" and not result.applied and result.summary.startswith(CHANGED):
                # the plan changed since it was shown: when an earlier item of this run repaired the same targets (two
                # items tag the same resources), a look at what that apply's verification read finds nothing left
                check = self._run(item, keep=keep)
                if check.status == "fulfilled" and not check.planned:
                    report = repaired(self.reports[item.id], check)
                    report.summary = "repaired by the re-apply of an earlier item in this run (verified now)"
                    result = check
            self._record(report, result)
        return DriftTable(self, "After re-applying")

    def _accepted_for(self, item_id: str, c: Change) -> bool:
        d = self.decided.get(finding_id(item_id, c.action, c.target))
        return d is not None and d.active(self.today)

    def decisions(self) -> DecisionTable:
        """The decisions on record for this customer, active or expired."""
        return DecisionTable(list(self.decided.values()), self.today)

    def finish(self) -> DriftTable:
        """The run's findings at the end (what the runner seals into results.json)."""
        return DriftTable(self, "Drift summary", summary=True)

    def _repr_html_(self) -> str:
        p = self.params
        stages = sorted({i.stage for i, _ in self.scope})
        rows = {
            "Customer": f"{p.tenant_name} ({p.customer})",
            "Tenant": p.tenant_id,
            "Subscriptions": ", ".join(p.subscription_ids),
            "Tier": p.tier,
            "Engineer": p.engineer,
            "Mode": "APPLY: what drifted is re-applied" if self.apply else "DRY RUN: nothing will be changed",
            "Stages complete": ", ".join(map(str, complete_stages(self.store))) or "none",
            "Items in scope": f"{len(self.scope)} automated item(s) of stage(s) {', '.join(map(str, stages)) or '-'}",
            "Decisions on record": str(len(self.decided)),
            "Run": self.run_id or "by hand: inspects and shows; `runbook drift` records the evidence",
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows.items()
        )
        return f"<h4>Drift run settings</h4><table>{body}</table>"

    def __repr__(self) -> str:
        return f"DriftSession(customer={self.params.customer!r}, apply={self.apply}, items={len(self.scope)})"


def start(customer: str, apply: bool = False, run_id: str = "") -> DriftSession:
    """Load and validate the customer's parameters and open its drift session (the drift notebook's first call)."""
    from ..customer.params import check_sign_in_refs

    params = load(customer)
    check_sign_in_refs(params)
    return DriftSession(params, apply, run_id)


class Notice:
    """A message a cell shows instead of a table."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return f'<div class="runbook-note">{html.escape(self.text)}</div>'

    def __repr__(self) -> str:
        return self.text


_COLOURS = {
    "failed": "#cf222e",
    "drifted": "#cf222e",
    "new in scope": "#9a6700",
    "accepted": "#57606a",
    "repaired": "#1a7f37",
    "unchanged": "#1a7f37",
}


class DriftTable:
    """Per item its state, then every finding: id, state, what, where, since when."""

    def __init__(self, session: DriftSession, title: str, summary: bool = False) -> None:
        self.title, self.summary = title, summary
        self.items = [session.reports[i.id] for i, _ in session.scope if i.id in session.reports]

    def totals(self) -> dict[str, int]:
        return {s: n for s in STATES if (n := sum(i.state == s for i in self.items))}

    def _repr_html_(self) -> str:
        esc = html.escape
        badges = " ".join(
            f'<span style="background:{_COLOURS[s]};color:#fff;padding:2px 8px;border-radius:4px">{n} {esc(s)}</span>'
            for s, n in self.totals().items()
        )
        rows = "".join(
            f"<tr><td><b>{esc(i.item_id)}</b></td><td>{i.stage}</td>"
            f'<td style="color:{_COLOURS[i.state]}"><b>{esc(i.state)}</b></td><td>{esc(i.summary)}</td></tr>'
            for i in self.items
        )
        found = [f for i in self.items for f in i.findings]
        detail = "".join(
            f"<tr><td><code>{esc(f.id)}</code></td><td>{esc(f.state)}</td><td>{esc(f.what)}"
            + "".join(f"<br/><code>{esc(v)}</code>" for v in f.values)
            + f"</td><td title='{esc(f.target)}'>{esc(short_name(f.target) or '-')}</td>"
            f"<td>{esc(f.since[:19])} ({esc(f.since_run)})</td><td>{esc(f.note)}</td></tr>"
            for f in found
        )
        table = (
            "<table><thead><tr><th>item</th><th>stage</th><th>state</th><th>summary</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        if detail:
            table += (
                f"<p><b>Findings ({len(found)})</b></p><table><thead><tr><th>finding</th><th>state</th><th>what</th>"
                f"<th>where</th><th>last verified</th><th>decision</th></tr></thead><tbody>{detail}</tbody></table>"
            )
        empty = "" if self.items else "<p>No item in scope: no stage is complete in the evidence yet.</p>"
        return f'<div class="runbook-drift"><h4>{esc(self.title)}</h4><p>{badges}</p>{empty}{table}</div>'

    def __repr__(self) -> str:
        lines = [f"{self.title}: " + (", ".join(f"{n} {s}" for s, n in self.totals().items()) or "nothing in scope")]
        for i in self.items:
            lines.append(f"  {i.state:<12} {i.item_id}: {i.summary}")
            lines += [f"      {f.state:<12} {f.id} {f.what}" for f in i.findings]
        return "\n".join(lines)


class DecisionTable:
    """The decisions on record: finding, by, when, reason, until, whether it still holds."""

    def __init__(self, decided: list[Decision], today: date) -> None:
        self.rows = [
            {
                "finding": d.finding,
                "state": "active" if d.active(today) else "expired",
                "by": d.by,
                "at": d.at,
                "until": d.until or "-",
                "reason": d.reason,
                "what": d.what,
                "evidence": d.run_id,
            }
            for d in decided
        ]

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>No decisions on record (accept a finding: <code>runbook drift &lt;customer&gt; --accept &lt;finding&gt; --reason ...</code>).</p>"
        head = "".join(f"<th>{html.escape(k)}</th>" for k in self.rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in self.rows
        )
        return f"<h4>Decisions</h4><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return "\n".join(f"{r['state']:<8} {r['finding']} until {r['until']}: {r['reason']}" for r in self.rows) or (
            "no decisions on record"
        )
