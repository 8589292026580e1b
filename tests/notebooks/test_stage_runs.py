"""The real stage notebooks run through papermill against the sandbox, and their evidence is archived."""

import json

import nbformat
import pytest
import yaml

from runbook import runner
from runbook.cli import main
from runbook.customer import params
from runbook.evidence import archive as evidence
from runbook.evidence import status

pytestmark = pytest.mark.notebooks
FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def files_of(run_dir):
    return sorted(p.name for p in run_dir.iterdir())


def test_stage0_archives_notebook_html_results_and_manifest(sandbox, evidence_dir):
    out = runner.run_stage("demo", 0)
    assert out.status == "complete" and out.exit_code == 0
    assert files_of(out.run_dir) == [
        "00-prerequisites.html",
        "00-prerequisites.ipynb",
        "journal.jsonl",
        "manifest.json",
        "results.json",
    ]
    results = json.loads((out.run_dir / "results.json").read_text())
    assert [(i["item_id"], i["status"]) for i in results["items"]] == [
        ("s0-signed-sla", "fulfilled"),
        ("s0-msp-authorized", "fulfilled"),
    ]
    assert results["items"][1]["observed"] and results["apply"] is False and results["runbook_version"]
    html = (out.run_dir / "00-prerequisites.html").read_text()
    assert "session.run(" not in html and "run_id = " not in html and "Intercept is authorized" in html
    nb = nbformat.read(out.run_dir / "00-prerequisites.ipynb", as_version=4)
    assert nb.metadata.papermill.input_path == "notebooks/00-prerequisites.ipynb"
    assert evidence.verify("demo") == []


def test_all_stages_in_order_with_evidence_chain(sandbox, evidence_dir, params_dir):
    outcomes = runner.run_all("demo", apply=True, stages=[0, 1, 2])
    # issue 26: the first monthly report (last month) before Stage 3, whose s3-parc-report finds it, as `runbook demo`
    report = runner.run_report("demo")
    assert report.status == "complete", report.error
    outcomes += runner.run_all("demo", apply=True, stages=[3, 4])
    # s4-first-invoice is checked in the sandbox's Exact Online: the first invoice carries the agreed pricing
    assert [o.status for o in outcomes] == ["complete", "complete", "complete", "complete", "complete"]
    assert outcomes[-1].exit_code == 0
    df = status.table("demo")
    assert (df.status == "fulfilled").sum() == 40 and df.set_index("item").loc["s4-first-invoice"].status == "fulfilled"
    assert status.checklist(params.load("demo")).count("[x]") == 40
    assert evidence.verify("demo") == []
    manifests = [json.loads((d / "manifest.json").read_text()) for d in evidence.runs("demo")]
    assert [m["previous_manifest"]["run_id"] if m["previous_manifest"] else None for m in manifests] == [None] + [
        m["run_id"] for m in manifests[:-1]
    ]
    assert [m["run_id"] for m in manifests][3] == report.run_id  # the report run is in the chain


