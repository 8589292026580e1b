"""Issue 22: the Partner Center budget in a real stage 2 run (papermill, the sandbox): `runbook run --show-plan` shows
the planned change value for value in a dry run, `--apply` sets it and the run's results and journal record it like
the Azure changes, and the next run plans nothing."""

import json

import pytest

from runbook.cli import main
from runbook.evidence import archive as evidence

pytestmark = pytest.mark.notebooks
TARGET = "partner-center:/customers/6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10/usagebudget"


def test_stage2_shows_the_budget_plan_applies_it_on_request_and_then_has_nothing_to_do(
    sandbox, evidence_dir, params_dir, capsys
):
    assert main(["run", "demo", "--stage", "2", "--force", "--show-plan"]) == 3  # incomplete: the budgets are planned
    out = capsys.readouterr().out
    assert f"      planned set the usage budget: {TARGET}" in out
    assert "          amount: 3000.0 -> 4500.0" in out
    assert sandbox.service("partner_center").customers[TARGET.split("/")[2]]["budget"] == 3000
    assert main(["run", "demo", "--stage", "2", "--force", "--apply", "--show-plan"]) in (0, 3)  # forced
    out = capsys.readouterr().out
    assert f"      applied set the usage budget: {TARGET}" in out
    assert main(["run", "demo", "--stage", "2", "--force", "--apply"]) in (0, 3)
    runs = evidence.runs("demo")
    items = [{i["item_id"]: i for i in json.loads((d / "results.json").read_text())["items"]} for d in runs]
    dry, applied, again = (run["s2-partner-center-budget"] for run in items)
    assert dry["status"] == "open" and dry["planned"] and not dry["applied"]
    assert applied["status"] == "fulfilled" and applied["applied"][0]["target"] == TARGET
    assert again["status"] == "fulfilled" and again["planned"] == [] and again["applied"] == []
    assert all(run["s2-csp-contract"]["status"] == "fulfilled" for run in items)
    journal = (runs[1] / "journal.jsonl").read_text()
    assert f'"target": "{TARGET}"' in journal and '"kind": "change"' in journal
    assert evidence.verify("demo") == []
