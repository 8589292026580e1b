"""The per-subscription throttle gate and the progress line."""

from runbook.adapters.pacing import Pacer, interleave_by_subscription
from runbook.adapters.progress import _Lines
from runbook.evidence.results import Change


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now, self.slept = 100.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_a_429_closes_the_gate_for_every_worker_of_that_subscription():
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.throttled_for("sub-a", 0.3)
    pacer.acquire("sub-b")  # other subscriptions are not held up
    assert clock.slept == []
    pacer.acquire("sub-a")
    assert clock.slept == [0.3] and pacer.throttled == 1
    pacer.throttled_for("sub-a", 0.1)
    pacer.throttled_for("sub-a", 0.05)  # a shorter Retry-After never shortens the wait already asked for
    pacer.acquire("sub-a")
    assert clock.slept == [0.3, 0.1]


def test_changes_alternate_between_subscriptions():
    changes = [
        Change(f"/subscriptions/{s}/resourceGroups/r/providers/A.B/c/{i}", "merge tag")
        for s, i in [("a", 1), ("a", 2), ("a", 3), ("b", 1)]
    ]
    order = [c.target.split("/")[2] + c.target[-1] for c in interleave_by_subscription(changes)]
    assert order == ["a1", "b1", "a2", "a3"]


def test_progress_prints_a_bar_per_tenth(capsys):
    bar = _Lines(20, "tagging")
    for _ in range(20):
        bar.update(1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10 and lines[-1].startswith("tagging [####################] 20/20")