def test_gate_blocks_until_forced(sandbox, evidence_dir, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["attestations"]["s0-signed-sla"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    assert runner.run_stage("demo", 0).status == "incomplete"
    with pytest.raises(runner.StageGateError) as exc:
        runner.run_stage("demo", 1)
    assert "s0-signed-sla (open)" in str(exc.value)
    assert main(["run", "demo", "--stage", "1"]) == 3  # the CLI reports a closed gate as "stage incomplete"
    forced = runner.run_stage("demo", 1, force=True)
    results = json.loads((forced.run_dir / "results.json").read_text())
    assert results["forced"] is True and results["blocking_items"] == ["s0-signed-sla (open)"]
    assert "FORCED" in (forced.run_dir / "01-technical-onboarding.html").read_text()


def test_failed_run_keeps_partial_evidence(sandbox, evidence_dir):
    out = runner.run_stage("demo", 0, notebook=FIXTURES / "fails-midway.ipynb")
    assert out.status == "failed" and "simulated failure" in out.error and out.exit_code == 1
    results = json.loads((out.run_dir / "results.json").read_text())
    assert [(i["item_id"], i["status"]) for i in results["items"]] == [
        ("s0-signed-sla", "fulfilled"),
        ("s0-msp-authorized", "not-verified"),
    ]
    assert results["items"][1]["summary"] == "the run failed before this item"
    assert (out.run_dir / "fails-midway.ipynb").exists() and (out.run_dir / "fails-midway.html").exists()
    assert evidence.verify("demo") == []


def test_unreachable_sandbox_fails_the_run_with_a_clear_error(sandbox, evidence_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("RUNBOOK_SANDBOX", str(tmp_path / "nothing-here.json"))
    out = runner.run_stage("demo", 0)
    item = next(r for r in out.items if r.item_id == "s0-msp-authorized")  # recorded as failed: the summary is whole
    assert out.status == "incomplete" and out.exit_code == runner.EXIT_INCOMPLETE
    assert (
        item.status == "failed" and "no sandbox is running" in item.summary and "runbook sandbox serve" in item.summary
    )
    assert evidence.scan_files([out.run_dir / "00-prerequisites.ipynb"], out.run_dir) == []


def test_secret_in_an_output_is_refused(sandbox, evidence_dir):
    secret = __import__("pathlib").Path(sandbox.conn.secret_path).read_text()
    with pytest.raises(evidence.EvidenceError) as exc:
        runner.run_stage("demo", 0, notebook=FIXTURES / "leaks-secret.ipynb")
    assert "refused to archive" in str(exc.value) and "Entra ID client secret" in str(exc.value)
    (run_dir,) = evidence.runs("demo")
    assert files_of(run_dir) == ["journal.jsonl", "manifest.json", "results.json"]  # the journal holds no output
    assert json.loads((run_dir / "results.json").read_text())["status"] == "refused"
    for f in run_dir.iterdir():
        assert secret not in f.read_text()


def test_cli_run_status_checklist(sandbox, evidence_dir, capsys):
    assert main(["run", "demo", "--stage", "0"]) == 0
    assert "stage 0: complete" in capsys.readouterr().out
    assert main(["status", "demo", "--format", "json"]) == 3
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 40 and rows[0]["status"] == "fulfilled"
    assert main(["checklist", "demo"]) == 0
    assert "   - [x] CSM >> Sales received a signed SLA" in capsys.readouterr().out
    assert main(["evidence", "verify", "demo"]) == 0


def test_stage1_twice_with_apply_then_nothing_to_do(sandbox, evidence_dir, params_dir, capsys):
    assert main(["run", "demo", "--stage", "0"]) == 0
    assert main(["run", "demo", "--stage", "1", "--apply"]) == 0
    assert main(["run", "demo", "--stage", "1", "--apply"]) == 0
    first, second = [json.loads((d / "results.json").read_text()) for d in evidence.runs("demo")[1:]]
    automated = ["s1-app-registration", "s1-tag-managed-resources", "s1-monitoring-alerting"]
    by_id = lambda run: {i["item_id"]: i for i in run["items"]}  # noqa: E731
    for item in automated:
        assert by_id(first)[item]["status"] == "fulfilled" and by_id(first)[item]["applied"], item
        assert by_id(second)[item]["status"] == "fulfilled" and by_id(second)[item]["planned"] == [], item
    assert (params_dir / "demo.resources.xlsx").exists()
    secret = (params_dir.parent / "secrets" / "demo-app-secret").read_text()
    sandbox_secret = __import__("pathlib").Path(sandbox.conn.secret_path).read_text()
    for run_dir in evidence.runs("demo"):
        for f in run_dir.iterdir():
            text = f.read_text()
            assert secret not in text and sandbox_secret not in text, f
            assert evidence.scan_text(text, f.name) == [], f
    assert evidence.verify("demo") == []


def test_sheet_command_generates_then_checks(sandbox, params_dir, capsys):
    assert main(["sheet", "demo"]) == 0
    assert "57 managed" in capsys.readouterr().out
    from openpyxl import load_workbook

    wb = load_workbook(params_dir / "demo.resources.xlsx")
    wb["Resources"]["J3"] = "Maybe"
    wb.save(params_dir / "demo.resources.xlsx")
    assert main(["sheet", "demo"]) == 2
    assert "row 3: Managed is 'Maybe'" in capsys.readouterr().err


def test_log_output_streams_progress_lines(sandbox, evidence_dir, params_dir, caplog, capsys):
    assert main(["run", "demo", "--stage", "0"]) == 0
    assert main(["run", "demo", "--stage", "1", "--apply", "--log-output"]) == 0
    assert "tagging [####################] 50/50" in caplog.text
    assert "  | tagging [####################] 50/50" in capsys.readouterr().err


def test_a_run_prints_each_item_and_the_progress_of_long_steps_by_default(sandbox, evidence_dir, params_dir, capsys):
    assert main(["run", "demo", "--stage", "0"]) == 0
    assert main(["run", "demo", "--stage", "1", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "  | tagging [####################] 50/50" in out  # the bar, not the rest of the kernel's output
    assert "  fulfilled    s1-tag-managed-resources:" in out and "  fulfilled    s0-msp-authorized:" in out
    assert out.index("s1-app-registration:") < out.index("stage 1: complete")


def test_batch_run_goes_on_past_a_bad_customer(sandbox, evidence_dir, params_dir, capsys):
    (params_dir / "broken.yml").write_text(
        (params_dir / "demo.yml")
        .read_text()
        .replace("customer: demo", "customer: broken")
        .replace("tier: Full Stack", "tier: Gold")
    )
    # in this process, one after another (--workers 1; tests/notebooks/test_batch.py runs batches on Dask)
    assert main(["run", "broken", "demo", "--stage", "0", "--workers", "1"]) == 2
    out = capsys.readouterr()
    assert "== demo" in out.out and "stage 0: complete" in out.out
    assert "broken.yml: field 'tier'" in out.err
    assert len(evidence.runs("demo")) == 1 and evidence.runs("broken") == []
    assert main(["run", "demo", "--stage", "9"]) == 2


def test_real_target_path_with_a_custom_cloud(sandbox, evidence_dir, params_dir):
    """target: azure, as for a customer, with the sandbox registered as a custom cloud (like az cloud register)."""
    text = (params_dir / "demo.yml").read_text().replace("target: sandbox", "target: azure")
    text += (
        f"cloud: {{name: custom, arm_endpoint: '{sandbox.url}', authority: '{sandbox.url}', ca_bundle: '{sandbox.conn.ca_path}'}}\n"
        f"credential: {{client_id: {sandbox.conn.client_id}, client_secret: {{file: '{sandbox.conn.secret_path}'}}}}\n"
    )
    (params_dir / "demo.yml").write_text(text)
    p = params.load("demo")
    assert p.target == "azure" and p.cloud.name == "custom" and p.credential.client_secret.file
    out = runner.run_stage("demo", 0)
    assert out.status == "complete", out.error
    dry = runner.run_stage("demo", 1)  # Graph and ARM through the same real-target path, nothing applied
    assert {r.item_id: r.status for r in dry.items}["s1-app-registration"] == "open"
    secret = __import__("pathlib").Path(sandbox.conn.secret_path).read_text()
    assert all(secret not in f.read_text() for d in evidence.runs("demo") for f in d.iterdir())


def test_cloud_settings_are_validated(params_dir):
    text = (params_dir / "demo.yml").read_text()
    (params_dir / "demo.yml").write_text(text + "cloud: {name: custom}\n")
    with pytest.raises(params.ParameterError, match="a custom cloud needs arm_endpoint and authority"):
        params.load("demo")
    (params_dir / "demo.yml").write_text(text + "cloud: {name: AzureUSGovernment, arm_endpoint: 'https://x'}\n")
    with pytest.raises(params.ParameterError, match="endpoints are fixed for AzureUSGovernment"):
        params.load("demo")


def test_evidence_html_is_headed_by_the_run_facts(sandbox, evidence_dir):
    out = runner.run_stage("demo", 0)
    page = (out.run_dir / "00-prerequisites.html").read_text()
    head = page[: page.find("</table>")]
    for fact in (
        out.run_id,
        "runbook_version",
        "parameters_sha256",
        runner.parameters_hash("demo"),
        "machine",
        "finished_at",
    ):
        assert fact in head, fact
    assert "...</td>" not in page and ">None<" not in head


def test_a_stage_whose_step_lacks_its_parameters_stops_before_any_azure_call(sandbox, evidence_dir, params_dir):
    text = (params_dir / "demo.yml").read_text()
    (params_dir / "demo.yml").write_text(text.replace("alerts: {email: alerts@intercept.example}\n", ""))
    before = sandbox.stats()
    with pytest.raises(params.ParameterError) as err:
        runner.run_stage("demo", 1, force=True)
    assert "field 'alerts' is missing; s1-monitoring-alerting needs it" in str(err.value)
    assert sandbox.stats() == before and evidence.runs("demo") == []


def test_a_bad_resource_sheet_stops_stage1_before_any_azure_call(sandbox, evidence_dir, params_dir, capsys):
    assert main(["sheet", "demo"]) == 0
    from openpyxl import load_workbook

    wb = load_workbook(params_dir / "demo.resources.xlsx")
    wb["Resources"]["J3"] = "Maybe"
    wb.save(params_dir / "demo.resources.xlsx")
    before = sandbox.stats()
    assert main(["run", "demo", "--stage", "1", "--force"]) == 2
    assert "row 3: Managed is 'Maybe'" in capsys.readouterr().err
    assert sandbox.stats() == before and evidence.runs("demo") == []


def test_a_premium_customer_gets_the_policy_baseline_but_not_the_full_stack_items(sandbox, evidence_dir, params_dir):
    """Stage 3 for a Premium customer: the policy baseline is deployed (its Premium members), backup, patching and
    infrastructure as code are not-required; the notebook shows the agreed schedule section all the same."""
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["tier"] = "Premium"
    for key in ("backup", "patching", "iac"):
        data.pop(key, None)
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    assert main(["run", "demo", "--stage", "1", "--apply", "--force"]) in (0, 3)  # the resource sheet, the tags
    out = runner.run_stage("demo", 3, apply=True, force=True)
    by_id = {r["item_id"]: r for r in json.loads((out.run_dir / "results.json").read_text())["items"]}
    for item in ("s3-backup-deployed", "s3-patching-deployed", "s3-iac-pushed", "s3-backup-discussed"):
        assert by_id[item]["status"] == "not-required", item
    assert by_id["s3-azure-policy"]["status"] == "fulfilled", by_id["s3-azure-policy"]["summary"]
    assert "VmBackup" not in json.dumps(by_id["s3-azure-policy"]["observed"])  # a Full Stack member
    html = (out.run_dir / "03-managed-services.html").read_text()
    assert "No backup or patch schedule" in html


def test_a_subscription_that_grants_nothing_does_not_sink_stage1(sandbox, evidence_dir, params_dir):
    """Issue 21: one of three subscriptions grants the MSP nothing; Stage 1 with --apply --force tags the others'
    resources, configures their monitoring, names the refused subscription, and no cell ends in a traceback."""
    from tests.conftest import DEMO_SUBS

    refused = DEMO_SUBS[1]
    for key in [
        k
        for k in sandbox.state.arm
        if k.startswith(f"/subscriptions/{refused}/providers/microsoft.authorization/roleassignments/")
    ]:
        del sandbox.state.arm[key]
    out = runner.run_stage("demo", 1, apply=True, force=True)
    assert out.error == "" and out.status == "incomplete", out.error
    nb = nbformat.read(out.run_dir / "01-technical-onboarding.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    sheet_cell = next(c for c in nb.cells if c.source == "session.resource_sheet()")
    assert refused in json.dumps(sheet_cell.outputs)  # the sheet names the subscription it could not read
    items = {i.item_id: i for i in out.items}
    for item in ("s1-tag-managed-resources", "s1-monitoring-alerting"):
        r = items[item]
        assert r.status == "failed" and any(refused in m for m in r.missing), (item, r.summary)
        assert r.applied and {c.target.split("/")[2] for c in r.applied} == {DEMO_SUBS[0], DEMO_SUBS[2]}, item
    assert any(refused in m for m in items["s1-app-registration"].missing)
    assert evidence.verify("demo") == []
