"""What every connector shares: one system at one base URL over an httpx client, its credential read only when the
first call needs it, the waits a throttling system asks for, and every refusal as one line (the system, what failed,
the fix) raised as an `errors.Connector*` error. A connector reads; it writes only what its `writes` names (Partner
Center: a customer's usage budget, set by the configuring step s2-partner-center-budget from its apply, through the
same `call()`); a PUT, PATCH or DELETE by a connector that names nothing is refused before it is sent."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ...errors import (
    ConnectorCredentialError,
    ConnectorNotFound,
    ConnectorTargetError,
    ConnectorThrottled,
    ConnectorUnreachable,
    SecretError,
)

M = TypeVar("M", bound=BaseModel)


class Connector:
    """One external system. Subclasses set `system`, `settings`, implement `auth` and `reachable`, and may refine
    how a refusal reads (`explain`) and how long a throttled call waits (`wait_for`)."""

    system = ""  # how people name it: "HubSpot"
    settings = ""  # where its MSP-wide settings live, for the fixes: "msp.connectors.hubspot"
    credential_name = "credential"  # what the secret is called in the fixes: "private app token"
    attempts = 4  # a throttled or briefly unavailable call is tried this often in all
    longest_wait = 30.0  # seconds; a system asking for longer is reported as throttling, not waited for
    writes: tuple[str, ...] = ()  # what it may change in the system, in words; empty: it only reads

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        credential: Callable[[], str],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http, self.url, self._credential, self.sleep = http, url.rstrip("/"), credential, sleep
        self._secret: str | None = None
        self.last_headers: Mapping[str, str] = {}  # of the last answer (e.g. the rate-limit headers it carried)

    # --- what a subclass provides ------------------------------------------------------------------------------
    def auth(self, secret: str) -> dict[str, str]:
        """The request headers that carry the credential."""
        raise NotImplementedError

    def reachable(self) -> str:
        """One cheap read proving the URL answers and the credential is accepted: what it proved, in words. Raises
        the connector's errors otherwise (the preflight shows them)."""
        raise NotImplementedError

    def explain(self, resp: httpx.Response) -> str:
        """The system's own words for a refusal (status, code, message), one line."""
        return f"{resp.status_code} {resp.text.strip()[:200]}".strip()

    def wait_for(self, resp: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying a throttled (429) or unavailable (502-504) call again, None to give up:
        the answer's Retry-After, else a short back-off."""
        after = retry_after(resp.headers.get("Retry-After"))
        return after if after is not None else min(self.longest_wait, 0.5 * 2**attempt)

    def credential_fix(self) -> str:
        """How to fix a refused credential."""
        return f"give {self.settings} a valid {self.credential_name}"

    # --- shared --------------------------------------------------------------------------------------------------
    def secret(self) -> str:
        """The credential, read from its store on first use (never shown)."""
        if self._secret is None:
            self._secret = self.read_credential()
        return self._secret

    def read_credential(self) -> str:
        """The credential's text as its store holds it now (not kept); a store that cannot give it raises
        ConnectorCredentialError naming the fix."""
        try:
            return self._credential()
        except SecretError as exc:
            raise ConnectorCredentialError(
                f"{self.system}: cannot read its {self.credential_name} ({exc}). Fix: {self.credential_fix()}"
            ) from None

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request (`what` says it in words for the errors), waiting out throttling; 401/403 raise
        ConnectorCredentialError, nothing answering ConnectorUnreachable, throttling past the waits
        ConnectorThrottled. Any other status is returned for the caller to judge."""
        if method.upper() in ("PUT", "PATCH", "DELETE") and not self.writes:
            raise AssertionError(f"{self.system}: this connector only reads; it may not {method} {path}")
        url = f"{self.url}{path}"
        for attempt in range(self.attempts):
            try:
                resp = self.http.request(
                    method, url, params=params, json=json, headers={**self.auth(self.secret()), **(headers or {})}
                )
            except httpx.TransportError as exc:
                raise self.unreachable(what, exc) from None
            if not self.retry(resp, what, attempt):
                return resp
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def retry(self, resp: httpx.Response, what: str, attempt: int) -> bool:
        """Judge one answer of the `attempt`-th try: True when it was throttled (429) or unavailable (502-504) and the
        wait it asks for has been slept (try again); 401/403 raise ConnectorCredentialError, throttling past the
        waits ConnectorThrottled; False for any other answer, which the caller judges."""
        self.last_headers = resp.headers
        if resp.status_code in (429, 502, 503, 504):
            wait = self.wait_for(resp, attempt)
            if wait is not None and wait <= self.longest_wait and attempt + 1 < self.attempts:
                self.sleep(wait)
                return True
            raise ConnectorThrottled(
                f"{self.system}: cannot {what}: it kept answering {resp.status_code} after {attempt + 1} attempt(s) ({self.explain(resp)}). Fix: run the item again later; if it persists, lower the load on the {self.system} account's limits"
            )
        if resp.status_code in (401, 403):
            raise ConnectorCredentialError(
                f"{self.system}: cannot {what}: it refused the {self.credential_name} ({self.explain(resp)}). Fix: {self.credential_fix()}"
            )
        return False

    def unreachable(self, what: str, exc: Exception) -> ConnectorUnreachable:
        """No answer at all (DNS, TCP, TLS), as one line."""
        first = str(exc).splitlines()[0] if str(exc) else ""
        return ConnectorUnreachable(
            f"{self.system}: cannot {what}: {self.url} cannot be reached ({type(exc).__name__}: {first}). Fix: check {self.settings}.url and the network"
        )

    def not_found(self, resp: httpx.Response, what: str, fix: str) -> ConnectorNotFound:
        """A 404 for an id the runbook was given, as one line with the fix."""
        return ConnectorNotFound(f"{self.system}: cannot {what}: {self.explain(resp)}. Fix: {fix}")

    def unexpected(self, resp: httpx.Response, what: str) -> ConnectorTargetError:
        """An answer outside what the runbook expects of the system."""
        return ConnectorTargetError(
            f"{self.system}: cannot {what}: it answered {self.explain(resp)}. Fix: check {self.settings}.url points at the {self.system} API"
        )

    def json(self, resp: httpx.Response, what: str) -> Any:
        """The answer's JSON, or ConnectorTargetError when it is not JSON."""
        try:
            return resp.json()
        except ValueError:
            raise self.unexpected(resp, what) from None

    def model(self, model: type[M], data: Any, resp: httpx.Response, what: str) -> M:
        """A record of the answer as its typed model; an answer of another shape is ConnectorTargetError."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = exc.errors()
            where = ".".join(str(p) for p in problems[0]["loc"]) if problems else ""
            why = problems[0]["msg"] if problems else str(exc)
            raise ConnectorTargetError(
                f"{self.system}: cannot {what}: its answer ({resp.status_code}) is not a {model.__name__} ({where}: {why}). Fix: check {self.settings}.url points at the {self.system} API"
            ) from None


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number (fractions allowed) or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
