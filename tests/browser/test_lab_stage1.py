"""Stage 1 stepped through by hand in JupyterLab, in a real browser: what the engineer sees, cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "01-technical-onboarding.ipynb"
PARAMETERS = 'customer = "demo"'
SESSION = "notebook.start("
APP_REGISTRATION = 'session.run("s1-app-registration")'


def test_dry_run_session_and_item_card(lab_sandbox, open_notebook):
    nb = open_notebook(NOTEBOOK)
    nb.screenshot("opened")

    params = nb.cell(PARAMETERS)
    nb.run(params)
    session = nb.cell(SESSION)
    out = nb.run(session)
    nb.screenshot("session", session)
    assert "Run settings" in out and "DRY RUN" in out, out
    assert "UNREACHABLE" not in out, out
    signed_in = re.search(r"Signed in as\s+(.+)", out)
    assert signed_in and re.match(r"principal [0-9a-f-]{36} ", signed_in.group(1)), out

    item = nb.cell(APP_REGISTRATION)
    out = nb.run(item)
    nb.screenshot("s1-app-registration", item)
    card = item.locator(".runbook-item[data-item='s1-app-registration']")
    assert card.count() == 1, out
    status = card.locator(".runbook-status").inner_text().strip()
    assert status in {"open", "fulfilled", "not-required"}, out
    assert card.locator(".runbook-mode").inner_text().strip() == "DRY RUN", out

    # the engineer switches to apply mode by editing the parameters cell; the session reads `apply` at each display
    nb.edit(params, "apply = False", "apply = True")
    nb.run(params)
    out = nb.run(session)
    nb.screenshot("apply-mode", session)
    assert "APPLY: changes will be made" in out and "DRY RUN" not in out, out


def test_unreachable_sandbox_is_named_with_its_fix(no_sandbox, open_notebook):
    nb = open_notebook(NOTEBOOK)
    nb.run(nb.cell(PARAMETERS))
    session = nb.cell(SESSION)
    out = nb.run(session)
    nb.screenshot("session-unreachable", session)
    assert "UNREACHABLE" in out and "runbook sandbox serve" in out, out

    item = nb.cell(APP_REGISTRATION)
    out = nb.run(item)
    nb.screenshot("item-unreachable", item)
    assert "runbook sandbox serve" in out, out
    # the item is recorded as failed (the summary stays complete) and its card says why, with the fix
    assert item.locator(".runbook-item[data-status='failed']").count() == 1, out
    assert ("no sandbox is running" if no_sandbox == "missing" else "could not be reached") in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) < 5, f"{len(lines)} lines where a short error was expected:\n{out}"


MONITORING = 'session.run("s1-monitoring-alerting")'
MONITORING_APPLY = 'session.apply_reviewed("s1-monitoring-alerting")'


def test_apply_goes_through_the_reviewed_plan_and_is_on_the_record(lab_sandbox, open_notebook, lab):
    """Stage 0 first (its gate), then Stage 1 in apply mode: the item cell plans, the apply cell applies what was
    shown, and finishing seals the session's evidence, marked interactive."""
    import json

    nb0 = open_notebook("00-prerequisites.ipynb")
    nb0.run_all_and_wait()
    assert "2 fulfilled" in nb0.output(nb0.cell("session.finish()")), nb0.output(nb0.cell("session.finish()"))

    nb = open_notebook(NOTEBOOK)
    params = nb.cell(PARAMETERS)
    nb.edit(params, "apply = False", "apply = True")
    nb.run(params)
    out = nb.run(nb.cell(SESSION))
    assert "APPLY" in out and "Stage gate" in out and "passed" in out, out
    nb.run(nb.cell("session.resource_sheet()"))
    plan_cell = nb.cell(MONITORING)
    out = nb.run(plan_cell)
    nb.screenshot("monitoring-plan", plan_cell)
    assert plan_cell.locator(".runbook-item[data-status='open'] .runbook-changes").count() == 1, out
    assert "apply_reviewed" in out, out  # the card says how to apply what it shows
    apply_cell = nb.cell(MONITORING_APPLY)
    out = nb.run(apply_cell)
    nb.screenshot("monitoring-applied", apply_cell)
    card = apply_cell.locator(".runbook-item[data-item='s1-monitoring-alerting']")
    assert card.get_attribute("data-status") == "fulfilled", out
    assert card.locator(".runbook-mode").inner_text().strip() == "APPLY", out

    summary = nb.cell("session.finish()")
    out = nb.run(summary)
    nb.screenshot("summary", summary)
    assert "evidence of this session" in out, out
    evidence = Path(lab.env["RUNBOOK_EVIDENCE_DIR"]) / "demo"
    sealed = [
        json.loads((d / "results.json").read_text())
        for d in sorted(evidence.iterdir())
        if (d / "results.json").exists()
    ]
    stage1 = [r for r in sealed if r["stage"] == 1]
    assert stage1 and stage1[-1]["interactive"] is True and stage1[-1]["apply"] is True
    record = next(i for i in stage1[-1]["items"] if i["item_id"] == "s1-monitoring-alerting")
    assert record["status"] == "fulfilled" and record["applied"]


