"""Runs a stage notebook for a customer with papermill and archives the evidence."""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from . import PROJECT_ROOT
from .adapters import fastimport, secrets
from .adapters.progress import BATCH_ENV, ONLY_ITEM_ENV
from .authoring.notebooks import stage_notebook
from .customer import catalogue
from .customer.params import check_sign_in_refs, load, parameters_hash
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
from .evidence import EvidenceStore, journal
from .evidence.results import ItemResult, stamp
from .evidence.seal import RunOutcome
from .evidence.store import Run

# before papermill or nbformat load: their jsonschema would compile 38 grammars nothing here uses
fastimport.defer_rfc3987_grammar()

__all__ = [
    "RunOutcome",
    "fork_kernels",
    "parameters_hash",
    "recover",
    "run_all",
    "run_drift",
    "run_offboard",
    "run_report",
    "run_stage",
]


def recover(customer: str) -> list[str]:
    """Seal the runs a killed process left (`EvidenceStore.recover`)."""
    return EvidenceStore(customer).recover()


log = logging.getLogger(__name__)


class _KilledKernelTask(logging.Filter):
    """An interrupted run's kernel is stopped on purpose (the run is sealed as interrupted, and says so); nbclient's
    cell task still waiting on that kernel then ends with DeadKernelError nobody awaits, and asyncio would print its
    traceback ("Task exception was never retrieved") on the engineer's terminal. That record only is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "DeadKernelError" and "never retrieved" in record.msg)


logging.getLogger("asyncio").addFilter(_KilledKernelTask())
KERNEL = "python3"


class Interrupted(KeyboardInterrupt):
    """SIGTERM, delivered to the runner's main thread like Ctrl-C."""


class BatchStopped(Interrupted):
    """A batch's stop (its Ctrl-C or SIGTERM), raised in a Dask worker's task thread by runbook/batch.py."""

    why = "the batch's stop (Ctrl-C or SIGTERM to the batch)"


@contextmanager
def signals_handled(on_int: Any, on_term: Any = None) -> Iterator[None]:
    """SIGINT handled by `on_int` and SIGTERM by `on_term` (by default the same) in this block, the handlers that were
    there restored after it. In any thread but the main one, where Python delivers no signal, it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, on_int), signal.signal(signal.SIGTERM, on_int if on_term is None else on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


@contextmanager
def interrupts() -> Iterator[None]:
    """While a stage runs, SIGTERM interrupts it the way SIGINT does (the evidence is then sealed, not lost)."""

    def quiet() -> None:
        # the kernel is stopped mid-cell on purpose: nbclient's pending task then ends with DeadKernelError, which
        # asyncio reports as "Task exception was never retrieved" with a traceback; the run's own message says it
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    def on_term(signum: int, frame: object) -> None:
        quiet()
        raise Interrupted("SIGTERM")

    def on_int(signum: int, frame: object) -> None:
        quiet()
        raise KeyboardInterrupt

    with signals_handled(on_int, on_term):
        yield


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
            if e.get("kind") == "item" and not e.get("provisional"):  # one line per item: its final result
                self.on_item(ItemResult.from_dict(e["result"]))
        self.seen = len(entries)

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.poll()
        self.poll()


SHUTDOWN_POLL = 0.005  # seconds between looks at whether a kernel asked to shut down has gone


def _ipc_kernel_manager(env: dict[str, str] | None = None):
    """A kernel manager whose channels are Unix sockets, not plain TCP on localhost (ipykernel warns,
    rightly, that TCP carries code and outputs unencrypted). The kernel's own stderr (its logging, and the noise of a
    kernel stopped mid-cell when a run is interrupted) goes to .cache/kernel.log, not the engineer's terminal; cell
    output reaches the notebook as always. The kernel's environment is this process's with `env` over it (the run's
    own: its journal, the approved plan), given to that kernel alone, never set in this process (a batch's worker
    threads run several customers at once in it)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    from .authoring import kernels

    run_env = dict(env or {})

    class IpcKernelManager(AsyncKernelManager):
        kernel_env = run_env  # a warm kernel's manager: set by the notebook that starts it (kernels.papermill_kwargs)

        @default("client_factory")
        def _default_client_factory(self) -> type:
            return kernels.quick_ready_client()

        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:  # the sockets' path prefix: under .cache, not the working directory
            # one prefix per kernel: kernels started at the same moment (a batch of drift runs in threads, two runs
            # in two terminals) would otherwise pick the same socket files
            (PROJECT_ROOT / ".cache").mkdir(parents=True, exist_ok=True)
            return str(PROJECT_ROOT / ".cache" / f"kernel-ipc-{uuid.uuid4().hex[:8]}")

        async def _async_finish_shutdown(
            self, waittime: float | None = None, pollinterval: float = 0.1, restart: bool = False
        ) -> None:
            # after its shutdown request a kernel is gone within some 10-30 ms; jupyter_client looks every 0.1 s,
            # so every run waited 0.1 s for it (14% of a small customer's run in a batch)
            await super()._async_finish_shutdown(waittime, min(pollinterval, SHUTDOWN_POLL), restart)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> Any:
            log = PROJECT_ROOT / ".cache" / "kernel.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as err:  # the kernel process holds its own copy of the descriptor
                kw.setdefault("stderr", err)
                kw["env"] = {**(kw.get("env") or os.environ), **self.kernel_env}
                # the kernel's working directory given to it, not papermill's `cwd`: that is a chdir of this whole
                # process, which two worker threads' runs would undo under each other
                kw.setdefault("cwd", str(PROJECT_ROOT))
                # inside `fork_kernels()`: forked from the process that has imported what a kernel imports
                return await super()._async_launch_kernel(kernels.kernel_command(kernel_cmd), **kw)

    return IpcKernelManager


