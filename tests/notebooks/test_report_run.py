"""Issue 26: the monthly PARC report notebook executed by papermill on the sandbox (`runbook report`): seven sections,
each a table and a plot in the outputs, the HTML archived beside the notebook, report.json and the manifest, and the
evidence chain verified; a subscription Cost Management does not serve shows Azure's answer in its row; the second
month's report reads its trend from the first; a bad month exits 2 with the fix."""

from __future__ import annotations

import json

import nbformat
import pytest

from runbook import runner
from runbook.authoring.notebooks import REPORT_NOTEBOOK, REPORT_SECTIONS
from runbook.cli import main
from runbook.evidence import EvidenceStore
from runbook.operate.report import month_of, today
from tests.conftest import DEMO_SUBS
from tests.contract.conftest import raw  # noqa: F401 (the fixture the backup seeding below uses)
from tests.contract.test_backup_jobs import VAULT_NAME, protected  # noqa: F401 (a vault protecting three VMs)

pytestmark = pytest.mark.notebooks


def _outputs(nb, cell_id: str) -> list:
    return next(c for c in nb.cells if c.get("id") == cell_id).outputs


def test_the_report_has_seven_sections_each_a_table_and_a_plot_and_is_archived(
    sandbox,
    evidence_dir,
    params_dir,
    protected,  # noqa: F811
):
    sub = sandbox.state.get(f"/subscriptions/{DEMO_SUBS[2]}")
    sub.update({"_cost_management": False, "_offer_id": "MS-AZR-0145P"})
    last = month_of("")
    out = runner.run_report("demo", last.label)
    assert (out.status, out.error, out.exit_code) == ("complete", "", 0)
    printed = runner.chromium_executable() is not None  # a PDF beside the HTML when a Chromium is installed
    assert sorted(p.name for p in out.run_dir.iterdir()) == sorted(
        ["manifest.json", "monthly-report.html", REPORT_NOTEBOOK, "report.json", "results.json"]
        + (["monthly-report.pdf"] if printed else [])
    )
    if printed:
        assert (out.run_dir / "monthly-report.pdf").read_bytes()[:5] == b"%PDF-"
    nb = nbformat.read(out.run_dir / REPORT_NOTEBOOK, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    for key in REPORT_SECTIONS:
        kinds = [o.get("data", {}) for o in _outputs(nb, key)]
        assert any("<table" in str(d.get("text/html", "")) for d in kinds), key
        assert any("image/png" in d for d in kinds), key
    html = (out.run_dir / "monthly-report.html").read_text()
    assert html.count("<img src='data:image/png;base64,") == 7
    assert all(f"<h2>{title}</h2>" in html for title, _ in REPORT_SECTIONS.values())
    assert "r.section(" not in html and "run_id = " not in html  # no code, no injected parameters
    # the subscription without Cost Management: Azure's answer in its row, the others' costs beside it
    assert f"Cost management data is unavailable for subscription {DEMO_SUBS[2]}" in html
    record = json.loads((out.run_dir / "report.json").read_text())
    cost = {r["subscription"]: r for r in record["sections"]["cost"]["rows"]}
    assert cost[DEMO_SUBS[2]][last.label] is None and cost[DEMO_SUBS[0]][last.label] > 0
    backup = record["sections"]["backup"]["rows"]
    assert len(backup) == 3 and all(r["vault"] == VAULT_NAME and r["jobs in month"] >= 28 for r in backup)
    assert record["sections"]["changes"]["notes"][-1] == "Drift: no drift runs this month."
    results = json.loads((out.run_dir / "results.json").read_text())
    assert (results["kind"], results["month"], results["stage"], results["items"]) == ("report", last.label, None, [])
    assert EvidenceStore("demo").verify() == []
    assert main(["evidence", "verify", "demo"]) == 0

    # next month's report reads its trend from this one's record
    current = today().strftime("%Y-%m")
    again = runner.run_report("demo", current)  # the current month, to date
    assert again.status == "complete", again.error
    trend = json.loads((again.run_dir / "report.json").read_text())["sections"]["defender"]["rows"]
    assert all(r["previous score %"] is not None for r in trend)
    assert [r.month for r in EvidenceStore("demo").reports()] == [last.label, current]
    assert EvidenceStore("demo").verify() == []


def test_the_command_prints_where_the_html_is_and_a_bad_month_exits_2(sandbox, evidence_dir, params_dir, capsys):
    assert main(["report", "demo", "--month", "2026-13"]) == 2
    err = capsys.readouterr().err
    assert "--month 2026-13: not a month. Fix: give it as YYYY-MM" in err and "\n" not in err.strip()
    assert EvidenceStore("demo").runs() == []  # nothing ran
    assert main(["report", "demo"]) == 0
    out = capsys.readouterr().out
    assert f"report {month_of('').label} of 'demo': complete" in out
    assert "-report-" in out and "/monthly-report.html" in out
    assert "PDF: " in out or "apt-get install chromium" in out
