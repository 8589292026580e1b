"""`runbook schedule`: the lines an existing scheduler needs to run the months after onboarding, never a scheduler of
our own.

Two kinds of job, from the customers' parameter files:

* **drift** for every customer (`runbook drift --all`), monthly on `drift_day` (default the 1st) at `at` (default
  05:00), before any report of the month, so each report's "changes" section finds that month's drift run;
* **the PARC report** of each customer with a report schedule (`report: {day_of_month, recipients}`), on its day at
  an hour after the drift (`runbook report <customer>`: last month by default). A customer without a schedule, or
  whose parameters do not validate, is a comment naming why (the jobs of the others are still printed).

Formats: `cron` (a crontab; `crontab -e` and paste) and `systemd` (a user service + timer pair per job:
`OnCalendar=`, `Persistent=true` so a missed run is made up after the machine was off). Both run in the project
home with the `RUNBOOK_*` folders in force when the lines were made (paths only: no secret is in the environment the
runbook reads, and none is written here), and append each job's output to `<home>/logs/`.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .. import PROJECT_ROOT
from ..customer.params import load, parameters_dir
from ..errors import ParameterError

#: the environment a job needs to find the same parameters, evidence and sandbox (paths only)
PATH_VARIABLES = ("RUNBOOK_HOME", "RUNBOOK_PARAMETERS_DIR", "RUNBOOK_EVIDENCE_DIR", "RUNBOOK_SANDBOX")
FORMATS = ("cron", "systemd")


@dataclass(frozen=True)
class Job:
    """One scheduled command: a name (the systemd unit's), its day of the month and time, the runbook arguments."""

    name: str
    day: int
    hour: int
    minute: int
    args: tuple[str, ...]
    about: str


def customers() -> list[str]:
    """Every customer with a parameter file (as `runbook drift --all` finds them)."""
    return sorted(
        p.stem for p in parameters_dir().glob("*.yml") if p.stem != "msp" and not p.stem.startswith("template")
    )


def _time(at: str) -> tuple[int, int]:
    try:
        hour, minute = (int(x) for x in at.split(":"))
    except ValueError:
        hour = minute = -1
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"--at must be HH:MM (00:00 to 23:59), not '{at}'")
    return hour, minute


def jobs(at: str = "05:00", drift_day: int = 1) -> tuple[list[Job], list[str]]:
    """The jobs of the customers' parameter files, and a note per customer without a report job (why)."""
    if not 1 <= drift_day <= 28:
        raise ValueError(f"--drift-day must be 1 to 28 (every month has it), not {drift_day}")
    hour, minute = _time(at)
    out = [Job("runbook-drift", drift_day, hour, minute, ("drift", "--all"), "drift re-verification of every customer")]
    notes = []
    for customer in customers():
        try:
            params = load(customer)
        except ParameterError as exc:
            first = str(exc).splitlines()[0]
            notes.append(f"{customer}: no report job: its parameters do not validate ({first})")
            continue
        if params.report is None:
            notes.append(
                f"{customer}: no report job: no report schedule in its parameters (report: {{day_of_month, recipients}})"
            )
            continue
        day, later = params.report.day_of_month, hour
        if day == drift_day:  # an hour after the drift on the same day (the next day after 23:00)
            day, later = (day, hour + 1) if hour < 23 else (day % 28 + 1, hour)
        out.append(
            Job(
                f"runbook-report-{customer}",
                day,
                later,
                minute,
                ("report", customer),
                f"{customer}'s monthly PARC report of the month before ({len(params.report.recipients)} recipient(s))",
            )
        )
    return out, notes


def _environment() -> dict[str, str]:
    return {k: os.environ[k] for k in PATH_VARIABLES if os.environ.get(k)}


def _runbook() -> str:
    """The runbook command of this installation (the venv's script beside this interpreter, else `runbook`)."""
    script = Path(sys.executable).parent / "runbook"
    return str(script) if script.exists() else "runbook"


def _header(fmt: str, notes: list[str]) -> list[str]:
    lines = [
        f"# runbook schedule ({fmt}), made {date.today().isoformat()} for {PROJECT_ROOT}",
        "# drift first, then each customer's report on its day; output appended to logs/<job>.log",
    ]
    return lines + [f"# {n}" for n in notes]


def cron(job_list: list[Job], notes: list[str]) -> str:
    """A crontab: the environment lines, then one line per job."""
    home = str(PROJECT_ROOT)
    lines = [*_header("cron", notes), "SHELL=/bin/sh"]
    lines += [f"{k}={v}" for k, v in _environment().items()]
    lines.append("# m  h  dom mon dow  command")
    for j in job_list:
        command = " ".join(shlex.quote(a) for a in (_runbook(), *j.args))
        log = shlex.quote(f"{home}/logs/{j.name}.log")
        lines.append(f"# {j.about}")
        lines.append(
            f"{j.minute:<2} {j.hour:<2} {j.day:<3} *   *    cd {shlex.quote(home)} && mkdir -p logs && {command} >> {log} 2>&1"
        )
    return "\n".join(lines) + "\n"


def systemd(job_list: list[Job], notes: list[str]) -> str:
    """A user service and timer per job, each headed by the file it goes into (then `systemctl --user daemon-reload`
    and `systemctl --user enable --now <name>.timer`)."""
    home = str(PROJECT_ROOT)
    where = "~/.config/systemd/user"
    lines = _header("systemd", notes)
    env = [f"Environment={shlex.quote(f'{k}={v}')}" for k, v in _environment().items()]
    for j in job_list:
        command = " ".join(shlex.quote(a) for a in (_runbook(), *j.args))
        lines += [
            "",
            f"# --- {where}/{j.name}.service",
            "[Unit]",
            f"Description={j.about}",
            "",
            "[Service]",
            "Type=oneshot",
            f"WorkingDirectory={home}",
            *env,
            f"ExecStart=/bin/sh -c {shlex.quote(f'mkdir -p logs && {command} >> logs/{j.name}.log 2>&1')}",
            "",
            f"# --- {where}/{j.name}.timer",
            "[Unit]",
            f"Description=monthly: {j.about}",
            "",
            "[Timer]",
            f"OnCalendar=*-*-{j.day:02d} {j.hour:02d}:{j.minute:02d}:00",
            "Persistent=true",
            "",
            "[Install]",
            "WantedBy=timers.target",
        ]
    names = " ".join(f"{j.name}.timer" for j in job_list)
    lines += ["", f"# then: systemctl --user daemon-reload && systemctl --user enable --now {names}"]
    return "\n".join(lines) + "\n"


def render(fmt: str = "cron", at: str = "05:00", drift_day: int = 1) -> str:
    """The schedule in `fmt` (ValueError for a bad format, time or day: the CLI's exit 2)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    job_list, notes = jobs(at, drift_day)
    return cron(job_list, notes) if fmt == "cron" else systemd(job_list, notes)
