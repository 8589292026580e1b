"""A batch over many customers on Dask (`dask.distributed`): one task per customer, its stages in order inside it.

`runbook run|drift|report` over more than one customer submits one `Job` per customer to a Dask cluster: a
`LocalCluster` sized to the machine (or `--workers N`), or an existing scheduler (`--scheduler tcp://host:8786`, or
`$DASK_SCHEDULER_ADDRESS`). Each task runs `run_customer`, one customer at a time per worker: it calls the runner
exactly as the sequential CLI does (its own papermill kernel per run, its own sandbox connection from the parameters
folder and the connection file), under the customer's run lock, which lives with the evidence (`evidence/lock.py`),
so it holds across workers and machines. A LocalCluster's workers are threads of this process (`processes=False`):
what a run computes happens in its kernel, a process of its own forked from this process's one fork server; a worker
only drives papermill and seals the evidence (a tenth of a run's CPU). Worker processes would each import the runner,
papermill and Dask and run Dask's machinery again, a fifth more CPU on the cores the kernels need (issue 24). The
run's own environment (its journal, the approved plan) goes to its kernel alone (`runner.execute`), never into this
process's, so two customers' runs in two threads never see each other's.
The locations the run needs (parameters, evidence, anchors, the sandbox's connection file) travel with the job,
explicitly, as absolute paths; secrets never do (a `{env: ...}` reference is read from the worker's own environment).
The task returns a small picklable `CustomerOutcome`; the caller streams them as customers finish
(`distributed.as_completed`).

Stopping: `Batch.stop()` (the CLI calls it on Ctrl-C or SIGTERM) sets a Dask `Event` the tasks watch, cancels the
tasks not started, and lets the started ones end as an interrupted run does: the watcher raises
`runner.BatchStopped` in the task's thread while its notebook executes (the runner then seals the run as
`interrupted`, as for a SIGTERM), or the task stops before its next stage; the caller waits for them, then closes
the cluster. A task that never got to run reports `cancelled` and took no lock. A Ctrl-C or SIGTERM is this
process's to handle (worker processes, `Batch(processes=True)`, ignore both: `dask_setup`, their preload; a terminal's
Ctrl-C and systemd's SIGTERM reach the whole process group). One while the cluster starts is held until it has
started (never a half-started cluster), then stops the batch before any task runs. A task whose worker process dies
fails at once (the LocalCluster's `allowed-failures` is 0): never re-run elsewhere, never waited for. A second Ctrl-C (or SIGTERM) while the started runs seal stops at once: the runs still open are reported
as such (`interrupted_text`), sealed from their journals by the customer's next run or `evidence verify --repair`.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import HOME_ENV, errors

KINDS = ("run", "drift", "report")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CANCELLED = "cancelled"  # a customer whose task was cancelled before it started: nothing ran, no lock taken
STILL_RUNNING = "still running when the batch stopped"  # a second Ctrl-C did not wait for it to seal its run


def locations() -> dict[str, str]:
    """The runbook's locations as this process resolves them, absolute: a worker (on this machine or another that
    mounts the same paths) runs with exactly these. No secret is among them."""
    from .adapters.clients import SANDBOX_CONNECTION_ENV, sandbox_connection_path
    from .authoring.workcopy import WORK_ENV
    from .customer.params import PARAMETERS_ENV, parameters_dir
    from .evidence.anchor import ANCHOR_DIR_ENV, ANCHOR_KEY_ENV
    from .evidence.archive import EVIDENCE_ENV
    from .evidence.archive import root as evidence_root
    from .evidence.lock import STALE_AFTER_ENV

    env = {
        PARAMETERS_ENV: str(parameters_dir().resolve()),
        EVIDENCE_ENV: str(evidence_root().resolve()),
        SANDBOX_CONNECTION_ENV: str(sandbox_connection_path().resolve()),
    }
    for name in (HOME_ENV, ANCHOR_DIR_ENV, ANCHOR_KEY_ENV, WORK_ENV, STALE_AFTER_ENV):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


@dataclass(frozen=True)
class Job:
    """One customer's task: what to run (`kind` run, drift or report, with its options), the locations it runs with,
    and the name of the batch's stop event."""

    kind: str
    customer: str
    options: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    stop: str = ""
    origin: str = ""  # host:pid of the process that submitted it (a LocalCluster's worker threads run in it)


