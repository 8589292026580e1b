"""Executable onboarding runbook for Azure managed services."""

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("msp-runbook")  # single source: pyproject.toml
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

HOME_ENV = "RUNBOOK_HOME"
_SOURCE_CHECKOUT = Path(__file__).resolve().parents[2]


def project_home() -> Path:
    """Where the runbook's working files live (parameters/, evidence/, notebooks/, .sandbox/, .secrets/):
    $RUNBOOK_HOME; else the current directory when it holds parameters/; else the source checkout this package
    runs from (an editable install); else the current directory."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).resolve()
    cwd = Path.cwd()
    if (cwd / "parameters").is_dir():
        return cwd.resolve()
    if (_SOURCE_CHECKOUT / "parameters").is_dir() and (_SOURCE_CHECKOUT / "lib" / "runbook").is_dir():
        return _SOURCE_CHECKOUT
    return cwd.resolve()


#: The project home, fixed when the package is imported: notebooks, parameters and evidence are found from here.
PROJECT_ROOT = project_home()

from ._moved import install as _install_moved  # noqa: E402 (after PROJECT_ROOT: nothing moved needs it earlier)

_install_moved()
