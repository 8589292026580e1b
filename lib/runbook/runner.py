"""Runs a stage notebook for a customer with papermill and archives the evidence."""
from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from . import PROJECT_ROOT, __version__, catalogue, evidence, status
from .params import load, stamp
from .progress import BATCH_ENV
from .results import ItemResult, collect

NOTEBOOKS = PROJECT_ROOT / "notebooks"
KERNEL = "python3"

# Exit codes of the CLI, also returned by runs.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3


def _ipc_kernel_manager():
    """A kernel manager whose channels are Unix sockets, not plain TCP on localhost (ipykernel warns,
    rightly, that TCP carries code and outputs unencrypted)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IpcKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

    return IpcKernelManager


class StageGateError(RuntimeError):
    """An earlier stage still has items that are not fulfilled or not-required."""

    def __init__(self, stage: int, blocking: list[str]) -> None:
        self.stage, self.blocking = stage, blocking
        super().__init__(f"stage {stage} cannot start: stage {stage - 1} still has {len(blocking)} item(s) not done: {', '.join(blocking)}. Finish them, or re-run with --force (the evidence will say it was forced).")


@dataclass
class RunOutcome:
    """What one stage run produced."""

    customer: str
    stage: int
    run_id: str
    run_dir: Path
    status: str  # complete | incomplete | failed | refused
    items: list[ItemResult] = field(default_factory=list)
    error: str = ""
    forced: bool = False

    @property
    def exit_code(self) -> int:
        """CLI exit code for this outcome."""
        return {"complete": EXIT_OK, "incomplete": EXIT_INCOMPLETE}.get(self.status, EXIT_FAILED)


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
            out.append(ItemResult(item.id, item.stage, item.role, item.kind, item.title, "not-verified", why, finished_at=stamp()))
    return out


def run_stage(customer: str, stage: int, apply: bool = False, force: bool = False, timeout: int = 900, log_output: bool = False, notebook: Path | None = None) -> RunOutcome:
    """Validate, check the gate, execute the stage notebook with papermill, then archive the evidence."""
    params = load(customer)  # ParameterError before any Azure call
    blocking = gate(params.customer, stage)
    if blocking and not force:
        raise StageGateError(stage, blocking)
    st = catalogue.load().stage(stage)
    run_id, run_dir = evidence.new_run(params.customer, stage)
    source = Path(notebook) if notebook else NOTEBOOKS / st.notebook
    output = run_dir / source.name
    started = stamp()
    error = ""
    os.environ[BATCH_ENV] = "1"  # the kernel inherits it: progress as plain lines, not widgets
    try:
        papermill.execute_notebook(
            str(source), str(output),
            parameters={"customer": params.customer, "apply": bool(apply), "run_id": run_id, "forced": bool(blocking)},
            kernel_name=KERNEL, cwd=str(PROJECT_ROOT), log_output=log_output, progress_bar=False,
            execution_timeout=timeout, request_save_on_cell_execute=True, kernel_manager_class=_ipc_kernel_manager(),
        )
    except PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, timeout: keep what was saved, mark the run failed
        error = f"{type(exc).__name__}: {exc}"
    finally:
        os.environ.pop(BATCH_ENV, None)
    items = _fill_missing(stage, collect(nbformat.read(output, as_version=4)) if output.exists() else [], error)
    done = all(r.status in catalogue.DONE_STATUSES for r in items)
    outcome = RunOutcome(params.customer, stage, run_id, run_dir, "failed" if error else "complete" if done else "incomplete", items, error, bool(blocking))
    archive(outcome, {"started_at": started, "apply": bool(apply), "blocking_items": blocking}, stored_secrets(params))
    return outcome


def stored_secrets(params) -> tuple[str, ...]:
    """Values of the secrets the customer's parameters point to in local files (never to be archived)."""
    from . import secrets

    refs = [r for r in (params.app_registration.secret_store if params.app_registration else None, params.credential.client_secret if params.credential else None) if r is not None and r.file]
    return tuple(secrets.file_path(r).read_text().strip() for r in refs if secrets.file_path(r).exists())


def archive(outcome: RunOutcome, meta: dict, known_secrets: tuple[str, ...] = ()) -> None:
    """Sanitise, scan for secrets, render HTML, write results.json and the manifest; refuse on a secret."""
    run_dir = outcome.run_dir
    notebooks = list(run_dir.glob("*.ipynb"))
    for nb in notebooks:
        evidence.sanitise_notebook(nb)
        evidence.render_html(nb, nb.with_suffix(".html"))
    results = {
        "customer": outcome.customer, "run_id": outcome.run_id, "stage": outcome.stage, "status": outcome.status,
        "forced": outcome.forced, "finished_at": stamp(), "ran_by": getpass.getuser(), "runbook_version": __version__,
        "error": outcome.error, **meta, "items": [r.to_dict() for r in outcome.items],
    }
    (run_dir / evidence.RESULTS).write_text(json.dumps(results, indent=2, default=str))
    findings = evidence.scan_files(sorted(p for p in run_dir.iterdir() if p.is_file()), run_dir, known_secrets)
    if findings:
        for p in run_dir.iterdir():
            if p.suffix in (".ipynb", ".html"):
                p.unlink()  # the leaking files must not stay in the archive
        outcome.status = "refused"
        outcome.error = "secret scan: " + "; ".join(str(f) for f in findings)
        results.update(status="refused", error=outcome.error)
        (run_dir / evidence.RESULTS).write_text(json.dumps(results, indent=2, default=str))
        leftover = evidence.scan_files([run_dir / evidence.RESULTS], run_dir, known_secrets)
        if leftover:
            (run_dir / evidence.RESULTS).write_text(json.dumps({k: v for k, v in results.items() if k != "items"} | {"items": []}, indent=2))
    evidence.write_manifest(outcome.customer, run_dir, {"stage": outcome.stage, "status": outcome.status})
    if outcome.status == "refused":
        raise evidence.EvidenceError(f"refused to archive run {outcome.run_id}: {outcome.error}. Remove the secret from the notebook outputs (print references, never values) and run again.")


def run_all(customer: str, apply: bool = False, force: bool = False, stages: list[int] | None = None, on_outcome=None, **run_kwargs) -> list[RunOutcome]:
    """Run stages in order; stops at the first stage whose gate is closed (unless forced)."""
    outcomes = []
    for n in stages if stages is not None else [s.number for s in catalogue.load().stages]:
        outcome = run_stage(customer, n, apply=apply, force=force, **run_kwargs)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
        if outcome.status in ("failed", "refused"):
            break
    return outcomes
