"""Faults: the real SDK clients survive ARM throttling and 503 bursts with the waits the sandbox asks for."""

import time

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from tests.conftest import DEMO_SUBS

SUB = DEMO_SUBS[0]


def tag_all(clients, n: int) -> int:
    rc = clients.resource(SUB)
    ids = [r.id for r in rc.resources.list()][:n]
    for rid in ids:
        rc.tags.begin_update_at_scope(rid, {"operation": "Merge", "properties": {"tags": {"storm": "yes"}}}).result()
    return len(ids)


def test_429_storm_is_survived_with_retry_after(sandbox, clients):
    # a small write bucket refilling fast: many 429s, each asking for a short wait
    sandbox.set_faults(throttle=True, write_capacity=3, write_refill=10.0, fractional_retry_after=True)
    start = time.monotonic()
    done = tag_all(clients, 15)
    elapsed = time.monotonic() - start
    stats = sandbox.stats()
    assert done == 15 and stats["throttled"] >= 5
    assert elapsed < 10
    rc = clients.resource(SUB)
    assert sum(1 for r in rc.resources.list(filter="tagName eq 'storm'")) == 15


def test_429_carries_arm_headers_and_body(sandbox):
    from tests.contract.http import Raw

    raw = Raw(sandbox)
    sandbox.set_faults(throttle=True, read_capacity=2, read_refill=0.5)
    path = f"/subscriptions/{SUB}/resourceGroups?api-version=2025-04-01"
    codes = [raw("GET", path) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[0].headers["x-ms-ratelimit-remaining-subscription-reads"] == "1"
    throttled = codes[2]
    assert (
        int(throttled.headers["Retry-After"]) >= 1
        and throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    )
    assert throttled.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    raw.close()


def test_503_burst_is_retried(sandbox, clients):
    sandbox.set_faults(error_rate=0.4, seed=7)
    rc = clients.resource(SUB)
    names = {g.name for _ in range(10) for g in rc.resource_groups.list()}
    assert names == {"rg-prod-web", "rg-prod-data", "rg-prod-vms"}
    assert sandbox.stats()["injected_errors"] >= 3


def test_dropped_connection_is_reported_clearly(sandbox, clients):
    rc = clients.resource(SUB)
    list(rc.resource_groups.list())  # token fetched while the line is good
    sandbox.set_faults(drop_rate=1.0)
    time.monotonic()
    with pytest.raises((ServiceResponseError, ServiceRequestError)) as exc:
        rc.resource_groups.get("rg-prod-web")
    assert (
        "Connection aborted" in str(exc.value)
        or "RemoteDisconnected" in str(exc.value)
        or "closed" in str(exc.value).lower()
    )
    assert sandbox.stats()["dropped"] >= 2  # the SDK retried before giving up


def test_latency_is_added(sandbox, clients):
    rc = clients.resource(SUB)
    rc.resource_groups.get("rg-prod-web")
    sandbox.set_faults(latency_ms=200)
    start = time.monotonic()
    rc.resource_groups.get("rg-prod-web")
    assert time.monotonic() - start >= 0.2
