"""Evidence of a stage stepped through by hand in JupyterLab, equal to a papermill run's.

A session started outside the runner (no $RUNBOOK_BATCH) takes the customer's run lock, and from its first item on
keeps a run folder in the evidence: a journal written the moment Azure accepts a change and as each item finishes
(so `runbook status` sees the work at once, and a kernel that dies loses nothing: the next run seals it from the
journal), then, when the session finishes (`session.finish()`, a new session, or the kernel shutting down), the
executed cells as a notebook, its HTML, results.json and the hash-chained manifest, all marked interactive.
"""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..customer import catalogue
from . import journal
from .results import ItemResult, stamp
from .seal import RunOutcome, merge_journal
from .store import EvidenceStore
from .transcript import Transcript

if TYPE_CHECKING:
    import nbformat

log = logging.getLogger(__name__)


@dataclass
class InteractiveRun:
    """The evidence of one interactive session: opened lazily at its first item, sealed once."""

    customer: str
    stage: int
    apply_seen: bool = False
    forced: bool = False
    parameters_sha256: str = ""
    run_id: str = ""
    run_dir: Path | None = None
    started_at: str = field(default_factory=stamp)
    transcript: Transcript = field(default_factory=Transcript)
    items: dict[str, ItemResult] = field(default_factory=dict)
    sealed: bool = False
    template: Path | None = None  # the stage notebook whose narrative the sealed notebook keeps
    _journal: journal.Journal | None = field(default=None, repr=False)

    # --- lifecycle -------------------------------------------------------------------------------
    def begin(self, shell: Any) -> list[str]:
        """Take the customer's lock (CustomerBusy while a batch run or another kernel holds it), seal runs a dead
        kernel left, and start recording the kernel's cells. Returns the run ids sealed."""
        store = EvidenceStore(self.customer)
        store.acquire(f"stage {self.stage} (interactive)")
        sealed = store.recover()
        if shell is not None:
            self.transcript.install(shell)
        _OPEN.append(self)
        return sealed

    def journal(self) -> journal.Journal:
        """The run's journal, creating its run folder at the first use."""
        if self._journal is None:
            run = EvidenceStore(self.customer).new_run(self.stage)
            self.run_id, self.run_dir = run.run_id, run.path
            self._journal = journal.Journal(run.journal_path)
            self._journal.record("session", interactive=True, stage=self.stage)
        return self._journal

    def item(self, result: ItemResult) -> None:
        """An item's final result: durable in the journal before the cell shows it."""
        self.apply_seen = self.apply_seen or result.apply
        self.items[result.item_id] = result
        self.journal().item(result)

    def seal(self, notebook_name: str, known_secrets: tuple[str, ...] = (), closing: dict | None = None) -> str:
        """Write the executed notebook, HTML, results and manifest (once) and give the lock back; returns the
        evidence folder ('' when nothing ran)."""
        if self.sealed:
            return str(self.run_dir or "")
        self.sealed = True
        store = EvidenceStore(self.customer)
        self.transcript.uninstall()
        if closing and self.transcript.cells:  # the cell that sealed shows what it sealed
            self.transcript.cells[-1].outputs.append({"output_type": "display_data", "data": closing, "metadata": {}})
        if self in _OPEN:
            _OPEN.remove(self)
        try:
            if self.run_dir is None:
                return ""
            import nbformat  # loaded when sealing, not when the session starts (it takes about a second)

            template = _template(self.template)
            nb = self.transcript.notebook(
                template, {"runbook": {"interactive": True, "run_id": self.run_id, "customer": self.customer}}
            )
            nbformat.write(nb, self.run_dir / notebook_name)
            items = merge_journal(list(self.items.values()), self.run_dir / journal.JOURNAL)
            stage_ids = [i.id for i in catalogue.load().for_stage(self.stage)]
            ran_all = all(i in {r.item_id for r in items} for i in stage_ids)
            done = ran_all and all(r.status in catalogue.DONE_STATUSES for r in items)
            outcome = RunOutcome(
                self.customer,
                self.stage,
                self.run_id,
                self.run_dir,
                "complete" if done else "incomplete",
                sorted(items, key=lambda r: stage_ids.index(r.item_id) if r.item_id in stage_ids else 99),
                "",
                self.forced,
            )
            store.seal(
                outcome,
                {
                    "interactive": True,
                    "started_at": self.started_at,
                    "apply": self.apply_seen,
                    "parameters_sha256": self.parameters_sha256,
                    "items_run": len(items),
                },
                known_secrets,
            )
            return str(self.run_dir)
        finally:
            store.release()


def _template(path: Path | None) -> nbformat.NotebookNode | None:
    import nbformat

    if path is None:
        return None
    try:
        return nbformat.read(path, as_version=4)
    except Exception:
        return None


_OPEN: list[InteractiveRun] = []


def _seal_open() -> list[str]:
    """At interpreter exit (the kernel shut down or restarted), or when a new session starts in the same kernel:
    seal what is still open. Returns the run ids sealed."""
    sealed = []
    for run in list(_OPEN):
        try:
            run.seal(catalogue.load().stage(run.stage).notebook)
            sealed += [run.run_id] if run.run_id else []
        except Exception as exc:  # the journal stays; the next run seals it
            log.warning("could not seal interactive run %s: %s", run.run_id, exc)
    return sealed


atexit.register(_seal_open)
