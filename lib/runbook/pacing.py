"""Client-side pacing of ARM writes per subscription, so many workers share ARM's limits without a stampede.

ARM throttles per subscription with a token bucket and answers 429 + Retry-After. Letting every worker
retry on its own makes them all wake together and fail together until their retry budgets run out.
Here the workers of one subscription share a pacer: a 429 pauses all of them for Retry-After and halves
the send rate; each success raises it a little (additive increase, multiplicative decrease).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError


@dataclass
class _Lane:
    rate: float
    next_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pacer:
    """Per-subscription send rate with a shared pause after throttling."""

    def __init__(self, start_rate: float = 50.0, min_rate: float = 0.5, max_rate: float = 500.0, step: float = 1.0) -> None:
        self.start_rate, self.min_rate, self.max_rate, self.step = start_rate, min_rate, max_rate, step
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self.throttled = 0
        self.retried_errors = 0

    def _lane(self, key: str) -> _Lane:
        with self._lock:
            return self._lanes.setdefault(key, _Lane(self.start_rate))

    def acquire(self, key: str) -> None:
        """Wait for this subscription's next send slot."""
        lane = self._lane(key)
        with lane.lock:
            now = time.monotonic()
            at = max(now, lane.next_at)
            lane.next_at = at + 1.0 / lane.rate
        if at > now:
            time.sleep(at - now)

    def succeeded(self, key: str) -> None:
        """A call went through: speed up a little."""
        lane = self._lane(key)
        with lane.lock:
            lane.rate = min(self.max_rate, lane.rate + self.step)

    def throttled_for(self, key: str, retry_after: float) -> None:
        """ARM said 429: everyone on this subscription waits, and the rate halves."""
        lane = self._lane(key)
        with lane.lock:
            self.throttled += 1
            lane.rate = max(self.min_rate, lane.rate / 2)
            lane.next_at = max(lane.next_at, time.monotonic() + retry_after)

    def rate(self, key: str) -> float:
        """Current send rate of a subscription (calls per second)."""
        return self._lane(key).rate


def retry_after_seconds(exc: HttpResponseError, default: float = 1.0) -> float:
    """The wait an ARM error asks for (retry-after-ms, x-ms-retry-after-ms or Retry-After)."""
    headers = {k.lower(): v for k, v in (exc.response.headers.items() if exc.response is not None else [])}
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0), ("retry-after", 1.0)):
        if headers.get(name):
            try:
                return float(headers[name]) / scale
            except ValueError:
                continue
    return default


TRANSIENT = (500, 502, 503, 504, 408)


def paced_call(pacer: Pacer, key: str, call, max_errors: int = 5, deadline_s: float = 3600.0):
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
                pacer.throttled_for(key, retry_after_seconds(exc))
                continue
            if exc.status_code in TRANSIENT and errors < max_errors:
                errors += 1
                pacer.retried_errors += 1
                time.sleep(min(8.0, retry_after_seconds(exc, 0.2 * 2 ** errors)))
                continue
            raise
        except (ServiceRequestError, ServiceResponseError):
            if errors >= max_errors:
                raise
            errors += 1
            pacer.retried_errors += 1
            time.sleep(min(8.0, 0.2 * 2 ** errors))
            continue
        pacer.succeeded(key)
        return out
