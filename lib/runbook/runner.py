"""Runs a stage notebook for a customer with papermill and archives the evidence."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from . import PROJECT_ROOT, catalogue, evidence, journal, runlock, secrets, status
from .errors import (  # noqa: F401 (re-exported)
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EvidenceError,
    StageGateError,
)
from .params import load
from .progress import BATCH_ENV
from .results import Change, ItemResult, collect, stamp

NOTEBOOKS = PROJECT_ROOT / "notebooks"
log = logging.getLogger(__name__)
KERNEL = "python3"


class Interrupted(KeyboardInterrupt):
    """SIGTERM, delivered to the runner's main thread like Ctrl-C."""


@contextmanager
def interrupts() -> Iterator[None]:
    """While a stage runs, SIGTERM interrupts it the way SIGINT does (the evidence is then sealed, not lost)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise Interrupted("SIGTERM")

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


class JournalTail(threading.Thread):
    """Follows a run's journal while the kernel writes it, telling each finished item to `on_item`."""

    def __init__(self, path: Path, on_item: Callable[[ItemResult], None]) -> None:
        super().__init__(name="journal-tail", daemon=True)
        self.path, self.on_item, self.seen = path, on_item, 0
        self.done = threading.Event()

    def poll(self) -> None:
        """Report the item entries written since the last poll."""
        entries, _ = journal.read(self.path)
        for e in entries[self.seen :]:
            if e.get("kind") == "item":
                self.on_item(ItemResult.from_dict(e["result"]))
        self.seen = len(entries)

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.poll()
        self.poll()


def _ipc_kernel_manager():
    """A kernel manager whose channels are Unix sockets, not plain TCP on localhost (ipykernel warns,
    rightly, that TCP carries code and outputs unencrypted). The kernel's own stderr (its logging, and the noise of a
    kernel stopped mid-cell when a run is interrupted) goes to .cache/kernel.log, not the engineer's terminal; cell
    output reaches the notebook as always."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IpcKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:  # the sockets' path prefix: under .cache, not the working directory
            (PROJECT_ROOT / ".cache").mkdir(parents=True, exist_ok=True)
            return str(PROJECT_ROOT / ".cache" / "kernel-ipc")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> Any:
            log = PROJECT_ROOT / ".cache" / "kernel.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as err:  # the kernel process holds its own copy of the descriptor
                kw.setdefault("stderr", err)
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return IpcKernelManager


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

    @property
    def exit_code(self) -> int:
        """CLI exit code for this outcome."""
        return {"complete": EXIT_OK, "incomplete": EXIT_INCOMPLETE, "interrupted": EXIT_INTERRUPTED}.get(
            self.status, EXIT_FAILED
        )


def check_stage_inputs(params: Any, stage: int) -> None:
    """Every parameter section the stage's automated steps need, checked before the notebook starts."""
    from .errors import ParameterError
    from .steps import REGISTRY

    missing = []
    for item in catalogue.load().for_stage(stage):
        step = REGISTRY.get(item.id)
        if step is None or not item.applies_to(params.tier):
            continue
        missing += [
            f"parameters/{params.customer}.yml: field '{name}' is missing; {item.id} needs it. Fix: add it as parameters/template.yml shows."
            for name in step.requires
            if getattr(params, name, None) is None
        ]
    if missing:
        raise ParameterError("\n".join(missing))
    tagging = REGISTRY.get("s1-tag-managed-resources")
    if stage == 1 and tagging is not None:
        from . import sheet

        path = sheet.sheet_path(params.customer, params.resource_sheet.path)
        if path.exists():
            sheet.read(path, None)  # its form (header, Yes/No, duplicates) before any Azure call; IDs are checked live


def parameters_hash(customer: str) -> str:
    """SHA-256 of the parameter file a run used (recorded in its evidence)."""
    from .params import resolve_path

    path = resolve_path(customer)
    return evidence.sha256(path) if path.exists() else ""


