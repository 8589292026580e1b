"""The README's commands as a new user runs them: `runbook sandbox serve` and `runbook demo`."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import PROJECT_ROOT
from runbook.adapters import azurite
from runbook.adapters.clients import Clients, sandbox_target
from tests.conftest import DEMO_SECRET_STORE, copy_msp_settings

pytestmark = pytest.mark.notebooks
RUNBOOK = [sys.executable, "-m", "runbook.cli"]


def test_sandbox_serve_prints_its_endpoint_and_serves_the_sdk(tmp_path):
    proc = subprocess.Popen(
        [*RUNBOOK, "sandbox", "serve", "--state-dir", str(tmp_path), "--throttle"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("sandbox tenant 'demo' serving at https://127.0.0.1:")
        conn = json.loads((tmp_path / "connection.json").read_text())
        assert first.split(" at ")[1].strip() == conn["url"]
        assert oct((tmp_path / "client-secret").stat().st_mode & 0o777) == "0o600"
        subs = [
            s.display_name
            for s in Clients(sandbox_target(tmp_path / "connection.json")).subscriptions().subscriptions.list()
        ]
        assert subs == ["Contoso Production", "Contoso Development", "Contoso Shared Services"]
        banner = [proc.stdout.readline() for _ in range(7)]
        # issue 28: the banner names the fixture's subscriptions and the runbook's principal
        assert sum("subscription   : 1a2b3c4d-" in line for line in banner) == 3
        assert any(f"runbook        : app {conn['client_id']}, principal 9a2e4c61-" in line for line in banner)
        # issue 28: a second sandbox in the same folder refuses, naming the first; the first keeps serving
        second = subprocess.run(
            [*RUNBOOK, "sandbox", "serve", "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1 and second.stdout == ""
        assert f"a sandbox already serves from {tmp_path} (pid {proc.pid}, {conn['url']})" in second.stderr
        assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
        assert json.loads((tmp_path / "connection.json").read_text()) == conn  # untouched
        assert Clients(sandbox_target(tmp_path / "connection.json")).subscriptions().subscriptions.list()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0
    assert not (tmp_path / "connection.json").exists() and not (tmp_path / "client-secret").exists()
    assert not (tmp_path / "sandbox.pid").exists()


def test_demo_command_runs_every_stage_and_verifies_evidence(tmp_path):
    env = {
        **os.environ,
        "RUNBOOK_EVIDENCE_DIR": str(tmp_path / "evidence"),
        "RUNBOOK_PARAMETERS_DIR": str(tmp_path / "parameters"),
    }
    (tmp_path / "parameters").mkdir()
    demo = (
        (PROJECT_ROOT / "parameters" / "demo.yml")
        .read_text()
        .replace(DEMO_SECRET_STORE, f"secret_store: {{file: {tmp_path / 'app-secret'}}}")
    )
    (tmp_path / "parameters" / "demo.yml").write_text(demo)
    copy_msp_settings(tmp_path / "parameters", push="auto")  # every run pushed to the demo's Azurite archive
    # `--serve`: the sandbox keeps the onboarded tenant afterwards, and `runbook drift demo` (issue 26) finds no drift
    with subprocess.Popen(
        [*RUNBOOK, "demo", "--serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as demo:
        assert demo.stdout is not None and demo.stderr is not None
        lines = []
        for line in demo.stdout:  # until the demo says the sandbox keeps serving (or it ends)
            lines.append(line)
            if "keeps serving the onboarded tenant" in line:
                break
        try:
            assert demo.poll() is None, "".join(lines)[-2000:] + demo.stderr.read()[-2000:]
            drift = subprocess.run([*RUNBOOK, "drift", "demo"], env=env, capture_output=True, text=True, timeout=600)
            assert drift.returncode == 0, drift.stdout[-2000:] + drift.stderr[-2000:]
            assert "unchanged" in drift.stdout
            if azurite.executable() is not None:  # issue 23: the evidence archive while the demo serves
                _check_the_demos_archive(env, tmp_path / "evidence" / "demo")
        finally:
            demo.send_signal(signal.SIGTERM)
            rest, err = demo.communicate(timeout=60)
    out = subprocess.CompletedProcess(demo.args, demo.returncode, "".join(lines) + rest, err)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(list((tmp_path / "evidence" / "demo").glob("*-drift-*/results.json"))) == 1
    for n in range(5):  # stage 4 too: s4-first-invoice is checked in the sandbox's Exact Online
        assert f"stage {n}: complete" in out.stdout
    assert re.search(r"s4-first-invoice\s+CSM\s+fulfilled", out.stdout) and "(verified)" in out.stdout
    # issue 22: Stage 3 generated the customer documentation from the evidence, sealed in its run
    assert re.search(r"s3-documentation\s+Engineer\s+fulfilled", out.stdout)
    assert len(list((tmp_path / "evidence" / "demo").glob("*-stage3-*/customer-documentation.docx"))) == 1
    # issue 26: the first monthly report (last month) right after Stage 2, so Stage 3's s3-parc-report is fulfilled
    assert re.search(r"report \d{4}-\d{2} of 'demo': complete", out.stdout)
    assert re.search(r"s3-parc-report\s+Engineer\s+fulfilled", out.stdout)
    assert len(list((tmp_path / "evidence" / "demo").glob("*-report-*/monthly-report.html"))) == 1
    assert "Kernel is running over TCP" not in out.stderr
    if azurite.executable() is not None:  # every run of the demo pushed, and the archive checked against the chain
        assert re.search(
            r"pushed 'demo' to https://127\.0\.0\.1:\d+/devstoreaccount1/evidence-intercept: 6 sealed", out.stdout
        )
        assert "evidence archive: verified against the local chain" in out.stdout


def _check_the_demos_archive(env: dict, evidence: Path) -> None:
    """Issue 23 on the served demo: the drift run was pushed at its end (push: auto), `verify --remote` passes; a run
    deleted locally is named; a blob edited in the archive is named."""
    from azure.identity import ClientSecretCredential
    from azure.storage.blob import BlobServiceClient

    from runbook.adapters.blobstore import InTenant

    ok = subprocess.run([*RUNBOOK, "evidence", "verify", "demo", "--remote"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    conn = json.loads((PROJECT_ROOT / ".sandbox" / "connection.json").read_text())
    url = json.loads((PROJECT_ROOT / ".sandbox" / "azurite.json").read_text())["url"]
    stage0 = sorted(evidence.glob("*-stage0-*"))[0]
    kept = stage0.with_name(stage0.name + ".moved")
    stage0.rename(kept)
    try:
        gone = subprocess.run(
            [*RUNBOOK, "evidence", "verify", "demo", "--remote"], env=env, capture_output=True, text=True
        )
        assert gone.returncode == 1
        assert (
            f"FAIL {stage0.name}: in the archive (evidence-intercept) but missing from the local evidence"
            in gone.stdout
        )
    finally:
        kept.rename(stage0)
    credential = ClientSecretCredential(
        conn["msp_tenant_id"],
        conn["client_id"],
        Path(conn["secret_path"]).read_text().strip(),
        authority=conn["url"],
        disable_instance_discovery=True,
        connection_verify=conn["ca_path"],
    )
    with BlobServiceClient(
        url, credential=InTenant(credential, conn["msp_tenant_id"]), connection_verify=conn["ca_path"]
    ) as svc:
        svc.get_blob_client("evidence-intercept", f"demo/{stage0.name}/results.json").upload_blob(b"{}", overwrite=True)
    edited = subprocess.run(
        [*RUNBOOK, "evidence", "verify", "demo", "--remote"], env=env, capture_output=True, text=True
    )
    assert edited.returncode == 1
    assert (
        f"FAIL the archive (evidence-intercept): {stage0.name}/results.json was changed after archiving"
        in edited.stdout
    )


def test_preflight_on_the_sandbox_and_an_app_without_the_graph_permission(sandbox, params_dir, capsys):
    """Issue 21: `runbook preflight demo` is ready on the demo tenant; without Application.ReadWrite.All it exits 3
    naming the permission and the stage it blocks; it changes nothing."""
    from runbook.cli import main

    before = len(sandbox.state.arm)
    assert main(["preflight", "demo"]) == 0
    out = capsys.readouterr().out
    assert "OK       graph permission" in out and out.count("OK       access ") == 3 and out.strip().endswith("ready")
    sandbox.state.graph_permissions[sandbox.conn.client_id.lower()] = {"Directory.Read.All"}
    assert main(["preflight", "demo", "--format", "json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert any("Application.ReadWrite.All" in p for p in report["stages"]["1"]) and report["stages"]["0"] == []
    assert len(sandbox.state.arm) == before


def test_preflight_names_a_subscription_that_grants_nothing(sandbox, params_dir, capsys):
    from runbook.cli import main
    from tests.conftest import DEMO_SUBS

    for key in [
        k
        for k in sandbox.state.arm
        if k.startswith(f"/subscriptions/{DEMO_SUBS[1]}/providers/microsoft.authorization/roleassignments/")
    ]:
        del sandbox.state.arm[key]
    assert main(["preflight", "demo"]) == 3
    out = capsys.readouterr().out
    assert f"MISSING  access {DEMO_SUBS[1]}" in out and f"OK       access {DEMO_SUBS[0]}" in out


def test_preflight_probes_the_vault_for_writing_without_writing(sandbox, vault_params, capsys):
    """Issue 21: the secret store reachable and writable, probed with a secret that does not exist (Key Vault checks
    RBAC first: 404 for a writer, 403 ForbiddenByRbac for anyone else), and the credentials Stage 3 looks up."""
    from runbook.cli import main

    secrets_before = {k: len(v["versions"]) for k, v in sandbox.state.vault_secrets.items()}
    assert main(["preflight", "demo"]) == 0
    out = capsys.readouterr().out
    assert "lets the runbook write secrets" in out and "OK       credential Contoso firewall admin" in out
    vault = sandbox.state.vaults["kv-intercept-runbook"]
    vault["roles"] = {oid: [] for oid in vault["roles"]}  # the runbook's Key Vault Secrets Officer is gone
    assert main(["preflight", "demo", "--format", "json"]) == 3
    report = json.loads(capsys.readouterr().out)
    store = next(c for c in report["checks"] if c["what"] == "secret store")
    assert store["state"] == "missing" and "403 Forbidden ForbiddenByRbac" in store["detail"]
    assert "Fix: give the runbook's principal the Key Vault Secrets Officer role" in store["detail"]
    assert store["blocks"] == [1]
    after = {k: len(v["versions"]) for k, v in sandbox.state.vault_secrets.items()}
    assert after == secrets_before  # the probe wrote nothing


def test_preflight_says_an_environment_variable_cannot_take_a_new_secret(sandbox, vault_params, capsys):
    from runbook.cli import main

    text = (vault_params / "demo.yml").read_text()
    (vault_params / "demo.yml").write_text(text.replace(DEMO_SECRET_STORE, "secret_store: {env: DEMO_APP_SECRET}"))
    assert main(["preflight", "demo"]) == 3
    out = capsys.readouterr().out
    assert "MISSING  secret store" in out and "an environment variable is read-only" in out


def test_a_claim_left_by_a_sandbox_that_is_gone_is_taken_over(tmp_path):
    """A sandbox killed hard leaves sandbox.pid behind; the next start takes the folder over (its process is gone)."""
    from azure_sandbox import Sandbox, SandboxBusy

    dead = subprocess.Popen(["true"])  # a process that has exited: its pid names nobody now
    dead.wait()
    (tmp_path / "sandbox.pid").write_text(json.dumps({"pid": dead.pid, "url": "https://127.0.0.1:1"}))
    first = Sandbox(PROJECT_ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml", tmp_path)
    first.start()
    try:
        with pytest.raises(SandboxBusy) as exc:  # a second one in this very process is refused too
            Sandbox(PROJECT_ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml", tmp_path).start()
        assert f"pid {os.getpid()}" in str(exc.value) and first.connection.url in str(exc.value)
    finally:
        first.stop()
    assert not (tmp_path / "sandbox.pid").exists()


def test_runbook_run_prints_one_line_per_item_and_no_papermill_log(sandbox, params_dir, evidence_dir, capsys):
    """Issue 28: every item line was printed twice (the step's provisional result and the notebook's final one), and
    papermill's "Executing Cell N" lines reached stderr without --log-output."""
    from runbook.cli import main

    assert main(["run", "demo", "--stage", "0"]) == 0
    out, err = capsys.readouterr()
    items = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("  ") and ": " in line]
    assert items == ["s0-signed-sla", "s0-msp-authorized"], out
    assert "Executing Cell" not in err and "INFO" not in err, err
    assert main(["run", "demo", "--stage", "0", "--log-output"]) == 0
    assert "Executing Cell" in capsys.readouterr().err  # asked for: all of it


