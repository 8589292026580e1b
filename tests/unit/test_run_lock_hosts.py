"""The run lock across hosts (issue 24): the holder names host and pid and beats; another host's lock is stale only
after its heartbeat stopped for `stale_after()` seconds, never on its pid; this host's dead pid is stale at once."""

from __future__ import annotations

import json
import os
import time

import pytest

from runbook.errors import CustomerBusy
from runbook.evidence import lock


def write_holder(folder, host: str, pid: int, age: float = 0.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / lock.LOCK
    path.write_text(json.dumps({"user": "u", "host": host, "pid": pid, "started": "then", "what": "stage 0"}))
    os.utime(path, (time.time() - age, time.time() - age))


def test_another_hosts_lock_with_a_recent_heartbeat_is_refused(tmp_path):
    write_holder(tmp_path, "elsewhere", 1, age=60)
    with pytest.raises(CustomerBusy, match="elsewhere"):
        lock.acquire(tmp_path, "c", "stage 0")


def test_another_hosts_lock_without_a_heartbeat_for_long_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setenv(lock.STALE_AFTER_ENV, "120")
    write_holder(tmp_path, "elsewhere", 1, age=121)
    with lock.held(tmp_path, "c", "stage 0") as stale:
        assert stale and stale["host"] == "elsewhere"
        assert json.loads((tmp_path / lock.LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / lock.LOCK).exists()


def test_this_hosts_dead_pid_is_stale_at_once(tmp_path):
    import socket

    write_holder(tmp_path, socket.gethostname(), 2**22 + 12345)
    with lock.held(tmp_path, "c", "stage 0") as stale:
        assert stale is not None


def test_the_holder_beats(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, "HEARTBEAT_S", 0.05)
    with lock.held(tmp_path, "c", "stage 0"):
        path = tmp_path / lock.LOCK
        os.utime(path, (time.time() - 500, time.time() - 500))
        deadline = time.monotonic() + 5
        while time.time() - path.stat().st_mtime > 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert time.time() - path.stat().st_mtime < 100


def test_another_thread_of_this_process_is_refused_the_customer_one_thread_holds(tmp_path):
    # a LocalCluster's worker threads share the batch's pid: `runbook run a a` (or the same customer reached twice)
    # must not run one customer in two threads at once
    import threading

    seen: dict[str, object] = {}

    def second() -> None:
        try:
            lock.acquire(tmp_path, "c", "stage 0")
            seen["second"] = "took it"
        except CustomerBusy as exc:
            seen["second"] = exc

    with lock.held(tmp_path, "c", "stage 0"):
        assert lock.acquire(tmp_path, "c", "stage 0") is None  # this thread again (a session started again): held
        t = threading.Thread(target=second)
        t.start()
        t.join(10)
        assert (tmp_path / lock.LOCK).exists()  # the other thread neither took it nor gave it back
    assert isinstance(seen["second"], CustomerBusy), seen
    assert not (tmp_path / lock.LOCK).exists()


def test_a_lock_written_before_locks_named_their_thread_is_this_processs(tmp_path):
    import socket

    write_holder(tmp_path, socket.gethostname(), os.getpid())
    assert lock.acquire(tmp_path, "c", "stage 0") is None