def stage_notebook(name: str) -> Path:
    """The stage notebook: the project's notebooks/ (a checkout), else generated from the packaged catalogue into
    .cache/notebooks (an installed wheel carries the catalogue, not the notebooks)."""
    if (NOTEBOOKS / name).exists():
        return NOTEBOOKS / name
    from . import notebook_gen

    cache = PROJECT_ROOT / ".cache" / "notebooks"
    notebook_gen.write(cache)
    return cache / name


def gate(customer: str, stage: int) -> list[str]:
    """Items of the previous stage that are not yet fulfilled or not-required (empty: gate open)."""
    if stage == 0:
        return []
    latest = status.latest(customer)
    blocking = []
    for item in catalogue.load().for_stage(stage - 1):
        rec = latest.get(item.id)
        if rec is None or rec.result.status not in catalogue.DONE_STATUSES:
            blocking.append(f"{item.id} ({rec.result.status if rec else 'not-verified'})")
    return blocking


def _fill_missing(stage: int, found: list[ItemResult], error: str) -> list[ItemResult]:
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


def run_stage(
    customer: str,
    stage: int,
    apply: bool = False,
    force: bool = False,
    timeout: int = 900,
    log_output: bool = False,
    notebook: Path | None = None,
    on_item: Callable[[ItemResult], None] | None = None,
) -> RunOutcome:
    """Validate, take the customer's run lock, seal runs a killed process left, check the gate, execute the stage
    notebook with papermill (its kernel journals every accepted change), then archive the evidence."""
    params = load(customer)  # ParameterError before any Azure call
    if params.target == "sandbox":
        from .clients import sandbox_connection_path
        from .params import check_sandbox_tenant

        check_sandbox_tenant(params, sandbox_connection_path())
    with runlock.held(
        evidence.customer_dir(params.customer), params.customer, f"stage {stage}{' --apply' if apply else ''}"
    ) as stale:
        if stale:
            log.warning(
                "took over a stale lock of %s (pid %s on %s, since %s)",
                params.customer,
                stale.get("pid"),
                stale.get("host"),
                stale.get("started"),
            )
        for run_id in recover(params.customer):
            log.warning("sealed run %s of %s from its journal: its process was killed", run_id, params.customer)
        return _run_locked(params, stage, apply, force, timeout, log_output, notebook, on_item)


def _run_locked(
    params,
    stage: int,
    apply: bool,
    force: bool,
    timeout: int,
    log_output: bool,
    notebook: Path | None,
    on_item: Callable[[ItemResult], None] | None,
) -> RunOutcome:
    check_stage_inputs(params, stage)  # exit 2 before any Azure call
    blocking = gate(params.customer, stage)
    if blocking and not force:
        raise StageGateError(stage, blocking)
    st = catalogue.load().stage(stage)
    run_id, run_dir = evidence.new_run(params.customer, stage)
    source = Path(notebook) if notebook else stage_notebook(st.notebook)
    output = run_dir / source.name
    journal_path = run_dir / journal.JOURNAL
    started = stamp()
    error = ""
    interrupted = False
    os.environ[BATCH_ENV] = "1"  # the kernel inherits it: progress as plain lines, not widgets
    os.environ[journal.JOURNAL_ENV] = str(journal_path)  # ... and writes its journal here
    tail = JournalTail(journal_path, on_item) if on_item else None
    if tail:
        tail.start()
    try:
        with interrupts():
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters={
                    "customer": params.customer,
                    "apply": bool(apply),
                    "run_id": run_id,
                    "forced": bool(blocking),
                },
                kernel_name=KERNEL,
                cwd=str(PROJECT_ROOT),
                log_output=log_output,
                progress_bar=False,
                execution_timeout=timeout,
                request_save_on_cell_execute=True,
                kernel_manager_class=_ipc_kernel_manager(),
            )
    except PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM via interrupts(): seal what was done
        interrupted = True
        error = f"interrupted by {'SIGTERM' if isinstance(exc, Interrupted) else 'SIGINT'}; the evidence holds everything applied until then"
    except Exception as exc:  # kernel died, timeout: keep what was saved, mark the run failed
        error = f"{type(exc).__name__}: {exc}"
    finally:
        os.environ.pop(BATCH_ENV, None)
        os.environ.pop(journal.JOURNAL_ENV, None)
        if tail:
            tail.done.set()
            tail.join(5)
    items = _fill_missing(stage, merge_journal(_collect(output), journal_path), error)
    done = all(r.status in catalogue.DONE_STATUSES for r in items)
    state = "interrupted" if interrupted else "failed" if error else "complete" if done else "incomplete"
    outcome = RunOutcome(params.customer, stage, run_id, run_dir, state, items, error, bool(blocking))
    archive(
        outcome,
        {
            "started_at": started,
            "apply": bool(apply),
            "blocking_items": blocking,
            "parameters_sha256": parameters_hash(params.customer),
        },
        secrets.stored_values(params),
    )
    return outcome


