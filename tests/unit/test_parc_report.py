"""Issue 26 (the monthly PARC report): s3-parc-report's decision table (a schedule in the parameters AND a report
produced in the evidence; the attestation when no schedule is configured), the report schedule's validation, the
month `runbook report` takes, and the report's sections against the sandbox (a subscription Cost Management does not
serve is that row's note; one refused section does not sink the others)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml

from runbook.customer import catalogue, params
from runbook.customer.params import ReportSchedule
from runbook.errors import InputError, ParameterError
from runbook.evidence import EvidenceStore
from runbook.evidence.store import REPORT_KIND
from runbook.operate import report
from runbook.steps import REGISTRY
from runbook.steps.base import Context, TenantCheck, check_or_attest
from runbook.steps.parc_report import parc_verdict
from tests.conftest import DEMO_SUBS

ITEM = "s3-parc-report"
SCHEDULE = ReportSchedule(day_of_month=5, recipients=["Dana Director"])


def _report_run(store: EvidenceStore, month: str, status: str = "complete", html: bool = True, sealed: bool = True):
    """A report run folder as `runbook report` leaves it (results.json, HTML, manifest), without running one."""
    run = store.new_run(-1, kind=REPORT_KIND)
    (run.path / "results.json").write_text(json.dumps({"month": month, "status": status, "items": []}))
    if html:
        (run.path / "monthly-report.html").write_text("<html></html>")
    if sealed:
        (run.path / "manifest.json").write_text("{}")
    return run


def run(ctx: Context):
    return check_or_attest(catalogue.load().item(ITEM), ctx, REGISTRY[ITEM]())


# --- the catalogue ---------------------------------------------------------------------------------------------------
def test_the_item_is_both_and_a_check_of_parameters_and_evidence():
    item = catalogue.load().item(ITEM)
    assert (item.kind, item.connector, item.stage) == ("both", "", 3) and "runbook report" in item.automation
    assert isinstance(REGISTRY[ITEM](), TenantCheck)


# --- the decision table ----------------------------------------------------------------------------------------------
def test_a_schedule_and_a_produced_report_fulfil_it(evidence_dir):
    store = EvidenceStore("demo")
    _report_run(store, "2026-10")
    newest = _report_run(store, "2026-11")
    v = parc_verdict("demo", SCHEDULE, store.reports())
    assert v.status == "fulfilled" and not v.missing
    assert v.summary == (
        "The monthly report is planned for day 5 of each month, to Dana Director; 2 report(s) produced, the newest "
        f"for 2026-11 in evidence/demo/{newest.run_id}."
    )


def test_a_schedule_without_a_report_is_open_and_says_how_to_make_one(evidence_dir):
    v = parc_verdict("demo", SCHEDULE, EvidenceStore("demo").reports())
    assert v.status == "open" and v.missing == ["a monthly report produced in evidence/demo"]
    assert "the evidence holds no monthly report yet; run `runbook report demo`" in v.summary


@pytest.mark.parametrize(
    ("status", "html", "sealed"),
    [("failed", False, True), ("complete", False, True), ("complete", True, False), ("interrupted", True, True)],
)
def test_report_runs_that_did_not_produce_a_report_leave_it_open_naming_them(evidence_dir, status, html, sealed):
    store = EvidenceStore("demo")
    bad = _report_run(store, "2026-11", status, html, sealed)
    v = parc_verdict("demo", SCHEDULE, store.reports())
    assert v.status == "open" and bad.run_id in v.summary and "did not complete" in v.summary


def test_no_schedule_is_open_in_the_table_and_uses_the_attestation_in_the_run(evidence_dir, params_dir):
    assert parc_verdict("demo", None, []).status == "open"
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data.pop("report", None)
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    p = params.load("demo")
    att = p.attestations[ITEM]
    r = run(Context(p, None, journal=None))  # no clients: the check reads no tenant
    assert r.status == "fulfilled" and r.attestation["reference"] == att.reference
    assert r.summary.startswith(
        "Check not available: no report schedule in demo.yml (report: day_of_month, recipients), attestation used."
    )


def test_with_a_schedule_the_check_decides_not_the_attestation(evidence_dir, params_dir):
    p = params.load("demo")
    assert p.report is not None and ITEM in p.attestations
    r = run(Context(p, None, journal=None))
    assert r.status == "open" and r.attestation is None and "no monthly report yet" in r.summary
    _report_run(EvidenceStore("demo"), "2026-11")
    r = run(Context(p, None, journal=None))
    assert r.status == "fulfilled" and r.observed[0]["month"] == "2026-11" and r.observed[0]["produced"]


def test_a_killed_report_run_is_sealed_without_checklist_items(evidence_dir):
    """`recover` seals a report run a killed process left as interrupted, recording no items (a stage's run would
    record its items as not-verified)."""
    store = EvidenceStore("demo")
    run_ = store.new_run(-1, kind=REPORT_KIND)
    assert store.recover() == [run_.run_id]
    data = json.loads((run_.path / "results.json").read_text())
    assert data["status"] == "interrupted" and data["items"] == []
    assert store.verify() == [] and not store.reports()[0].produced


# --- the schedule in the parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"day_of_month": 29, "recipients": ["Dana Director"]}, "day_of_month"),
        ({"day_of_month": 0, "recipients": ["Dana Director"]}, "day_of_month"),
        ({"day_of_month": 5, "recipients": []}, "recipients"),
        ({"day_of_month": 5, "recipients": ["Nobody Known"]}, "report.recipients names 'Nobody Known'"),
        ({"day_of_month": 5}, "recipients"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(params_dir, report, message):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["report"] = report
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(ParameterError) as exc:
        params.load("demo")
    assert message in str(exc.value)


def test_recipients_may_be_named_by_e_mail_address(params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["report"] = {"day_of_month": 28, "recipients": ["OLAF@contoso-demo.example"]}
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    assert params.load("demo").report == ReportSchedule(day_of_month=28, recipients=["OLAF@contoso-demo.example"])


# --- the month -------------------------------------------------------------------------------------------------------
def test_the_month_defaults_to_last_month_and_refuses_what_is_not_a_past_or_current_month():
    now = date(2027, 1, 14)
    assert report.month_of("", now).label == "2026-12"
    m = report.month_of("2024-02", now)
    assert (m.first, m.last, m.before(2).label) == (date(2024, 2, 1), date(2024, 2, 29), "2023-12")
    assert report.month_of("2027-01", now).label == "2027-01"  # the current month, to date
    for bad, says in (("2027-02", "has not begun"), ("2026-13", "not a month"), ("Nov 2026", "not a month")):
        with pytest.raises(InputError) as exc:
            report.month_of(bad, now)
        assert says in str(exc.value) and "Fix: " in str(exc.value) and "--month 2026-12 (last month)" in str(exc.value)


# --- the sections against the sandbox ----------------------------------------------------------------------------------
def test_a_subscription_without_cost_management_shows_it_in_its_row(sandbox, clients, evidence_dir):
    """The sandbox refuses Cost Management for an offer it does not serve (400 BadRequest, as Azure answers): that
    subscription's row carries Azure's one line, the others their costs, and the section a note naming it."""
    sub = sandbox.state.get(f"/subscriptions/{DEMO_SUBS[2]}")
    sub.update({"_cost_management": False, "_offer_id": "MS-AZR-0145P"})
    r = report.MonthlyReport(params.load("demo"), clients, report.month_of(""))
    cost = r.section("cost")
    rows = {row["subscription"]: row for row in cost.table.to_dict(orient="records")}
    assert rows[DEMO_SUBS[2]]["note"].startswith(
        f"400 BadRequest: Cost management data is unavailable for subscription {DEMO_SUBS[2]}. The offer MS-AZR-0145P"
    )
    assert all(rows[s][r.month.label] > 0 and rows[s]["note"] == "" for s in DEMO_SUBS[:2])
    assert any(DEMO_SUBS[2] in n for n in cost.notes)
    assert cost.png().startswith(b"\x89PNG")


def test_one_refused_section_is_a_one_line_note_and_the_others_still_read(sandbox, clients, evidence_dir):
    """A section whose read fails altogether (here: its client cannot be built) becomes its one-line note."""
    r = report.MonthlyReport(params.load("demo"), clients, report.month_of(""))

    def broken() -> None:
        raise RuntimeError("the advisor client is gone")

    r._advisor = broken  # type: ignore[method-assign]
    advisor, defender = r.section("advisor"), r.section("defender")
    assert advisor.notes == ["Azure Advisor recommendations: not read: RuntimeError: the advisor client is gone"]
    assert advisor.table.empty and advisor.png().startswith(b"\x89PNG")
    assert len(defender.table) == 3 and defender.table["score %"].notna().all()


def test_the_changes_section_lists_the_month_s_applied_changes_and_its_drift_runs(evidence_dir, params_dir):
    """From the customer's evidence runs of the month: every applied change (run, stage, item, action, target); the
    drift runs of the month with their findings and accepted deviations; other months' runs left out."""
    store = EvidenceStore("demo")
    stage = store.new_run(1)
    applied = [{"target": "/subscriptions/x/resourceGroups/rg", "action": "create action group", "detail": {}}]
    items = [{"item_id": "s1-monitoring-alerting", "applied": applied, "finished_at": "2026-12-01T10:00:00Z"}]
    (stage.path / "results.json").write_text(json.dumps({"stage": 1, "items": items}))
    old = store.folder / "20200105T000000.000000Z-stage1-abcd"
    old.mkdir()
    (old / "results.json").write_text(json.dumps({"stage": 1, "items": items}))
    now = report.today()
    r = report.MonthlyReport(params.load("demo"), None, report.Month(now.replace(day=1)))  # type: ignore[arg-type]
    changes = r.section("changes")
    assert changes.table.to_dict(orient="records") == [
        {
            "run": stage.run_id,
            "stage": 1,
            "item": "s1-monitoring-alerting",
            "action": "create action group",
            "target": "/subscriptions/x/resourceGroups/rg",
            "when": "2026-12-01T10:00",
        }
    ]
    assert changes.notes[-1] == "Drift: no drift runs this month."
    drift = store.new_run(0, kind="drift")
    accepted = [{"finding": "alert rule deleted", "reason": "customer's own", "until": "2027-03-31"}]
    (drift.path / "results.json").write_text(json.dumps({"findings": [{"item": "a"}], "accepted": accepted}))
    notes = r.section("changes").notes
    assert notes[-1] == (
        f"Drift run {drift.run_id}: 1 drift finding(s), 1 accepted deviation(s); accepted alert rule deleted: "
        "customer's own (until 2027-03-31)"
    )
    assert changes.png().startswith(b"\x89PNG")


