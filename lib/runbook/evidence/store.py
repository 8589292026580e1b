"""One customer's evidence behind one door: `EvidenceStore(customer)`.

A caller (the papermill runner, an interactive session, the CLI) asks the store; the store uses the modules of this
package for the parts: `archive` (run folders, manifest and hash chain, HTML, secret scan), `anchor` (the chain's
head kept outside the folder), `journal` (changes on the record as Azure accepts them), `seal` (a run's outcome and
its sealing), `lock` (one run per customer). The local folder is where runs are made and sealed; the auditor's copy in
Azure Blob (`remote`: push, verify against this chain) is made from the sealed runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..customer import catalogue
from . import archive, journal, lock, seal
from .results import ItemResult, stamp
from .seal import RunOutcome


@dataclass
class Latest:
    """The newest recorded result of an item and the run that recorded it."""

    result: ItemResult
    run_id: str
    run_dir: Path
    how: str = "batch"  # batch | interactive | in progress: a run not sealed yet, read from its journal


@dataclass(frozen=True)
class Run:
    """A run folder the store opened: its id, its folder and its journal's path."""

    run_id: str
    path: Path

    @property
    def journal_path(self) -> Path:
        return self.path / journal.JOURNAL


REPORT_KIND = "report"  # the run id's kind of a monthly report run: <time>-report-<random>


@dataclass(frozen=True)
class Report:
    """A monthly report run in the evidence: its id, folder, the month it reports, its status, whether sealed."""

    run_id: str
    path: Path
    month: str
    status: str
    sealed: bool

    @property
    def produced(self) -> bool:
        """Sealed with its HTML: an account manager can send it."""
        return self.sealed and self.status == "complete" and any(self.path.glob("*.html"))


