"""One run per customer at a time: a lock file in the customer's evidence folder naming its holder.

The lock is created atomically (O_EXCL) and holds who, where, which process and since when. A second run of the
same customer is refused with that information. A lock left by a process that no longer exists on this host is
stale: it is taken over (atomically, by renaming a fresh lock over it) and the takeover is reported.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import CustomerBusy

LOCK = ".run.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(holder: dict) -> bool:
    return holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0)))


def acquire(folder: Path, customer: str, what: str) -> dict | None:
    """Take the customer's run lock for this process (CustomerBusy when someone else holds it); returns the stale
    holder taken over, if any. Held until `release` or the process ends (a later taker sees it stale)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    me = {
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "what": what,
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return None
    except FileExistsError:
        try:
            holder = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        if holder.get("pid") == os.getpid() and holder.get("host") == me["host"]:
            return None  # this process holds it already (a notebook session started again in the same kernel)
        if holder and not _stale(holder):
            raise CustomerBusy(customer, holder) from None
        tmp = folder / f"{LOCK}.{os.getpid()}"
        tmp.write_text(json.dumps(me))
        os.replace(tmp, path)
        return holder


def _mine(path: Path) -> bool:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return bool(holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname())


def release(folder: Path) -> None:
    """Give the lock back if this process holds it."""
    path = folder / LOCK
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
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
