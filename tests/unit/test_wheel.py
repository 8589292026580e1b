"""The package works installed as a wheel, outside the source tree: a fresh venv, the built wheel, a project home
that holds only parameters/, and `runbook checklist demo`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from runbook import PROJECT_ROOT

pytestmark = pytest.mark.wheel


def test_built_wheel_runs_from_outside_the_source_tree(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(PROJECT_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(dist.glob("msp_runbook-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for data in (
        "runbook/data/catalogue.yml",
        "runbook/data/baseline_alerts.yml",
        "runbook/data/sandbox-demo.yml",
        "runbook/data/policy_baseline.yml",
        "azure_sandbox/providers/data/policy_builtins.yml",
    ):
        assert data in names, f"{data} is not in the wheel"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies come from this test environment's site-packages (offline, fast); the runbook from the wheel
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inst.returncode == 0, inst.stderr[-2000:]
    home = tmp_path / "home"
    (home / "parameters").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "parameters" / "demo.yml", home / "parameters" / "demo.yml")
    shutil.copy(PROJECT_ROOT / "parameters" / "msp.yml", home / "parameters" / "msp.yml")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import runbook; print(runbook.__file__, runbook.__version__, runbook.PROJECT_ROOT)",
        ],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    module, version, root = where.stdout.split()
    assert (
        module.startswith(str(site))
        and version == (PROJECT_ROOT / "VERSION").read_text().strip()
        and Path(root) == home.resolve()
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "runbook.cli", "checklist", "demo"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode in (0, 3), out.stderr[-2000:]
    assert "- [ ] CSM >> Sales received a signed SLA" in out.stdout
