"""Executable onboarding runbook for Azure managed services."""
from pathlib import Path

__version__ = "0.1.0"

#: The project root: notebooks, parameters and evidence are found from here, never from the cwd.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
