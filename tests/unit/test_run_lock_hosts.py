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