def check_stage_inputs(params: Any, stage: int) -> None:
    """Every parameter section the stage's automated steps need, and the secrets the run must read to sign in,
    checked before the notebook starts."""
    from .errors import ParameterError
    from .steps import REGISTRY

    check_sign_in_refs(params)

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
        from .customer import sheet

        path = sheet.sheet_path(params.customer, params.resource_sheet.path)
        if path.exists():
            sheet.read(path, None)  # its form (header, Yes/No, duplicates) before any Azure call; IDs are checked live


def execute(
    source: Path, output: Path, parameters: dict, timeout: int, log_output: bool, env: dict[str, str] | None = None
) -> tuple[str, bool]:
    """Execute a notebook with papermill into a run folder (its kernel in the project's root, over Unix sockets; SIGTERM
    interrupts it as Ctrl-C does; `env` in the kernel's environment, over this process's): the run's error ('' when it
    ran to the end) and whether it was interrupted. What the kernel saved before a failure stays in `output`."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .authoring import kernels

    pool = kernels.current()  # inside kernels.reuse(): the notebooks of this block share one warm kernel
    warm = kernels.papermill_kwargs(pool, KERNEL, str(PROJECT_ROOT), env)
    try:
        with interrupts():
            papermill.execute_notebook(
                str(Path(source).absolute()),
                str(Path(output).absolute()),
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=None,  # the kernel starts in the project's root (`_ipc_kernel_manager`); this process stays put
                log_output=log_output,
                progress_bar=False,
                execution_timeout=timeout,
                request_save_on_cell_execute=True,
                kernel_manager_class=_ipc_kernel_manager(env),
                **warm,
            )
    except PapermillExecutionError as exc:
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}", False
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM via interrupts(): seal what was done
        why = getattr(exc, "why", "SIGTERM" if isinstance(exc, Interrupted) else "SIGINT")
        return f"interrupted by {why}; the evidence holds everything applied until then", True
    except Exception as exc:  # kernel died, timeout: keep what was saved, mark the run failed
        return f"{type(exc).__name__}: {exc}", False
    return "", False


def run_stage(
    customer: str,
    stage: int,
    apply: bool = False,
    force: bool = False,
    timeout: int = 900,
    log_output: bool = False,
    notebook: Path | None = None,
    on_item: Callable[[ItemResult], None] | None = None,
    item: str | None = None,
) -> RunOutcome:
    """Validate, take the customer's run lock, seal runs a killed process left, check the gate, execute the stage
    notebook with papermill (its kernel journals every accepted change), then archive the evidence. With `item`,
    the stage's notebook runs that one item (same gate, same evidence; the run's results hold that item alone)."""
    params = load(customer)  # ParameterError before any Azure call
    if item is not None:
        from .errors import InputError

        known = {i.id: i.stage for i in catalogue.load().items}
        if item not in known:
            raise InputError(f"--item {item}: no such checklist item. Fix: use an id from `runbook status {customer}`.")
        if known[item] != stage:
            raise InputError(
                f"--item {item} belongs to stage {known[item]}, not stage {stage}. Fix: --stage {known[item]} (or leave --stage out)."
            )
    if params.target == "sandbox":
        from .adapters.clients import sandbox_connection_path
        from .customer.params import check_sandbox_tenant

        check_sandbox_tenant(params, sandbox_connection_path())
    store = EvidenceStore(params.customer)
    with store.lock(f"stage {stage}{' --apply' if apply else ''}") as stale:
        if stale:
            log.warning(
                "took over a stale lock of %s (pid %s on %s, since %s)",
                params.customer,
                stale.get("pid"),
                stale.get("host"),
                stale.get("started"),
            )
        for run_id in store.recover():
            log.warning("sealed run %s of %s from its journal: its process was killed", run_id, params.customer)
        return _run_locked(store, params, stage, apply, force, timeout, log_output, notebook, on_item, item)


def _run_locked(
    store: EvidenceStore,
    params,
    stage: int,
    apply: bool,
    force: bool,
    timeout: int,
    log_output: bool,
    notebook: Path | None,
    on_item: Callable[[ItemResult], None] | None,
    item: str | None = None,
) -> RunOutcome:
    check_stage_inputs(params, stage)  # exit 2 before any Azure call
    blocking = store.gate(stage)
    if blocking and not force:
        raise StageGateError(stage, blocking)
    four_eyes: tuple[dict, dict[str, str]] = ({}, {})  # header facts, and the kernel's approved plan
    if params.approval_required:  # an apply needs a second person's approval of the reviewed plan (exit 3)
        from .operate.approve import gate

        four_eyes = gate(params, stage, apply)
    st = catalogue.load().stage(stage)
    run = store.new_run(stage)
    run_id, run_dir = run.run_id, run.path
    source = Path(notebook) if notebook else stage_notebook(st.notebook)
    output = run_dir / source.name
    journal_path = run.journal_path
    started = stamp()
    kernel_env = {
        BATCH_ENV: "1",  # the kernel's progress as plain lines, not widgets
        journal.JOURNAL_ENV: str(journal_path),  # ... its journal here
        **({ONLY_ITEM_ENV: item} if item else {}),  # ... that item only
        **four_eyes[1],  # ... and the approved plan only
    }
    tail = JournalTail(journal_path, on_item) if on_item else None
    if tail:
        tail.start()
    try:
        error, interrupted = execute(
            source,
            output,
            {"customer": params.customer, "apply": bool(apply), "run_id": run_id, "forced": bool(blocking)},
            timeout,
            log_output,
            kernel_env,
        )
    finally:
        if tail:
            tail.done.set()
            tail.join(5)
    items = store.results(stage, output, journal_path, error, only=item)
    done = all(r.status in catalogue.DONE_STATUSES for r in items)
    state = "interrupted" if interrupted else "failed" if error else "complete" if done else "incomplete"
    outcome = RunOutcome(params.customer, stage, run_id, run_dir, state, items, error, bool(blocking), item or "")
    store.seal(
        outcome,
        {
            "started_at": started,
            "apply": bool(apply),
            "blocking_items": blocking,
            "parameters_sha256": parameters_hash(params.customer),
            **({"item": item} if item else {}),
            **four_eyes[0],
        },
        secrets.stored_values(params.secret_refs()),
    )
    return outcome


def chromium_executable() -> str | None:
    """The Chromium to print with: playwright's own build when installed, else the system's (Debian's `chromium`,
    as the browser tests use it), else None."""
    import shutil

    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            own = pw.chromium.executable_path
    except Exception:  # playwright missing, or its driver cannot start
        return None
    if Path(own).exists():
        return own
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


class _Printer(threading.Thread):
    """Chromium through playwright in a thread of its own (playwright's sync API stays in the thread that started
    it), launched as soon as the printer is made, so the browser starts while the report's notebook runs; `print`
    hands it a page and waits for the PDF."""

    def __init__(self, executable: str) -> None:
        super().__init__(name="pdf-printer", daemon=True)
        self.executable = executable
        self.pages: queue.Queue[Path | None] = queue.Queue()
        self.done: queue.Queue[BaseException | None] = queue.Queue()
        self.closing = False
        self.start()

    def run(self) -> None:
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=self.executable, args=["--no-sandbox"], headless=True)
                try:
                    while (html := self.pages.get()) is not None:
                        try:
                            page = browser.new_page()
                            page.goto(html.resolve().as_uri())
                            page.pdf(path=str(html.with_suffix(".pdf")), format="A4", print_background=True)
                            page.close()
                        except Exception as exc:
                            self.done.put(exc)
                        else:
                            self.done.put(None)
                finally:
                    browser.close()
        except Exception as exc:  # no browser: every page asked for gets the error (none is asked once closing)
            while not self.closing and self.pages.get() is not None:
                self.done.put(exc)

    def print(self, html: Path) -> None:
        """Print `html` to the PDF beside it (same name), raising what the browser raised."""
        if not self.is_alive() and self.done.empty():
            raise RuntimeError("the PDF printer has stopped")
        self.pages.put(html)
        error = self.done.get()
        if error is not None:
            raise error

    def close(self) -> None:
        self.closing = True
        self.pages.put(None)
        self.join(timeout=30)


@contextmanager
def pdf_printer() -> Iterator[Callable[[Path], None] | None]:
    """A block in which HTML pages print to PDF with Chromium through playwright (what nbconvert's webpdf exporter
    uses), the browser started at the block's start; None when no Chromium is installed (`apt-get install chromium`,
    or `python -m playwright install chromium`)."""
    executable = chromium_executable()
    if executable is None:
        yield None
        return
    printer = _Printer(executable)
    try:
        yield printer.print
    finally:
        printer.close()


PDF_HINT = "no PDF: no Chromium is installed (install it with `apt-get install chromium` or `python -m playwright install chromium`)"


def run_report(customer: str, month: str = "", timeout: int = 900, log_output: bool = False) -> RunOutcome:
    """`runbook report`: the monthly report notebook executed with papermill into a new evidence run of the customer
    (under its run lock, after sealing what a killed process left), sealed with its HTML, report.json, results and
    manifest in the hash chain, and a PDF when a converter is installed (`pdf_printer`). A bad month is an
    InputError (exit 2) before anything runs."""
    from .authoring.notebooks import REPORT_NOTEBOOK
    from .customer.params import check_sign_in_refs
    from .evidence.store import REPORT_KIND
    from .operate.report import month_of

    params = load(customer)
    m = month_of(month)
    check_sign_in_refs(params)
    if params.target == "sandbox":
        from .adapters.clients import sandbox_connection_path
        from .customer.params import check_sandbox_tenant

        check_sandbox_tenant(params, sandbox_connection_path())
    store = EvidenceStore(params.customer)
    with store.lock(f"report {m.label}") as stale:
        if stale:
            log.warning("took over a stale lock of %s (pid %s)", params.customer, stale.get("pid"))
        for run_id in store.recover():
            log.warning("sealed run %s of %s from its journal: its process was killed", run_id, params.customer)
        run = store.new_run(-1, kind=REPORT_KIND)
        source = stage_notebook(REPORT_NOTEBOOK)
        started = stamp()
        with pdf_printer() as printer:  # Chromium starts while the notebook runs
            error, interrupted = execute(
                source,
                run.path / source.name,
                {"customer": params.customer, "month": m.label, "run_id": run.run_id},
                timeout,
                log_output,
            )
            state = "interrupted" if interrupted else "failed" if error else "complete"
            outcome = RunOutcome(params.customer, -1, run.run_id, run.path, state, [], error)
            printer = printer if not error else None
            store.seal(
                outcome,
                {
                    "stage": None,
                    "kind": REPORT_KIND,
                    "month": m.label,
                    "started_at": started,
                    "apply": False,
                    "parameters_sha256": parameters_hash(params.customer),
                    "pdf": "printed by Chromium (playwright)" if printer else PDF_HINT,
                },
                secrets.stored_values(params.secret_refs()),
                printer,
            )
        return outcome


def run_all(
    customer: str,
    apply: bool = False,
    force: bool = False,
    stages: list[int] | None = None,
    on_outcome=None,
    **run_kwargs,
) -> list[RunOutcome]:
    """Run stages in order; stops at the first stage whose gate is closed (unless forced). Several stages share one
    warm kernel (`reuse_kernel`), each still its own executed notebook."""
    outcomes = []
    numbers = stages if stages is not None else [s.number for s in catalogue.load().stages]
    with reuse_kernel() if len(numbers) > 1 else nullcontext():
        for n in numbers:
            outcome = run_stage(customer, n, apply=apply, force=force, **run_kwargs)
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
            if outcome.status in ("failed", "refused", "interrupted"):
                break
    return outcomes


def reuse_kernel(pool: Any = None):
    """A block whose notebook runs (stages, the report) share one warm kernel of this thread (`runbook.authoring.kernels`):
    `pool`'s (from `prestarted_kernel`), else one started by the first notebook."""
    from .authoring import kernels

    return kernels.reuse(_ipc_kernel_manager(), pool)


