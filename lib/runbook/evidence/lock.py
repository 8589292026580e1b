"""One run per customer at a time: a lock file in the customer's evidence folder naming its holder.

The lock is created atomically (O_EXCL) and holds who, where (host), which process (pid) and since when. A second
run of the same customer is refused with that information, from any process on any machine that shares the evidence
folder (a batch's Dask workers included: the lock lives with the evidence, not in a process). While held, the holder
touches the file every `HEARTBEAT_S` seconds (its modification time is the heartbeat). A lock is stale, and taken over
(atomically, by renaming a fresh lock over it; the takeover is reported), when:

* its holder ran on this host and that pid no longer exists; or
* its holder ran on another host and its heartbeat is older than `stale_after()` (default 600 s, 20 missed beats;
  `$RUNBOOK_LOCK_STALE_AFTER` seconds). A lock of another host is never taken over on its pid alone: this host cannot
  see that process.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import CustomerBusy

LOCK = ".run.lock"
HEARTBEAT_S = 30.0  # the holder touches its lock file this often
STALE_AFTER_ENV = "RUNBOOK_LOCK_STALE_AFTER"
STALE_AFTER_S = 600.0  # another host's lock without a heartbeat for this long is stale


def stale_after() -> float:
    """Seconds without a heartbeat after which another host's lock is stale ($RUNBOOK_LOCK_STALE_AFTER, else 600)."""
    try:
        return float(os.environ.get(STALE_AFTER_ENV) or STALE_AFTER_S)
    except ValueError:
        return STALE_AFTER_S


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(holder: dict, path: Path) -> bool:
    if holder.get("host") == socket.gethostname():
        return not _alive(int(holder.get("pid", 0)))
    try:  # another host: only a heartbeat that stopped long ago makes it stale
        return time.time() - path.stat().st_mtime > stale_after()
    except OSError:
        return False


class _Heartbeat(threading.Thread):
    """Touches a held lock file every HEARTBEAT_S seconds until it is released or no longer this process's."""

    def __init__(self, path: Path) -> None:
        super().__init__(name=f"lock-heartbeat-{path.parent.name}", daemon=True)
        self.path, self.stop = path, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(HEARTBEAT_S) and _mine(self.path, any_thread=True):
            try:
                os.utime(self.path)
            except OSError:
                return


_beats: dict[Path, _Heartbeat] = {}
_beats_lock = threading.Lock()


def _beat(path: Path) -> None:
    with _beats_lock:
        running = _beats.get(path)
        if running is None or not running.is_alive():
            _beats[path] = beat = _Heartbeat(path)
            beat.start()


def _unbeat(path: Path) -> None:
    with _beats_lock:
        beat = _beats.pop(path, None)
    if beat is not None:
        beat.stop.set()


def acquire(folder: Path, customer: str, what: str) -> dict | None:
    """Take the customer's run lock for this process (CustomerBusy when someone else holds it); returns the stale
    holder taken over, if any. Held until `release` or the process ends (a later taker sees it stale)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    me = {
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "thread": threading.get_ident(),  # a batch's worker threads share one pid: a customer is one thread's at a time
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "what": what,
        "heartbeat_s": HEARTBEAT_S,
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        _beat(path)
        return None
    except FileExistsError:
        try:
            holder = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        if _this_thread(holder):
            return None  # this thread holds it already (a notebook session started again in the same kernel)
        if holder and not _stale(holder, path):
            raise CustomerBusy(customer, holder) from None
        tmp = folder / f"{LOCK}.{os.getpid()}"
        tmp.write_text(json.dumps(me))
        os.replace(tmp, path)
        _beat(path)
        return holder


def _this_thread(holder: dict, any_thread: bool = False) -> bool:
    """Whether `holder` is this thread (`any_thread`: any thread) of this process on this host (a lock written before
    locks named their thread: this process)."""
    return bool(
        holder.get("pid") == os.getpid()
        and holder.get("host") == socket.gethostname()
        and (any_thread or holder.get("thread", threading.get_ident()) == threading.get_ident())
    )


def _mine(path: Path, any_thread: bool = False) -> bool:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return _this_thread(holder, any_thread)


def release(folder: Path) -> None:
    """Give the lock back if this process holds it."""
    path = folder / LOCK
    _unbeat(path)
    try:
        if _mine(path, any_thread=True):  # whichever thread of it: an interactive session's end may be atexit's
            path.unlink()
    except (OSError, ValueError):
        pass


@contextmanager
def held(folder: Path, customer: str, what: str) -> Iterator[dict | None]:
    """Hold the customer's run lock for the block; yields the stale holder taken over, if any. A lock this process
    already held (an open notebook session) is left held afterwards."""
    already = _mine(folder / LOCK)
    taken_over = acquire(folder, customer, what)
    try:
        yield taken_over
    finally:
        if not already:
            release(folder)