def _collect(output: Path) -> list[ItemResult]:
    """The item records of an executed (possibly partial) notebook."""
    if not output.exists():
        return []
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
            pending.setdefault(e["item"], []).append(Change(e["target"], e["action"], e.get("detail") or {}))
    cat = catalogue.load()
    for item_id, changes in pending.items():
        item = cat.item(item_id)
        r = by_id.get(item_id) or ItemResult(item.id, item.stage, item.role, item.kind, item.title)
        r.status, r.applied = "failed", changes
        r.summary = f"The run stopped while this item was applying: {len(changes)} change(s) Azure accepted are listed under applied; re-run the stage to finish and verify."
        r.finished_at = r.finished_at or stamp()
        by_id[item_id] = r
    return list(by_id.values())


def recover(customer: str) -> list[str]:
    """Seal the runs a killed process left without a manifest: their results come from the journal (and the partial
    notebook), their status is 'interrupted'. Never deletes anything; returns the run ids sealed."""
    sealed = []
    for run_dir in evidence.runs(customer):
        if (run_dir / evidence.MANIFEST).exists():
            continue
        stage = int(run_dir.name.split("-stage")[1].split("-")[0]) if "-stage" in run_dir.name else 0
        notebooks = list(run_dir.glob("*.ipynb"))
        items = _fill_missing(
            stage,
            merge_journal(_collect(notebooks[0]) if notebooks else [], run_dir / journal.JOURNAL),
            "the run was killed",
        )
        outcome = RunOutcome(
            customer,
            stage,
            run_dir.name,
            run_dir,
            "interrupted",
            items,
            "the process running it was killed; sealed from its journal by a later run",
            False,
        )
        archive(outcome, {"recovered_at": stamp()}, ())
        sealed.append(run_dir.name)
    return sealed


def archive(outcome: RunOutcome, meta: dict, known_secrets: tuple[str, ...] = ()) -> None:
    """Archive a run's evidence (evidence.archive); a refused archive marks the outcome and raises EvidenceError."""
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
        evidence.archive(outcome.run_dir, header, [r.to_dict() for r in outcome.items], known_secrets)
    except EvidenceError as exc:
        outcome.status, outcome.error = "refused", str(exc)
        raise


def run_all(
    customer: str,
    apply: bool = False,
    force: bool = False,
    stages: list[int] | None = None,
    on_outcome=None,
    **run_kwargs,
) -> list[RunOutcome]:
    """Run stages in order; stops at the first stage whose gate is closed (unless forced)."""
    outcomes = []
    for n in stages if stages is not None else [s.number for s in catalogue.load().stages]:
        outcome = run_stage(customer, n, apply=apply, force=force, **run_kwargs)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
        if outcome.status in ("failed", "refused", "interrupted"):
            break
    return outcomes