class EvidenceStore:
    """The evidence of one customer: its runs, their seals and chain, its run lock, and what they say per item."""

    def __init__(self, customer: str) -> None:
        self.customer = customer

    @property
    def folder(self) -> Path:
        """The customer's evidence folder ($RUNBOOK_EVIDENCE_DIR/<customer> or <project>/evidence/<customer>)."""
        return archive.customer_dir(self.customer)

    # --- runs --------------------------------------------------------------------------------------
    def runs(self) -> list[Path]:
        """The run folders, oldest first."""
        return archive.runs(self.customer)

    def new_run(self, stage: int, kind: str = "stage") -> Run:
        """A fresh run folder (its id sorts by time); `kind` drift or decision for the runs of `runbook drift`, report for
        `runbook report`."""
        return Run(*archive.new_run(self.customer, stage, kind))

    def results(
        self, stage: int, notebook: Path | None, journal_path: Path, error: str = "", only: str | None = None
    ) -> list[ItemResult]:
        """One result per item of the stage: the executed (possibly partial) notebook's records, completed by the
        journal (changes of an item that never finished are on the record as failed), items never reached as
        not-verified. A run of one item (`only`) holds that item alone: the others keep their evidence."""
        found = seal.collect_notebook(notebook) if notebook is not None else []
        items = seal.fill_missing(stage, seal.merge_journal(found, journal_path), error)
        return [r for r in items if r.item_id == only] if only else items

    def seal(
        self,
        outcome: RunOutcome,
        meta: dict,
        known_secrets: tuple[str, ...] = (),
        after_html: Callable[[Path], None] | None = None,
    ) -> None:
        """Archive a run: results, HTML, manifest in the hash chain, the anchored head (EvidenceError if refused)."""
        seal.archive_run(outcome, meta, known_secrets, after_html)

    def archive(self, run: Run, header: dict, items: list[dict], known_secrets: tuple[str, ...] = ()) -> None:
        """Seal a run that is not a stage's (a drift run, a decision) as stage runs are sealed: its notebook and HTML,
        results.json (the header's facts and the items), the manifest in the chain, the anchored head."""
        archive.archive(run.path, header, items, known_secrets)

    def recover(self) -> list[str]:
        """Seal the runs a killed process left without a manifest, from their journals (status 'interrupted').
        Never deletes anything; returns the run ids sealed."""
        sealed = []
        for run_dir in self.runs():
            if (run_dir / archive.MANIFEST).exists():
                continue
            kind = archive.run_kind(run_dir.name)
            if kind != "stage":  # a drift or decision run: its item results as its journal holds them
                entries, _ = journal.read(run_dir / journal.JOURNAL)
                found = {
                    e["result"]["item_id"]: e["result"] for e in entries if e.get("kind") == kind and "result" in e
                }
                header: dict = {"customer": self.customer, "run_id": run_dir.name, "kind": kind, "stage": None}
                header |= {"status": "interrupted", "forced": False, "recovered_at": stamp()}
                header["error"] = "the process running it was killed; sealed from its journal by a later run"
                archive.archive(run_dir, header, list(found.values()))
                sealed.append(run_dir.name)
                continue
            stage = int(run_dir.name.split("-stage")[1].split("-")[0]) if "-stage" in run_dir.name else 0
            notebooks = list(run_dir.glob("*.ipynb"))
            items = (
                []  # a monthly report records no checklist items
                if REPORT_KIND in run_dir.name
                else self.results(
                    stage, notebooks[0] if notebooks else None, run_dir / journal.JOURNAL, "the run was killed"
                )
            )
            outcome = RunOutcome(
                self.customer,
                stage,
                run_dir.name,
                run_dir,
                "interrupted",
                items,
                "the process running it was killed; sealed from its journal by a later run",
                False,
            )
            self.seal(outcome, {"recovered_at": stamp()})
            sealed.append(run_dir.name)
        return sealed

    def reports(self) -> list[Report]:
        """The monthly report runs (`runbook report`), oldest first, sealed or not."""
        out = []
        for run_dir in self.runs():
            if f"-{REPORT_KIND}-" not in run_dir.name:
                continue
            path = run_dir / archive.RESULTS
            data = json.loads(path.read_text()) if path.exists() else {}
            out.append(
                Report(
                    run_dir.name,
                    run_dir,
                    str(data.get("month") or ""),
                    str(data.get("status") or "in progress"),
                    (run_dir / archive.MANIFEST).exists(),
                )
            )
        return out

    def verify(self) -> list[str]:
        """Problems in the evidence: edited, missing or extra files, breaks in the hash chain, a moved head."""
        return archive.verify(self.customer)

    # --- the lock ------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, what: str) -> Iterator[dict | None]:
        """Hold the customer's run lock (CustomerBusy while another run holds it); yields a stale holder taken over."""
        with lock.held(self.folder, self.customer, what) as stale:
            yield stale

    def acquire(self, what: str) -> dict | None:
        """Take the run lock until `release` or the end of the process (an interactive session holds it so)."""
        return lock.acquire(self.folder, self.customer, what)

    def release(self) -> None:
        """Give the run lock back (only if this process holds it)."""
        lock.release(self.folder)

    # --- what the evidence says ------------------------------------------------------------------------
    def records(self) -> Iterator[Latest]:
        """Every item result of every stage run, oldest run first: sealed runs from results.json, a run still open (an
        engineer's JupyterLab session, a run whose process died, the run being made now) from its journal, where an
        item's last entry is its result. Drift and decision runs are not counted: a drift finding never reopens a
        stage or its gate (`runbook status` shows the last drift run beside; `operate.drift` reads those runs)."""
        for run_dir in self.runs():
            if archive.run_kind(run_dir.name) != "stage":
                continue
            path = run_dir / archive.RESULTS
            if path.exists():
                data = json.loads(path.read_text())
                how = "interactive" if data.get("interactive") else "batch"
                for rec in data.get("items", []):
                    yield Latest(ItemResult.from_dict(rec), run_dir.name, run_dir, how)
                continue
            entries, _ = journal.read(run_dir / journal.JOURNAL)
            last: dict[str, ItemResult] = {}
            for e in entries:
                if e.get("kind") == "item":
                    r = ItemResult.from_dict(e["result"])
                    last.pop(r.item_id, None)
                    last[r.item_id] = r
            for r in last.values():
                yield Latest(r, run_dir.name, run_dir, "in progress")

    def latest(self) -> dict[str, Latest]:
        """Newest result per item across the stage runs (`records`)."""
        return {rec.result.item_id: rec for rec in self.records()}

    def gate(self, stage: int) -> list[str]:
        """Items of the previous stage that are not yet fulfilled or not-required (empty: the gate is open)."""
        if stage == 0:
            return []
        latest = self.latest()
        blocking = []
        for item in catalogue.load().for_stage(stage - 1):
            rec = latest.get(item.id)
            if rec is None or rec.result.status not in catalogue.DONE_STATUSES:
                blocking.append(f"{item.id} ({rec.result.status if rec else 'not-verified'})")
        return blocking
