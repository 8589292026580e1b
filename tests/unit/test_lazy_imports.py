"""The `runbook` command answers at once: importing the CLI must not pull the heavy libraries, which load only in
the commands that need them (issue 14; benchmarks/cli_start.py measures the effect)."""

import subprocess
import sys

HEAVY = (
    "pandas",
    "nbformat",
    "papermill",
    "nbconvert",
    "azure.identity",
    "azure.mgmt.resource",
    "azure.core",
    "openpyxl",
)


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_importing_the_cli_loads_none_of_the_heavy_libraries():
    loaded = imported_after("import runbook.cli")
    assert not [m for m in HEAVY if m in loaded]


def test_help_and_parameter_validation_stay_light():
    loaded = imported_after(
        "import runbook.cli as c, contextlib, io; "
        "f = io.StringIO(); "
        "exec('try:\\n with contextlib.redirect_stdout(f): c.main([\"--help\"])\\nexcept SystemExit: pass'); "
        "c.main(['params', 'validate', 'demo'])"
    )
    assert not [m for m in ("pandas", "nbformat", "papermill", "nbconvert", "azure.mgmt.resource") if m in loaded]
