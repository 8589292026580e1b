"""Stage 3: the monthly PARC report is set up and planned (s3-parc-report), checked in the parameters and the evidence.

The check reads no tenant and writes nothing: the customer's parameters must hold a report schedule (`report`: the day
of the month, the recipients among `contacts`) and the customer's evidence a monthly report produced by `runbook
report` (a sealed report run with its HTML). Fulfilled when both hold; open names which is missing (no report yet, or
only failed ones). Without a schedule in the parameters the check is not available and the Engineer's attestation is
used (steps.base.check_or_attest). `runbook demo` makes the first report (last month) right after Stage 2, so Stage 3
finds it.
"""

from __future__ import annotations

from ..customer.params import ReportSchedule, display_path, resolve_path
from ..evidence import EvidenceStore
from ..evidence.store import Report
from .base import Context, Observation, TenantCheck, Verdict

ITEM_ID = "s3-parc-report"


class ParcReport(TenantCheck):
    """A report schedule in the parameters and a monthly report produced in the evidence."""

    item_id = ITEM_ID

    def unavailable(self, ctx: Context) -> str:
        if ctx.params.report is None:
            where = display_path(resolve_path(ctx.params.customer))
            return f"no report schedule in {where} (report: day_of_month, recipients)"
        return ""

    def inspect(self, ctx: Context) -> Observation:
        reports = EvidenceStore(ctx.params.customer).reports()
        rows = [
            {"run": r.run_id, "month": r.month, "status": r.status, "sealed": r.sealed, "produced": r.produced}
            for r in reports
        ]
        return Observation(rows, {"reports": reports})

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        return parc_verdict(ctx.params.customer, ctx.params.report, obs.facts["reports"])


def parc_verdict(customer: str, schedule: ReportSchedule | None, reports: list[Report]) -> Verdict:
    """Fulfilled with a schedule and a produced report; open names what is missing."""
    if schedule is None:
        return Verdict(
            "open",
            "No report schedule in the parameters.",
            [f"report: {{day_of_month, recipients}} in parameters/{customer}.yml"],
        )
    planned = f"The monthly report is planned for day {schedule.day_of_month} of each month, to {', '.join(schedule.recipients)}"
    made = [r for r in reports if r.produced]
    if made:
        last = made[-1]
        return Verdict(
            "fulfilled",
            f"{planned}; {len(made)} report(s) produced, the newest for {last.month} in evidence/{customer}/{last.run_id}.",
        )
    fix = f"run `runbook report {customer}` (last month) or `--month YYYY-MM`"
    if reports:
        bad = ", ".join(f"{r.run_id} ({r.status})" for r in reports)
        return Verdict(
            "open",
            f"{planned}, but no report was produced: the report runs in the evidence did not complete ({bad}); {fix}.",
            [f"a monthly report produced in evidence/{customer}"],
        )
    return Verdict(
        "open",
        f"{planned}, but the evidence holds no monthly report yet; {fix}.",
        [f"a monthly report produced in evidence/{customer}"],
    )