@dataclass(frozen=True)
class StageLine:
    """One stage run of a customer, as the batch prints it."""

    stage: int
    status: str
    counts: dict[str, int]
    run_dir: str
    error: str = ""
    forced: bool = False


@dataclass
class CustomerOutcome:
    """What one customer's task sends back: small and picklable (no item records, no clients)."""

    customer: str
    kind: str
    exit_code: int
    stages: list[StageLine] = field(default_factory=list)
    detail: Any = None  # drift: its DriftOutcome (item states and findings); report: the report's RunOutcome
    error: str = ""  # the one line of an error that stopped the customer (bad parameters, busy, ...)
    seconds: float = 0.0
    worker: str = ""  # host:pid of the process that ran it
    peak_rss_mb: float = 0.0  # that process's peak resident memory so far
    kernel_peak_rss_mb: float = 0.0  # the largest papermill kernel it started so far

    @property
    def status(self) -> str:
        if self.error:
            return CANCELLED if self.error == CANCELLED else "error"
        if self.kind == "run":
            return self.stages[-1].status if self.stages else "complete"
        return str(getattr(self.detail, "status", "complete"))


def _peaks() -> tuple[float, float]:
    """This process's peak RSS and its largest kernel's (a waited-for child, or one its fork server forked), in MB
    (ru_maxrss: KiB on Linux, bytes on macOS)."""
    from .authoring import kernels

    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / per_mb
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / per_mb
    kids = max(kids, kernels.forked_kernel_peak_kb() / 1024)  # kernels forked by the worker's fork server
    return round(own, 1), round(kids, 1)


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """The job's locations for the length of the task (a worker runs one task at a time), restored afterwards."""
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Watcher(threading.Thread):
    """Watches the batch's stop event; once it is set, interrupts the task's thread while a notebook executes in it
    (`runner.execute`, which seals the run as interrupted), never in the middle of sealing."""

    def __init__(self, event: Any, target: int) -> None:
        """`event`: the batch's stop event (a Dask `Event`, or anything with its `is_set() -> bool`); `target`:
        the ident of the task's thread."""
        super().__init__(name="batch-stop-watcher", daemon=True)
        self.event, self.target = event, target
        self.stopped, self.done = threading.Event(), threading.Event()
        self.swallowed = threading.Event()  # Python swallowed the BatchStopped raised in the task's thread

    def start(self) -> None:
        _WATCHING[self.target] = self
        super().start()

    def executing(self) -> bool:
        """Whether the task's thread is inside papermill's `execute_notebook`, that is inside the `try` of
        `runner.execute` that seals an interrupted run; not merely inside `runner.execute`, whose first lines (before
        that `try`) an interrupt would escape, leaving the run unsealed."""
        from papermill.execute import execute_notebook

        frame = sys._current_frames().get(self.target)
        while frame is not None:
            if frame.f_code is execute_notebook.__code__:
                return True
            frame = frame.f_back
        return False

    def run(self) -> None:
        from . import runner

        while not self.done.is_set():
            if not self.stopped.is_set():
                # a quick question to the scheduler, then a wait the task's end cuts short: never the event's own
                # `wait(timeout)`, a call to the scheduler the task's end cannot interrupt (it held each task's end
                # up to its timeout: 0.2 s a customer on average, a fifth of a small customer's run)
                try:
                    if self.event.is_set():
                        self.stopped.set()
                except Exception:  # the scheduler went away: the task ends on its own
                    return
                if not self.stopped.is_set():
                    self.done.wait(POLL)
                    continue
            if self.stopped.is_set() and not self.done.is_set() and self.executing():  # never into a later task
                # the exception is raised at the thread's next bytecode, wherever that is: in a callback Python calls
                # for itself (a gc callback, a __del__) it is swallowed ("Exception ignored in ...") and the notebook
                # goes on. The unraisable hook says so (`_unraisable_stop_quiet`): then it is raised again.
                self.swallowed.clear()
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.target), ctypes.py_object(runner.BatchStopped)
                )
                while not self.done.is_set() and not self.swallowed.wait(0.1):
                    pass
                continue
            if self.stopped.is_set():
                self.done.wait(0.1)
        if _WATCHING.get(self.target) is self:
            del _WATCHING[self.target]


