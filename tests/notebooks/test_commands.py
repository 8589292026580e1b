"""The README's commands as a new user runs them: `runbook sandbox serve` and `runbook demo`."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from runbook import PROJECT_ROOT
from runbook.adapters.clients import Clients, sandbox_target
from tests.conftest import DEMO_SECRET_STORE

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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0
    assert not (tmp_path / "connection.json").exists() and not (tmp_path / "client-secret").exists()


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
    time.monotonic()
    out = subprocess.run([*RUNBOOK, "demo"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    for n in range(4):
        assert f"stage {n}: complete" in out.stdout
    assert "stage 4: incomplete - 6 fulfilled, 1 open" in out.stdout
    assert re.search(r"s4-first-invoice\s+CSM\s+open", out.stdout) and "(verified)" in out.stdout
    assert "Kernel is running over TCP" not in out.stderr