def test_a_pdf_printed_from_the_html_is_sealed_with_the_run(evidence_dir, tmp_path):
    """The seal's after_html hook (the report's PDF printer when playwright's Chromium is installed) gets each HTML
    page before the manifest is written: what it writes is in the manifest and the chain verifies."""
    import nbformat

    from runbook.evidence.seal import RunOutcome

    store = EvidenceStore("demo")
    run_ = store.new_run(-1, kind=REPORT_KIND)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Monthly PARC report"))
    nbformat.write(nb, run_.path / "monthly-report.ipynb")
    printed = []

    def pdf(html):
        printed.append(html.name)
        html.with_suffix(".pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)

    store.seal(RunOutcome("demo", -1, run_.run_id, run_.path, "complete"), {"kind": REPORT_KIND}, (), pdf)
    manifest = json.loads((run_.path / "manifest.json").read_text())
    assert printed == ["monthly-report.html"] and "monthly-report.pdf" in manifest["files"]
    assert store.verify() == []


def test_the_cost_plot_labels_its_axes_and_names_the_budget_line_in_its_legend():
    """The cost section's plot: a bar per month per subscription, the budget a dashed line the legend names (it was
    missing from the legend when the bars' legend was drawn before the line)."""
    import pandas as pd

    table = pd.DataFrame(
        [
            {"subscription": "sub-a", "2026-10": 800.0, "2026-11": 900.0, "budget": 1000.0, "currency": "EUR"},
            {"subscription": "sub-b", "2026-10": 100.0, "2026-11": None, "budget": None, "currency": "EUR"},
        ]
    )
    section = report.Section("cost", "Cost", table, plot=report.cost_plot(["2026-10", "2026-11"], list))
    ax = section.figure().axes[0]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["2026-10", "2026-11", "budget"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("subscription", "cost (EUR)")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sub-a", "sub-b"]
    no_budget = table.assign(budget=[None, None])
    ax = report.Section("cost", "Cost", no_budget, plot=report.cost_plot(["2026-10", "2026-11"], list)).figure().axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["2026-10", "2026-11"]