def test_a_stale_plan_is_not_applied(lab_sandbox, open_notebook):
    """The plan is shown, then the tenant changes (someone creates the monitoring resource group): the apply cell
    applies nothing and names the difference."""
    nb = open_notebook(NOTEBOOK)
    params = nb.cell(PARAMETERS)
    nb.edit(params, "forced = False", "forced = True")  # no Stage 0 evidence in this test: past the gate, on record
    nb.edit(params, "apply = False", "apply = True")
    nb.run(params)
    nb.run(nb.cell(SESSION))
    nb.run(nb.cell("session.resource_sheet()"))
    out = nb.run(nb.cell(MONITORING))
    assert "create resource group" in out or "Planned" in out, out
    clients = lab_sandbox.clients()
    sub = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"
    clients.resource(sub).resource_groups.create_or_update("rg-intercept-monitoring", {"location": "westeurope"})
    apply_cell = nb.cell(MONITORING_APPLY)
    out = nb.run(apply_cell)
    nb.screenshot("stale-refused", apply_cell)
    assert apply_cell.locator(".runbook-item[data-status='failed']").count() == 1, out
    assert "the tenant changed since the plan was shown" in out and "nothing was applied" in out, out


def test_the_review_shows_values_pins_the_parameters_counts_every_item_and_links_the_evidence(
    lab_sandbox, open_notebook, lab
):
    """Issue 28, as the engineer sees it: the monitoring plan shows the e-mail receivers it will write; after the
    parameter file is edited the apply is refused with the fix; the summary counts the open item as open (and the
    items not run); the summary's evidence link opens the evidence page."""
    nb = open_notebook(NOTEBOOK)
    params = nb.cell(PARAMETERS)
    nb.edit(params, "forced = False", "forced = True")  # no Stage 0 evidence in this test: past the gate, on record
    nb.edit(params, "apply = False", "apply = True")
    nb.run(params)
    out = nb.run(nb.cell(SESSION))
    assert "Preflight" in out, out  # the preflight's verdict, its checks folded
    nb.run(nb.cell("session.resource_sheet()"))
    plan_cell = nb.cell(MONITORING)
    nb.run(plan_cell)
    plan_cell.locator(".runbook-changes > details > summary").first.click()
    values = plan_cell.locator("details.runbook-values").first
    values.locator("summary").click()
    nb.screenshot("plan-values", plan_cell)
    assert "alerts@intercept.example" in values.inner_text(), values.inner_text()

    demo = Path(lab.env["RUNBOOK_PARAMETERS_DIR"]) / "demo.yml"
    text = demo.read_text()
    demo.write_text(text.replace("alerts@intercept.example", "noc@intercept.example"))
    try:
        out = nb.run(nb.cell(MONITORING_APPLY))
        nb.screenshot("apply-refused-parameters")
        assert "nothing was applied" in out and "run the session cell again" in out, out
    finally:
        demo.write_text(text)

    summary = nb.cell("session.finish()")
    out = nb.run(summary)
    nb.screenshot("summary-counts", summary)
    assert "Stage 1 summary: 5 item(s)" in out and "1 open" in out and "4 not run" in out, out
    link = summary.locator("a", has_text="evidence of this session")
    href = link.get_attribute("href") or ""
    # JupyterLab resolves the link from the notebook's folder to a file under its root (/files/<path>): served
    from urllib.parse import unquote, urlparse

    target = unquote(urlparse(href).path).split("/files/", 1)[-1]
    assert target.startswith("evidence/demo/") and target.endswith(".html"), href
    served = lab.api("GET", f"/api/contents/{target}?content=1&format=text")
    assert served["type"] == "file" and "s1-monitoring-alerting" in served["content"], target
    link.click()  # JupyterLab opens it in a tab of its own
    tab = nb.page.locator(".lm-TabBar-tab", has_text=Path(target).name)
    tab.first.wait_for(timeout=30_000)
    nb.screenshot("evidence-opened")
