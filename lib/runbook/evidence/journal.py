"""The run journal: every change Azure accepted and every item result, appended the moment it happens.

One JSON object per line in `<run folder>/journal.jsonl`, each written with flush + fsync before the next Azure call,
so a run that dies (SIGKILL, a kernel crash, a power cut) still has on disk everything it changed. The runner tells
the kernel where its journal is through $RUNBOOK_JOURNAL; the evidence is built from it when the notebook could not
be finished. A line cut off by a crash mid-write is skipped on reading and reported.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

JOURNAL = "journal.jsonl"
JOURNAL_ENV = "RUNBOOK_JOURNAL"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Journal:
    """An append-only record in one file; safe to share between threads (tagging writes from a pool)."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, **data: Any) -> None:
        """Append one entry and make it durable before returning."""
        line = json.dumps({"at": _now(), "kind": kind, **data}, default=str, sort_keys=True)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def change(self, item_id: str, change: Any) -> None:
        """A change Azure accepted (target, action, detail, the target's state before it; never its payload)."""
        self.record(
            "change",
            item=item_id,
            target=change.target,
            action=change.action,
            detail=change.detail,
            before=getattr(change, "before", None),
        )

    def item(self, result: Any, provisional: bool = False) -> None:
        """An item's result: the final one, or (`provisional`) the step's own before the notebook weighs the
        attestation, on the record should the process die in between. Readers take an item's last entry."""
        if provisional:
            self.record("item", result=result.to_dict(), provisional=True)
        else:
            self.record("item", result=result.to_dict())


def read(path: Path) -> tuple[list[dict], int]:
    """The entries of a journal and how many lines were unreadable (a write cut off by a crash)."""
    entries: list[dict] = []
    broken = 0
    if not path.exists():
        return entries, 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            broken += 1
    return entries, broken


def from_environment() -> Journal | None:
    """The journal of the run this process belongs to ($RUNBOOK_JOURNAL), if any."""
    path = os.environ.get(JOURNAL_ENV)
    return Journal(Path(path)) if path else None