def prestarted_kernel() -> Any:
    """A warm kernel's pool whose kernel starts now and imports the notebooks' library (`runbook.notebook`) while the
    caller does other work; give it to `reuse_kernel`. The caller closes it (`close()`) if no block does."""
    from .authoring import kernels

    pool = kernels.KernelPool(_ipc_kernel_manager())
    pool.prestart(KERNEL, str(PROJECT_ROOT), warmup="import runbook.notebook")
    return pool


def fork_kernels():
    """A block (a batch of customers in this process) whose kernels are forked from one process that imported what a
    kernel imports (`runbook.authoring.forkserver`): each run still gets a new kernel process of its own."""
    from .authoring import kernels

    return kernels.forking(str(PROJECT_ROOT))


def _close_thread_loop() -> None:
    """In a worker thread (a batch over customers), close the event loop papermill's client opened for this thread
    (jupyter_core makes one per thread and leaves it open: its sockets would leak)."""
    if threading.current_thread() is threading.main_thread():
        return
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


def run_drift(
    customer: str,
    apply: bool = False,
    timeout: int = 900,
    log_output: bool = False,
    notebook: Path | None = None,
):
    """`runbook drift <customer>`: under the customer's run lock (killed runs sealed first), execute the drift
    notebook with papermill (its kernel inspects every in-scope item again, classifies, and with `apply` re-applies
    what deviates through the reviewed-plan path, journaling as it goes), then seal the run like a stage run: the
    notebook, its HTML, results.json (every item's report and the findings), the manifest in the chain, the anchor.
    Safe in threads (a batch over customers): nothing is passed through this process's environment."""
    from .authoring.notebooks import drift_notebook
    from .operate import drift, offboard

    params = load(customer)  # ParameterError before any Azure call
    check_sign_in_refs(params)

    def offboarded(store: EvidenceStore) -> drift.DriftOutcome | None:
        gone = offboard.offboarded(store)
        if gone is None:
            return None
        # the customer left: nothing to re-verify, nothing drifted
        return drift.DriftOutcome(params.customer, gone.name, gone, "offboarded", [], "", apply)

    def conclude(run: Run, error: str, interrupted: bool, started: str) -> tuple[Any, dict, list[ItemResult]]:
        reports, results = drift.collect(run.journal_path)
        outcome = drift.DriftOutcome(
            params.customer, run.run_id, run.path, drift.state_of(reports, error, interrupted), reports, error, apply
        )
        return outcome, drift.header(outcome, started, parameters_hash(params.customer)), results

    return _sealed_run(
        params,
        "drift",
        apply,
        notebook,
        drift_notebook,
        timeout,
        log_output,
        conclude,
        serve="`runbook demo --serve` (onboards the demo and keeps serving), or `runbook sandbox serve`",
        skip=offboarded,
    )


