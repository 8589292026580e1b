"""Sealing a run into evidence: its outcome, its item results gathered from the notebook and the journal, and the
archive of it (also for a run whose process died; `EvidenceStore` is the door). It imports neither papermill nor,
until a notebook must be read, nbformat, so a notebook session starts without them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..customer import catalogue
from ..errors import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EvidenceError
from . import archive, journal
from .results import Change, ItemResult, collect, stamp


@dataclass
class RunOutcome:
    """What one stage run produced."""

    customer: str
    stage: int
    run_id: str
    run_dir: Path
    status: str  # complete | incomplete | failed | refused | interrupted
    items: list[ItemResult] = field(default_factory=list)
    error: str = ""
    forced: bool = False
    item: str = ""  # a run of one item (`runbook run --item`): its results hold that item alone

    @property
    def exit_code(self) -> int:
        """CLI exit code for this outcome."""
        return {"complete": EXIT_OK, "incomplete": EXIT_INCOMPLETE, "interrupted": EXIT_INTERRUPTED}.get(
            self.status, EXIT_FAILED
        )


def fill_missing(stage: int, found: list[ItemResult], error: str) -> list[ItemResult]:
    """One record per item of the stage; items the run never reached are not-verified."""
    by_id = {r.item_id: r for r in found}
    out = []
    for item in catalogue.load().for_stage(stage):
        if item.id in by_id:
            out.append(by_id[item.id])
        else:
            why = "the run failed before this item" if error else "the notebook did not record this item"
            out.append(
                ItemResult(
                    item.id, item.stage, item.role, item.kind, item.title, "not-verified", why, finished_at=stamp()
                )
            )
    return out


def collect_notebook(output: Path) -> list[ItemResult]:
    """The item records of an executed (possibly partial) notebook."""
    if not output.exists():
        return []
    import nbformat

    try:
        return collect(nbformat.read(output, as_version=4))
    except Exception:  # a notebook cut off mid-write: the journal still holds the results
        return []


def merge_journal(found: list[ItemResult], journal_path: Path) -> list[ItemResult]:
    """Item results from the notebook, completed by the journal: final results it holds, and changes of an item
    that never finished (the run died while applying), so every accepted change is on the record."""
    by_id = {r.item_id: r for r in found}
    entries, _broken = journal.read(journal_path)
    finished = set()
    for e in entries:
        if e.get("kind") == "item":
            r = ItemResult.from_dict(e["result"])
            by_id[r.item_id] = r
            finished.add(r.item_id)
    pending: dict[str, list[Change]] = {}
    for e in entries:
        if e.get("kind") == "change" and e.get("item") not in finished:
            pending.setdefault(e["item"], []).append(
                Change(e["target"], e["action"], e.get("detail") or {}, before=e.get("before"))
            )
    cat = catalogue.load()
    for item_id, changes in pending.items():
        item = cat.item(item_id)
        r = by_id.get(item_id) or ItemResult(item.id, item.stage, item.role, item.kind, item.title)
        r.status, r.applied = "failed", changes
        r.summary = f"The run stopped while this item was applying: {len(changes)} change(s) Azure accepted are listed under applied; re-run the stage to finish and verify."
        r.finished_at = r.finished_at or stamp()
        by_id[item_id] = r
    return list(by_id.values())


def archive_run(
    outcome: RunOutcome,
    meta: dict,
    known_secrets: tuple[str, ...] = (),
    after_html: Callable[[Path], None] | None = None,
) -> None:
    """Archive a run's evidence (archive.archive); a refused archive marks the outcome and raises EvidenceError."""
    header = {
        "customer": outcome.customer,
        "run_id": outcome.run_id,
        "stage": outcome.stage,
        "status": outcome.status,
        "forced": outcome.forced,
        "error": outcome.error,
        **meta,
    }
    try:
        archive.archive(outcome.run_dir, header, [r.to_dict() for r in outcome.items], known_secrets, after_html)
    except EvidenceError as exc:
        outcome.status, outcome.error = "refused", str(exc)
        raise
