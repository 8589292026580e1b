"""Faults and limits the sandbox can be told to show: throttling, latency, errors, dropped connections."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Faults:
    """Switchable per run; every random choice comes from `seed`, so runs repeat."""

    latency_ms: float = 0.0  # added to every ARM and Graph call
    error_rate: float = 0.0  # share of calls answered 503
    drop_rate: float = 0.0  # share of calls whose connection is closed without an answer
    throttle: bool = False  # ARM-style token buckets per subscription
    read_capacity: int = 250  # ARM's documented bucket sizes and refill rates per second
    read_refill: float = 25.0
    write_capacity: int = 200  # deletes have a bucket of the same size of their own, as in ARM
    write_refill: float = 10.0
    lro_polls: int = 1  # polls answered "in progress" before a long-running operation ends
    lro_retry_after: float = 1.0  # seconds sent as Retry-After on LRO answers (0 would make clients fall back to 30 s)
    lro_fail_types: list[str] = field(default_factory=list)  # resource types whose LROs end Failed
    error_retry_after: float = 0.0  # Retry-After sent with injected 503s
    fractional_retry_after: bool = False  # ARM sends whole seconds; tests may ask for exact fractions
    identity_replication: int = 0  # role assignments naming a new managed identity refused (PrincipalNotFound) first
    cost_management_qpu: bool = False  # Cost Management's Query QPU quotas per tenant (12 / 10 s, 60 / min, 600 / h)
    seed: int = 0

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Faults:
        """Build from a dict, rejecting unknown switches."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown fault switch(es): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)


class TokenBucket:
    """A refilling bucket of request tokens, as ARM's throttling algorithm describes."""

    def __init__(self, capacity: int, refill_per_s: float, clock=time.monotonic) -> None:
        self.capacity = capacity
        self.refill = refill_per_s
        self.tokens = float(capacity)
        self.clock = clock
        self.stamp = clock()

    def take(self) -> tuple[bool, int, float]:
        """Take one token: (allowed, tokens remaining, seconds until a token is available)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, int(self.tokens), 0.0
        return False, 0, (1 - self.tokens) / self.refill


class FaultState:
    """Faults in force plus the random generator and buckets they drive."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        """Switch to new faults, resetting buckets and the random sequence."""
        with self._lock:
            self.faults = faults
            self.rng = random.Random(faults.seed)
            self.buckets: dict[tuple[str, str], TokenBucket] = {}

    def roll(self) -> str | None:
        """Decide whether this call is dropped or fails: 'drop', 'error' or None."""
        f = self.faults
        with self._lock:
            r = self.rng.random()
        if r < f.drop_rate:
            return "drop"
        if r < f.drop_rate + f.error_rate:
            return "error"
        return None

    def take(self, scope: str, kind: str) -> tuple[bool, int, float]:
        """Take a token for a read, write or delete on a subscription; always allowed when throttling is off."""
        f = self.faults
        if not f.throttle:
            return True, (f.read_capacity if kind == "reads" else f.write_capacity) - 1, 0.0
        with self._lock:
            bucket = self.buckets.get((scope, kind))
            if bucket is None:
                cap, refill = (
                    (f.read_capacity, f.read_refill) if kind == "reads" else (f.write_capacity, f.write_refill)
                )
                bucket = self.buckets[(scope, kind)] = TokenBucket(cap, refill)
            return bucket.take()


def retry_after_headers(seconds: float, fractional: bool = False) -> dict[str, str]:
    """Retry-After in whole seconds, as ARM sends it; exact fractions only when tests ask for them."""
    value = f"{max(0.0, seconds):.3f}" if fractional else str(max(0, math.ceil(seconds)))
    return {"Retry-After": value}