def run_offboard(
    customer: str,
    apply: bool = False,
    timeout: int = 900,
    log_output: bool = False,
    notebook: Path | None = None,
    only: tuple[str, ...] = (),
    tier_to: str = "",
):
    """`runbook offboard <customer>`: under the customer's run lock (killed runs sealed first), execute the offboarding
    notebook with papermill (its kernel plans every automated item's undo and, with `apply`, removes the reviewed
    plan, journaling each deletion Azure accepted), then seal the run (kind `offboard`) like a drift run. A tier change
    (`only`: the items the new tier `tier_to` does not include) runs the same notebook for those items."""
    from .authoring.notebooks import offboard_notebook
    from .operate import offboard

    params = load(customer)  # ParameterError before any Azure call
    check_sign_in_refs(params)
    offboard.check_inputs(params, apply, only)  # deleting backup data needs the customer's agreement (exit 2)

    def conclude(run: Run, error: str, interrupted: bool, started: str) -> tuple[Any, dict, list[ItemResult]]:
        results = offboard.collect(run.journal_path)
        outcome = offboard.OffboardOutcome(
            params.customer,
            run.run_id,
            run.path,
            offboard.state_of(results, apply, error, interrupted),
            results,
            error,
            apply,
        )
        header = offboard.header(outcome, started, parameters_hash(params.customer)) | (
            {"tier_to": tier_to, "tier_from": params.tier, "only": list(only)} if tier_to else {}
        )
        return outcome, header, results

    return _sealed_run(
        params,
        offboard.OFFBOARD,
        apply,
        notebook,
        offboard_notebook,
        timeout,
        log_output,
        conclude,
        serve="`runbook demo --serve`, or `runbook sandbox serve`",
        parameters={"only": ",".join(only)},
        # approval required: an apply needs a second person's (exit 3)
        gate=lambda: offboard.gate(params, apply, tier_to),
    )


