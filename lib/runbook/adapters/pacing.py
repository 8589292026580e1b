"""Shared waiting for ARM throttling per subscription, so many workers respect ARM's limits together.

ARM throttles per subscription with a token bucket and answers 429 + Retry-After. If every worker
retries on its own (the SDK's policy), they keep hitting an empty bucket and exhaust their retry
budgets. Here the workers of one subscription share a gate: a 429 closes it for Retry-After for all of
them, while the bucket refills; then they go again at full speed. Measured against the floor of ARM's
refill rate in benchmarks/tagging.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

T = TypeVar("T")


class _Targeted(Protocol):
    target: str  # an ARM id: /subscriptions/<id>/...


C = TypeVar("C", bound=_Targeted)
log = logging.getLogger(__name__)


class Pacer:
    """Per-subscription gates that a 429 closes for everyone until its Retry-After has passed."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.clock, self.sleep = clock, sleep  # injectable: tests drive a fake clock
        self._open_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.throttled = 0
        self.retried_errors = 0

    def acquire(self, key: str) -> None:
        """Wait until this subscription's gate is open."""
        while True:
            with self._lock:
                wait = self._open_at.get(key, 0.0) - self.clock()
            if wait <= 0:
                return
            self.sleep(wait)

    def throttled_for(self, key: str, retry_after: float) -> None:
        """ARM said 429: close the gate for everyone on this subscription."""
        with self._lock:
            self.throttled += 1
            self._open_at[key] = max(self._open_at.get(key, 0.0), self.clock() + retry_after)


def retry_after_seconds(exc: HttpResponseError, default: float = 1.0) -> float:
    """The wait an ARM error asks for (Retry-After first, as azure-core reads it, then the millisecond forms)."""
    headers = {k.lower(): v for k, v in (exc.response.headers.items() if exc.response is not None else [])}  # type: ignore[attr-defined]
    for name, scale in (("retry-after", 1.0), ("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0)):
        if headers.get(name):
            try:
                return float(headers[name]) / scale
            except ValueError:
                continue
    return default


TRANSIENT = (500, 502, 503, 504, 408)


def paced_call(pacer: Pacer, key: str, call: Callable[[], T], max_errors: int = 5, deadline_s: float = 3600.0) -> T:
    """Run `call()` through the pacer: 429s wait and retry without limit (until the deadline),
    transient 5xx and connection errors retry up to `max_errors` times with backoff."""
    errors = 0
    start = time.monotonic()
    while True:
        pacer.acquire(key)
        try:
            out = call()
        except HttpResponseError as exc:
            if exc.status_code == 429 and time.monotonic() - start < deadline_s:
                log.debug("throttled on %s: waiting %.1f s", key, retry_after_seconds(exc))
                pacer.throttled_for(key, retry_after_seconds(exc))
                continue
            if exc.status_code in TRANSIENT and errors < max_errors:
                errors += 1
                pacer.retried_errors += 1
                log.info("transient %s on %s, retry %d of %d", exc.status_code, key, errors, max_errors)
                time.sleep(min(8.0, retry_after_seconds(exc, 0.2 * 2**errors)))
                continue
            raise
        except (ServiceRequestError, ServiceResponseError):
            if errors >= max_errors:
                raise
            errors += 1
            pacer.retried_errors += 1
            time.sleep(min(8.0, 0.2 * 2**errors))
            continue
        return out


def interleave_by_subscription(changes: list[C]) -> list[C]:
    """Round-robin the changes over subscriptions, so every subscription's write budget is used at once."""
    lanes: dict[str, list[C]] = {}
    for c in changes:
        lanes.setdefault(c.target.split("/")[2].lower(), []).append(c)
    out: list[C] = []
    queues = list(lanes.values())
    for i in range(max((len(q) for q in queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out