def test_runbook_run_item_reruns_one_item_with_the_stage_gate_and_evidence(sandbox, params_dir, evidence_dir, capsys):
    """Issue 28: `runbook run <c> --stage N --item <id>` (the stage may be left out) re-runs one item; its run holds
    that item alone, so the stage's other items keep their evidence; the gate is the stage's."""
    from runbook.cli import main
    from runbook.evidence import EvidenceStore, status

    assert main(["run", "demo", "--stage", "1", "--item", "s1-monitoring-alerting"]) == 3  # gate: stage 0 not done
    assert "stage 0" in capsys.readouterr().err
    assert main(["run", "demo", "--stage", "0"]) == 0
    capsys.readouterr()
    assert main(["run", "demo", "--item", "s1-monitoring-alerting", "--apply"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "stage 1, item s1-monitoring-alerting: complete - 1 fulfilled" in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("  ")] == ["s1-monitoring-alerting:"]
    run = EvidenceStore("demo").runs()[-1]
    results = json.loads((run / "results.json").read_text())
    assert [i["item_id"] for i in results["items"]] == ["s1-monitoring-alerting"] and results[
        "item"
    ] == "s1-monitoring-alerting"
    latest = status.latest("demo")
    assert latest["s1-monitoring-alerting"].result.status == "fulfilled" and "s1-tag-managed-resources" not in latest
    assert EvidenceStore("demo").verify() == []
    assert main(["run", "demo", "--stage", "0", "--item", "s1-monitoring-alerting"]) == 2
    assert "belongs to stage 1, not stage 0" in capsys.readouterr().err
    assert main(["run", "demo", "--item", "s9-nothing"]) == 2
