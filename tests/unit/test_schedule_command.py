"""`runbook schedule` (issue 26, part 3): the crontab / systemd timer lines that run `drift --all` and each customer's
monthly report, made from the customers' parameter files, for an existing scheduler."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from runbook.cli import main


def edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def customers(params_dir, monkeypatch, tmp_path):
    """demo (report on the 5th), acme (no report schedule), broken (parameters that do not validate); the paths of
    parameters and evidence as a test (and a cron job) sets them."""
    text = (params_dir / "demo.yml").read_text()
    (params_dir / "acme.yml").write_text(text.replace("customer: demo\n", "customer: acme\n", 1))
    edit(params_dir / "acme.yml", lambda d: d.pop("report"))
    (params_dir / "broken.yml").write_text(text.replace("customer: demo\n", "customer: broken\n", 1))
    edit(params_dir / "broken.yml", lambda d: d.update(tier="Platinum"))
    monkeypatch.setenv("RUNBOOK_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.delenv("RUNBOOK_SANDBOX", raising=False)
    return params_dir


def test_cron_runs_drift_first_then_each_scheduled_report_and_names_the_customers_without_one(customers, capsys):
    assert main(["schedule"]) == 0
    out = capsys.readouterr().out
    jobs = [line for line in out.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(jobs) == 2, out
    drift, report = jobs
    # m h dom mon dow: drift on the 1st at 05:00, demo's report on its day_of_month (5) at 05:00
    assert drift.split()[:5] == ["0", "5", "1", "*", "*"]
    assert "runbook drift --all >>" in drift and "logs/runbook-drift.log 2>&1" in drift
    assert report.split()[:5] == ["0", "5", "5", "*", "*"] and "runbook report demo >>" in report
    assert "# acme: no report job: no report schedule in its parameters" in out
    assert re.search(r"# broken: no report job: its parameters do not validate \(.+\)", out)
    # the folders in force go with the job (paths only), so the job finds the same parameters and evidence
    assert f"RUNBOOK_PARAMETERS_DIR={customers}" in out.splitlines()
    assert "RUNBOOK_SANDBOX" not in out
    # nothing personal: the recipients are counted, not named
    assert "Dana Director" not in out and "(2 recipient(s))" in out


def test_a_report_on_the_drift_day_runs_an_hour_after_it(customers, capsys):
    edit(customers / "demo.yml", lambda d: d["report"].update(day_of_month=1))
    assert main(["schedule", "--at", "22:30"]) == 0
    jobs = [line.split()[:3] for line in capsys.readouterr().out.splitlines() if re.match(r"^\d", line)]
    assert jobs == [["30", "22", "1"], ["30", "23", "1"]]
    assert main(["schedule", "--at", "23:15"]) == 0
    jobs = [line.split()[:3] for line in capsys.readouterr().out.splitlines() if re.match(r"^\d", line)]
    assert jobs == [["15", "23", "1"], ["15", "23", "2"]]


def test_systemd_gives_a_service_and_a_persistent_monthly_timer_per_job(customers, capsys):
    assert main(["schedule", "--format", "systemd", "--drift-day", "2"]) == 0
    out = capsys.readouterr().out
    files = re.findall(r"^# --- ~/.config/systemd/user/(\S+)$", out, re.M)
    assert files == [
        "runbook-drift.service",
        "runbook-drift.timer",
        "runbook-report-demo.service",
        "runbook-report-demo.timer",
    ]
    assert re.findall(r"^OnCalendar=(.+)$", out, re.M) == ["*-*-02 05:00:00", "*-*-05 05:00:00"]
    assert out.count("Persistent=true") == 2 and out.count("Type=oneshot") == 2
    assert "systemctl --user enable --now runbook-drift.timer runbook-report-demo.timer" in out
    exec_lines = re.findall(r"^ExecStart=(.+)$", out, re.M)
    assert "runbook drift --all" in exec_lines[0] and "runbook report demo" in exec_lines[1]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_timers_calendar_is_one_systemd_accepts(customers, capsys):
    assert main(["schedule", "--format", "systemd"]) == 0
    for spec in re.findall(r"^OnCalendar=(.+)$", capsys.readouterr().out, re.M):
        done = subprocess.run(["systemd-analyze", "calendar", spec], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["schedule", "--at", "25:00"], "--at must be HH:MM (00:00 to 23:59), not '25:00'"),
        (["schedule", "--at", "5"], "--at must be HH:MM"),
        (["schedule", "--drift-day", "31"], "--drift-day must be 1 to 28 (every month has it), not 31"),
    ],
)
def test_bad_times_are_refused_before_anything(customers, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
