"""The sandbox tenant: a local, stateful HTTPS emulator of Azure Resource Manager, Entra ID tokens and Graph.

Public API: `Sandbox` (start/stop, a context manager; one per state folder, else `SandboxBusy`), `Connection` (what a client needs; written as
`<state_dir>/connection.json`), `Faults` (throttling, latency, errors, drops), `load_fixture`.
`python -m azure_sandbox serve --fixture FILE` serves one from the command line. This package never imports the
runbook; the runbook reaches it only through the connection file.
"""

from .core.faults import Faults
from .fixtures import load_fixture
from .server import Connection, Sandbox, SandboxBusy

__all__ = ["Connection", "Faults", "Sandbox", "SandboxBusy", "load_fixture"]