POLL = 0.5  # seconds between the watcher's questions to the scheduler: how soon a started task sees a stop
_WATCHING: dict[int, _Watcher] = {}  # task thread -> its watcher (a LocalCluster's worker threads: several at once)


def _unraisable_stop_quiet() -> None:
    """In this process, a `runner.BatchStopped` Python had to swallow (raised by the watcher in a callback such as a gc
    callback; the watcher raises it again) is not printed as an ignored exception with its traceback; anything else
    still is, by the hook that was there."""
    from . import runner

    hook = sys.unraisablehook
    if getattr(hook, "_batch_stop_quiet", False):
        return

    def quiet(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, runner.BatchStopped):
            watcher = _WATCHING.get(threading.get_ident())  # the hook runs in the thread that swallowed it
            if watcher is not None:
                watcher.swallowed.set()
            return
        hook(unraisable)

    quiet._batch_stop_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = quiet


def dask_setup(worker: Any) -> None:
    """A LocalCluster worker's preload (in its process's main thread): SIGINT and SIGTERM ignored. A terminal's Ctrl-C
    goes to the whole process group, the worker processes included, and so does systemd's SIGTERM when it stops a
    service; unhandled either would kill them, their tasks lost and their runs unsealed. The batch's own process
    handles both (`Batch.stop`: the started runs sealed); the cluster closes its workers by message (and SIGKILL when
    one does not go)."""
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # SIGTERM: a handler that does nothing, not SIG_IGN, which the kernels this worker starts would inherit
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        # born with both blocked (`_workers_born_ignoring_signals`): unblocked now, a pending one is discarded or
        # handled, and what this worker starts (fork server, kernels) is not born blocked
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    from . import PROJECT_ROOT
    from .authoring import kernels

    # the worker's fork server starts now: its preload (IPython, the SDK, msgraph: ~3 s) runs while the cluster
    # starts and the tasks are submitted, not in the first customer's run
    kernels.fork_for_process(str(PROJECT_ROOT))


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM held during this block (the cluster's start, the submission) and raised as KeyboardInterrupt
    after it: a cluster is never left half started, a task never submitted without its future kept."""
    from .runner import signals_handled

    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        held.append(signum)

    with signals_handled(hold):
        yield
    if held:
        raise KeyboardInterrupt


@contextmanager
def _workers_born_ignoring_signals() -> Iterator[None]:
    """While the LocalCluster starts, its worker processes are spawned with SIGINT and SIGTERM blocked (whichever of
    Dask's threads spawns them: multiprocessing's `util.spawnv_passfds` is wrapped for the block). A signal mask
    survives fork and exec, a Python handler does not: a Ctrl-C to the whole group (or systemd's SIGTERM) in the
    second a worker takes to import stays pending instead of killing it, until its preload (`dask_setup`) ignores
    both and unblocks them, which discards it."""
    import multiprocessing.util as mp_util
    import signal

    spawn = mp_util.spawnv_passfds
    wanted = {signal.SIGINT, signal.SIGTERM}

    def spawn_blocked(*args: Any, **kwargs: Any) -> Any:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
        try:
            return spawn(*args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    mp_util.spawnv_passfds = spawn_blocked
    try:
        yield
    finally:
        mp_util.spawnv_passfds = spawn


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored in this block (in the main thread; elsewhere signals are not delivered anyway)."""
    import signal

    from .runner import signals_handled

    with signals_handled(signal.SIG_IGN):
        yield


def _own_event_loop() -> None:
    """A worker thread of the submitting process runs its task in a copy of the context of the thread that submitted
    it, where jupyter_core keeps the event loop its `run_sync` uses (a context variable): a loop of that thread's, which
    two worker threads would then both try to run ("This event loop is already running"). This task's papermill opens
    its own."""
    try:
        from jupyter_core.utils import _loop
    except ImportError:  # another jupyter_core: it keeps its loops per thread
        return
    _loop.set(None)


def _worker_name() -> str:
    """The Dask worker this task runs on (a LocalCluster's worker threads share one process: told apart by it)."""
    try:
        from distributed import get_worker

        return f"worker-{get_worker().name}"
    except Exception:
        return threading.current_thread().name


def _stop_requested(name: str) -> bool:
    if not name:
        return False
    from distributed import Event, get_client

    try:
        return bool(Event(name, client=get_client()).is_set())
    except Exception:
        return False


def run_customer(job: Job) -> CustomerOutcome:
    """One customer's task, in a worker process: its stages in order (or its drift run, or its report) through the
    runner, under its run lock. Never raises: an error is the customer's one line and exit code."""
    from . import runner
    from .evidence import status

    started = time.monotonic()
    here = f"{os.uname().nodename}:{os.getpid()}"
    in_process = job.origin == here  # a worker thread of the submitting process: its environment is the job's
    who = f"{here}/{_worker_name()}" if in_process else here
    out = CustomerOutcome(job.customer, job.kind, errors.EXIT_OK, worker=who)
    if _stop_requested(job.stop):
        out.exit_code, out.error = errors.EXIT_INTERRUPTED, CANCELLED
        return out
    watcher = None
    if job.stop:
        from distributed import Event, get_client

        watcher = _Watcher(Event(job.stop, client=get_client()), threading.get_ident())
    if watcher:
        _unraisable_stop_quiet()
        watcher.start()
    o = job.options
    if in_process:
        _own_event_loop()
    try:
        with nullcontext() if in_process else _environment(job.env):
            from . import PROJECT_ROOT
            from .authoring import kernels

            kernels.fork_for_process(str(PROJECT_ROOT))  # this worker's kernels fork from one pre-imported process
            if job.kind == "run":
                stages = o.get("stages") or [s.number for s in _stages()]
                for n in stages:
                    if watcher and watcher.stopped.is_set():
                        raise runner.Interrupted(f"stopped before stage {n}")
                    r = runner.run_stage(
                        job.customer,
                        n,
                        apply=bool(o.get("apply")),
                        force=bool(o.get("force")),
                        timeout=int(o.get("timeout", 900)),
                        item=o.get("item"),
                    )
                    counts: dict[str, int] = {}
                    for item in r.items:
                        counts[item.status] = counts.get(item.status, 0) + 1
                    out.stages.append(StageLine(n, r.status, counts, status.link(r.run_dir), r.error, r.forced))
                    out.exit_code = max(out.exit_code, r.exit_code, key=_severity)
                    if r.status in ("failed", "refused", "interrupted"):
                        break
            elif job.kind == "drift":
                d = runner.run_drift(job.customer, apply=bool(o.get("apply")), timeout=int(o.get("timeout", 900)))
                out.detail, out.exit_code = d, d.exit_code
            elif job.kind == "report":
                r = runner.run_report(job.customer, str(o.get("month") or ""), timeout=int(o.get("timeout", 900)))
                out.detail, out.exit_code = r, r.exit_code
            else:
                raise errors.InputError(f"unknown batch kind {job.kind!r}; one of {', '.join(KINDS)}")
    except runner.Interrupted:  # stopped between stages (the watcher found no notebook executing)
        out.exit_code = errors.EXIT_INTERRUPTED
        out.error = out.error or "interrupted before its next stage; every stage it started is sealed"
    except Exception as exc:  # one customer's error (or a bug) does not stop the others: one line for it
        out.exit_code, out.error = errors.exit_code_of(exc), errors.describe(exc).removeprefix("error: ")
    finally:
        if watcher:
            watcher.done.set()
            watcher.join(2)
        runner._close_thread_loop()  # papermill's event loop of this worker thread (the next task opens its own)
    out.seconds = round(time.monotonic() - started, 2)
    out.peak_rss_mb, out.kernel_peak_rss_mb = _peaks()
    return out


def _stages() -> list[Any]:
    from .customer import catalogue

    return list(catalogue.load().stages)


SEVERITY = (
    errors.EXIT_OK,
    errors.EXIT_INCOMPLETE,
    errors.EXIT_BAD_INPUT,
    errors.EXIT_BUSY,
    errors.EXIT_FAILED,
    errors.EXIT_INTERRUPTED,
)


def _severity(code: int) -> int:
    """Worst last: interrupted, a failure, busy, bad input, incomplete, done (the order of the CLI's exit codes)."""
    return SEVERITY.index(code) if code in SEVERITY else SEVERITY.index(errors.EXIT_FAILED)


def worst(codes: list[int]) -> int:
    """The batch's exit code: the worst of its customers' (0 for none)."""
    return max(codes, key=_severity, default=errors.EXIT_OK)


LOCAL_CLUSTER_CONFIG = {
    # a task whose worker dies fails at once: never started again elsewhere behind the engineer's back
    "distributed.scheduler.allowed-failures": 0,
    # no statistical profiler in the workers: it samples every thread's stack every 10 ms, CPU taken from the
    # kernels on the same cores (~4% of a core per worker); nobody reads its profiles (there is no dashboard)
    "distributed.worker.profile.enabled": False,
}


def default_workers() -> int:
    """A LocalCluster sized to the machine: one worker process per core."""
    return max(1, os.cpu_count() or 1)


def scheduler_address(given: str | None) -> str:
    """--scheduler, else $DASK_SCHEDULER_ADDRESS, else '' (a LocalCluster)."""
    return (given or os.environ.get(SCHEDULER_ENV) or "").strip()


class Batch:
    """A Dask client for one batch: a LocalCluster of `workers` processes (one thread each), or the scheduler at
    `address`. Use as a context manager; `submit` the jobs, iterate `results()` as they finish, `stop()` on an
    interrupt."""

    def __init__(self, workers: int | None = None, address: str = "", processes: bool = False) -> None:
        """`processes`: a LocalCluster of worker processes (each its own preload and imports) instead of worker
        threads of this process; their kernels fork from this process's one fork server either way."""
        self.workers, self.address, self.processes = workers or default_workers(), address, processes
        self.stop_name = f"runbook-batch-stop-{uuid.uuid4().hex[:12]}"
        self.cluster: Any = None
        self.client: Any = None
        self.futures: list[Any] = []
        self._open: list[Any] = []  # the tasks still open when `stop` was called
        self._customer: dict[str, str] = {}
        self.fork_server: Any = None  # a LocalCluster's: its workers' kernels fork from it (one preload, not one each)
        self._forking: Any = None  # ... made this process's own (`kernels.forking`) for worker threads

    def __enter__(self) -> Batch:
        self.open()
        return self

    def open(self) -> None:
        """Start the LocalCluster (or connect to the scheduler) and the client. On a LocalCluster a task whose worker
        dies fails at once (`allowed-failures` 0): a customer's run is never started again elsewhere behind the
        caller's back, and a stop does not wait for it."""
        import logging

        if not self.address:
            from . import PROJECT_ROOT
            from .authoring import kernels

            # the machine's one fork server preloads (~3 s of CPU: the first runs wait for it) from now on, while Dask
            # is imported and the cluster starts; each worker process would otherwise start its own, one more preload
            # per worker and per batch, on the same cores
            self._forking = kernels.forking(str(PROJECT_ROOT))
            self.fork_server = self._forking.__enter__()
        import dask
        from distributed import Client

        for name in ("distributed", "tornado", "bokeh"):  # their INFO/WARNING chatter is not the batch's output
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            if self.address:
                self.client = Client(self.address)  # waits distributed.comm.timeouts.connect (30 s) for it
            else:
                born = _workers_born_ignoring_signals() if self.processes else nullcontext()
                with dask.config.set(LOCAL_CLUSTER_CONFIG), born:
                    self.cluster = self._local_cluster()
                self.client = Client(self.cluster)
        except OSError as exc:
            self.close()
            where = self.address or "a LocalCluster"
            raise errors.TargetError(
                f"cannot reach the Dask scheduler at {where}: {exc}. Fix: start it (`dask scheduler`, then `dask worker {self.address or 'tcp://host:8786'}`) or give another --scheduler"
            ) from None

    def _local_cluster(self) -> Any:
        import logging

        from distributed import LocalCluster

        from .authoring.kernels import FORK_SERVER_ENV

        if not self.processes:  # worker threads of this process: this process's signals, environment, fork server
            return LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=False,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            )
        return LocalCluster(
            env={FORK_SERVER_ENV: self.fork_server.address} if self.fork_server is not None else {},
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,  # no dashboard; its HTTP routes on a free port, not 8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
            preload=[__name__],  # dask_setup below: a terminal's Ctrl-C is this process's to handle
        )

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """The client, then the cluster (its workers and what they started); a Ctrl-C or SIGTERM meanwhile (a second
        or third one) is ignored, so the workers are never left half closed: closing takes a few seconds."""
        with _signals_ignored():
            if not self.processes and any(not f.done() for f in self.futures):
                # runs still open (a second Ctrl-C did not wait for them): a worker thread cannot be killed and the
                # cluster's close waits for its task, so its kernel is: the fork server's end kills what it forked,
                # each such run ends (sealed as failed) and its task with it
                self._end_forking()
            for part in (self.client, self.cluster):
                if part is not None:
                    try:
                        part.close()
                    except Exception:
                        pass
            self.client = self.cluster = None
            self._end_forking()  # after its workers: what they forked from it is theirs to stop

    def _end_forking(self) -> None:
        forking, self._forking = self._forking, None
        if forking is not None:
            forking.__exit__(None, None, None)

    def kernel_peak_mb(self) -> float:
        """The largest peak memory (MB) of a kernel the batch's own fork server forked and saw end (0 without one)."""
        return round(self.fork_server.kernel_peak_kb / 1024, 1) if self.fork_server is not None else 0.0

    def submit(self, kind: str, customers: list[str], options: dict[str, Any]) -> None:
        """One task per customer (pure=False: each is a run of its own), in the order given."""
        env = locations()
        origin = f"{os.uname().nodename}:{os.getpid()}"
        for c in customers:  # kept one by one: a stop meanwhile finds every task submitted so far
            future = self.client.submit(
                run_customer,
                Job(kind, c, dict(options), env, self.stop_name, origin),
                key=f"runbook-{kind}-{c}-{uuid.uuid4().hex[:8]}",
                pure=False,
                retries=0,
            )
            self.futures.append(future)
            self._customer[future.key] = c

    def results(self) -> Iterator[CustomerOutcome]:
        """Each customer's outcome as it finishes (a task lost with its worker is that customer's failure)."""
        from distributed import as_completed

        for future in as_completed(self.futures):
            yield self._outcome(future)

    def _outcome(self, future: Any) -> CustomerOutcome:
        customer = self._customer.get(future.key, "?")
        if future.status == "cancelled":
            return CustomerOutcome(customer, "", errors.EXIT_INTERRUPTED, error=CANCELLED)
        try:
            result = future.result()
        except Exception as exc:  # the worker died under it: its run folder keeps the journal (sealed by the next run)
            return CustomerOutcome(
                customer,
                "",
                errors.EXIT_FAILED,
                error=f"its worker was lost ({type(exc).__name__}: {exc}); a run it left is sealed from its journal by the next run or `runbook evidence verify {customer} --repair`",
            )
        return result if isinstance(result, CustomerOutcome) else CustomerOutcome(customer, "", errors.EXIT_FAILED)

    def stop(self, grace: float = 120.0) -> list[CustomerOutcome]:
        """Interrupt the batch: the stop event set, the tasks not started cancelled, the started ones interrupted
        (each seals its run); waits up to `grace` seconds for them and returns the outcomes of what was still open."""
        from distributed import Event, wait

        Event(self.stop_name, client=self.client).set()
        self._open = open_ = [f for f in self.futures if not f.done()]
        started = self._started()
        not_started = [f for f in open_ if f.key not in started]
        if not_started:
            self.client.cancel(not_started)
        running = [f for f in open_ if f.key in started]
        if running:
            try:
                wait(running, timeout=grace)
            except Exception:
                pass
        return self.abandon()

    def abandon(self) -> list[CustomerOutcome]:
        """The outcomes of the tasks `stop` found open, without waiting (a second Ctrl-C): those still running are
        reported as such, their runs sealed from their journals later."""
        return [self._outcome(f) if f.done() else self._lost(f) for f in self._open]

    def _lost(self, future: Any) -> CustomerOutcome:
        customer = self._customer.get(future.key, "?")
        return CustomerOutcome(
            customer,
            "",
            errors.EXIT_INTERRUPTED,
            error=f"{STILL_RUNNING}; its run is sealed from its journal by the next run or `runbook evidence verify {customer} --repair`",
        )

    def _started(self) -> set[str]:
        """Keys of tasks a worker thread is executing. Not the scheduler's `processing`: that includes tasks queued on a
        worker behind the one it executes (worker saturation), which have not started and are cancelled like the rest
        (one that starts meanwhile finds the stop event set and reports `cancelled`)."""
        try:
            per_worker = self.client.run(_executing, on_error="ignore")
        except Exception:
            return {f.key for f in self.futures}
        return {key for keys in per_worker.values() if isinstance(keys, list) for key in keys}


def _executing(dask_worker: Any = None) -> list[str]:
    """On a worker: the keys of the tasks its threads are executing."""
    return [str(ts.key) for ts in dask_worker.state.all_running_tasks]


def peak_text(outcomes: list[CustomerOutcome]) -> str:
    """The memory peak per worker process (and its largest kernel), for the batch's last line."""
    by: dict[str, tuple[float, float]] = {}
    for o in outcomes:
        if o.worker:
            own, kid = by.get(o.worker, (0.0, 0.0))
            by[o.worker] = (max(own, o.peak_rss_mb), max(kid, o.kernel_peak_rss_mb))
    return ", ".join(f"{w} {own:.0f} MB (kernel {kid:.0f} MB)" for w, (own, kid) in sorted(by.items()))


def interrupted_text(outcomes: list[CustomerOutcome]) -> str:
    """The batch's last word after Ctrl-C or SIGTERM: how many customers never started, and whether every started run
    was sealed (a second Ctrl-C does not wait: it names the customers whose runs the next run or --repair seals)."""
    not_started = sum(o.status == CANCELLED for o in outcomes)
    left = sorted(o.customer for o in outcomes if o.error.startswith(STILL_RUNNING))
    if not left:
        return f"interrupted: {not_started} customer(s) not started, every started run sealed"
    return (
        f"interrupted: {not_started} customer(s) not started; stopped at once: a run of {', '.join(left)} may be "
        "unsealed (`runbook evidence verify <customer> --repair` seals it from its journal, as its next run does)"
    )


def customer_line(o: CustomerOutcome) -> str:
    """A customer's one line when it finishes."""
    took = f"  [{o.seconds:.1f} s]" if o.seconds else ""
    if o.error:
        return f"{o.customer}: {o.status} (exit {o.exit_code}): {o.error}{took}"
    if o.kind == "run":
        parts = []
        for s in o.stages:
            counts = ", ".join(f"{v} {k}" for k, v in sorted(s.counts.items()))
            forced = " FORCED" if s.forced else ""
            parts.append(f"stage {s.stage} {s.status}{forced} ({counts})" + (f" error: {s.error}" if s.error else ""))
        last = o.stages[-1].run_dir if o.stages else ""
        return f"{o.customer}: exit {o.exit_code} - " + "; ".join(parts) + f"  evidence: {last}{took}"
    d = o.detail
    return f"{o.customer}: {o.kind} {getattr(d, 'status', '?')} (exit {o.exit_code})  evidence: {_link(d)}{took}"


def _link(d: Any) -> str:
    from .evidence import status

    path = getattr(d, "run_dir", None)
    return status.link(Path(path)) if path else ""


def _kernel_peaks(outcomes: list[CustomerOutcome], shared_peak_mb: float) -> None:
    """A LocalCluster's kernels forked from the batch's fork server, which alone saw them end (their peak memory): the
    largest of them stands for each worker's."""
    if shared_peak_mb:
        for o in outcomes:
            if o.worker:
                o.kernel_peak_rss_mb = max(o.kernel_peak_rss_mb, shared_peak_mb)


def run_batch(
    kind: str,
    customers: list[str],
    options: dict[str, Any],
    workers: int | None = None,
    address: str = "",
    on_outcome: Any = None,
) -> tuple[list[CustomerOutcome], bool]:
    """Run a batch to its end: one task per customer on a LocalCluster of `workers` (at most one per customer) or on
    the scheduler at `address`; `on_outcome` gets each customer's outcome as it finishes. Ctrl-C or SIGTERM stops it
    (`Batch.stop`: tasks not started cancelled, started runs sealed as interrupted) and then the cluster closes.
    Returns the outcomes and whether it was interrupted."""
    from . import runner

    outcomes: list[CustomerOutcome] = []

    def got(o: CustomerOutcome) -> None:
        outcomes.append(o)
        if on_outcome is not None:
            on_outcome(o)

    size = min(workers or default_workers(), len(customers)) or 1
    b = Batch(workers=size, address=address)
    try:
        try:
            with _signals_deferred():  # a Ctrl-C or SIGTERM while the cluster starts: raised once it has, before
                b.open()  # any task is submitted
            with _signals_deferred():  # ... or while the tasks are submitted: each one's future is kept first
                b.submit(kind, customers, options)
            with runner.interrupts():  # SIGTERM raises here as Ctrl-C does
                for o in b.results():
                    got(o)
        except KeyboardInterrupt:
            try:
                with runner.interrupts():  # a second Ctrl-C (or SIGTERM) while the started runs seal: stop at once
                    stopped = b.stop() if b.client is not None else []
            except KeyboardInterrupt:
                stopped = b.abandon()
            for o in stopped:
                got(o)
            reported = {o.customer for o in outcomes}
            for c in customers:  # never submitted (the stop came while the cluster started)
                if c not in reported:
                    got(CustomerOutcome(c, "", errors.EXIT_INTERRUPTED, error=CANCELLED))
            return outcomes, True
    finally:
        b.close()
        _kernel_peaks(outcomes, b.kernel_peak_mb())
    return outcomes, False