def _sealed_run(
    params: Any,
    kind: str,
    apply: bool,
    notebook: Path | None,
    default_notebook: Callable[[], Path],
    timeout: int,
    log_output: bool,
    conclude: Callable[[Run, str, bool, str], tuple[Any, dict, list[ItemResult]]],
    *,
    serve: str,
    parameters: dict[str, Any] | None = None,
    skip: Callable[[EvidenceStore], Any] | None = None,
    gate: Callable[[], tuple[dict, dict[str, str]]] | None = None,
) -> Any:
    """What a drift and an offboard run share around their notebook: on the sandbox, one line before any run folder
    when it is not running (the fix: `serve`); `skip`'s outcome when it has one (nothing run, no lock taken); else
    under the customer's run lock (`kind`, with ` --apply`; a stale one taken over, killed runs sealed first) the
    `gate` (four eyes: the header's facts and what the kernel's environment carries: the approved plan), a new run of
    `kind`, its notebook (`notebook`, else `default_notebook()`) executed with papermill (customer, apply, run_id, then
    `parameters`), `conclude(run, error, interrupted, started)`'s outcome, header and results from what the kernel
    journaled, and the run sealed (`EvidenceStore.archive`; refused: the outcome says so and the EvidenceError is
    raised)."""
    if params.target == "sandbox":
        from .adapters.clients import sandbox_connection_path
        from .customer.params import check_sandbox_tenant
        from .errors import TargetError

        if not sandbox_connection_path().exists():  # one line before any run folder, not a failure per item
            raise TargetError(f"no sandbox is running (missing {sandbox_connection_path()}). Fix: {serve}")
        check_sandbox_tenant(params, sandbox_connection_path())
    store = EvidenceStore(params.customer)
    skipped = skip(store) if skip is not None else None
    if skipped is not None:
        return skipped
    with store.lock(f"{kind}{' --apply' if apply else ''}") as stale:
        if stale:
            log.warning("took over a stale lock of %s (pid %s)", params.customer, stale.get("pid"))
        for run_id in store.recover():
            log.warning("sealed run %s of %s from its journal: its process was killed", run_id, params.customer)
        four_eyes: tuple[dict, dict[str, str]] = gate() if gate is not None else ({}, {})
        run = store.new_run(0, kind=kind)
        source = Path(notebook) if notebook else default_notebook()
        output = run.path / source.name
        started = stamp()
        try:
            values = {"customer": params.customer, "apply": bool(apply), "run_id": run.run_id, **(parameters or {})}
            # the kernel removes the approved plan only
            error, interrupted = execute(source, output, values, timeout, log_output, four_eyes[1])
        finally:
            _close_thread_loop()
        outcome, header, results = conclude(run, error, interrupted, started)
        try:
            store.archive(
                run,
                header | four_eyes[0],
                [r.to_dict() for r in results],
                secrets.stored_values(params.secret_refs()),
            )
        except EvidenceError as exc:
            outcome.status, outcome.error = "refused", str(exc)
            raise
        return outcome
