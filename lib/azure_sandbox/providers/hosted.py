"""Stand-ins for the MSP's own SaaS systems that the runbook's connectors read (HubSpot, TOPdesk, ...), each served
at its own host name under the sandbox's domain and routed by the Host header (like Passwordstate). A stand-in keeps
its own state (not the tenant's `State`: these systems are not Azure), its own credentials (generated at start and
written 0600 beside the connection file) and its own faults (switched at `PUT /_sandbox/services/<name>`).

A new stand-in is a module with a `HostedService` subclass and a line in `services.SERVICES`."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..core.http import Request, Response

if TYPE_CHECKING:
    from ..core.identity import TokenIssuer
    from ..core.state import State


class HostedService:
    """One stand-in: the host names it answers, its state, the credentials a client needs, its fault switches."""

    name = ""  # its key in the fixture's `msp:` block, in the stats and in the control path

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls = 0

    @classmethod
    def from_fixture(cls, data: dict | None) -> HostedService:
        """The stand-in seeded from its block of the fixture (None: an empty system)."""
        raise NotImplementedError

    def attach(self, state: State, tokens: TokenIssuer) -> None:
        """Called once by the app: a stand-in that takes the sandbox's Entra tokens (Partner Center) keeps what it
        needs to check them (the signer, the MSP's tenant); the others ignore it."""

    def hosts(self) -> list[str]:
        """The host names it answers (the connection file lists them; the certificate covers them)."""
        raise NotImplementedError

    def serves(self, host: str) -> bool:
        """Whether a Host header names this stand-in."""
        return host.split(":")[0].lower() in self.hosts()

    def credentials(self) -> dict[str, str]:
        """File name -> secret a client needs (written 0600 beside the connection file, never in it)."""
        return {}

    def handle(self, req: Request) -> Response:
        """Answer one request (never raises)."""
        raise NotImplementedError

    def control(self, switches: dict[str, Any]) -> dict[str, Any]:
        """Set fault switches; returns those in force (ValueError names an unknown switch)."""
        if switches:
            raise ValueError(f"{self.name} has no fault switches")
        return {}
