"""One warm kernel for the notebooks of one customer's runs in one process (issue 24: fast stage runs).

Starting a kernel and importing the runbook's libraries in it (the Azure SDK, msgraph, pandas) is most of a stage
run's fixed cost. Inside `reuse()` (a batch of one customer's stages, `runbook demo`), `runner.execute` runs each
notebook with papermill on the same kernel: before each notebook a silent, unrecorded request gives the kernel the
runner's current RUNBOOK_* environment (the run's journal, batch mode, the one item) and working directory, and
resets IPython (its namespace, history and execution counter), so each stage still leaves its own executed notebook
with the same cells, outputs and execution counts a fresh kernel gives; only the imported modules stay loaded. A run
that ends other than by finishing or by a cell's error (interrupted, timed out, the kernel died) stops the kernel
first, as papermill does with its own; the next run starts a new one. Outside `reuse()` nothing changes: papermill
starts and stops a kernel per notebook.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENV_PREFIX = "RUNBOOK_"
ENGINE = "runbook-warm"

_pool: contextvars.ContextVar[KernelPool | None] = contextvars.ContextVar("runbook_kernel_pool", default=None)


def prelude(cwd: str, env: dict[str, str]) -> str:
    """The silent request before a notebook on a warm kernel: the environment and working directory a fresh kernel
    would inherit from the runner now, and a fresh IPython session (namespace, history, execution count 1)."""
    return (
        "import os as _rb_os\n"
        f"for _rb_k in [k for k in _rb_os.environ if k.startswith({ENV_PREFIX!r})]:\n"
        "    del _rb_os.environ[_rb_k]\n"
        f"_rb_os.environ.update({env!r})\n"
        f"_rb_os.chdir({cwd!r})\n"
        "get_ipython().reset(new_session=True)\n"
        # what outlived the reset's collection (modules the last notebook imported) is never scanned again: the next
        # reset's full collection walks only the objects its notebook made (0.13 s a reset otherwise, ~240,000
        # objects); cyclic garbage is still freed, as each notebook's is collected before it is frozen
        "import gc as _rb_gc\n"
        "_rb_gc.freeze()\n"
        "del _rb_gc\n"
    )


class KernelPool:
    """The warm kernel of one `reuse()` block: a kernel manager papermill's client starts on first use and keeps."""

    def __init__(self, manager_class: type) -> None:
        self.manager_class = manager_class
        self.km: Any = None
        self.kc: Any = None  # the client of the notebooks run so far, kept for the next (no handshake again)
        self.unchecked = False  # `kc` is prestart's, not yet seen ready
        self.notebooks = 0  # notebooks run in this block
        self.warm = 0  # ... of them on a kernel an earlier notebook had started

    def manager(self, kernel_name: str) -> Any:
        if self.km is None:
            self.km = self.manager_class(kernel_name=kernel_name)
        return self.km

    def close(self) -> None:
        """Stop the kernel and release its sockets. At once (SIGKILL): the block's last notebook has returned and
        been sealed, nothing in the kernel is kept, and a graceful shutdown request waits 1-2 s for it to exit."""
        self.drop_client()
        km, self.km = self.km, None
        if km is None:
            return
        from jupyter_core.utils import run_sync

        try:
            if run_sync(km.is_alive)():
                run_sync(km.shutdown_kernel)(now=True)
        finally:
            run_sync(km.cleanup_resources)()

    def prestart(self, kernel_name: str, cwd: str, warmup: str = "") -> None:
        """Start the kernel now, before the first notebook asks for it, so it starts and imports while the runner
        does its own start (`runbook demo`: the sandbox's), its client connected and `warmup` sent (silent, its
        reply never waited for: the first notebook's requests queue behind it). The first notebook checks the
        client is ready (`papermill_kwargs`), by when its IOPub subscription has long joined."""
        from jupyter_core.utils import run_sync

        km = self.manager(kernel_name)
        if km.has_kernel:
            return
        run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=cwd)
        kc = km.client()
        kc.start_channels()
        kc.allow_stdin = False  # as nbclient sets its own after start_channels: input() fails instead of waiting
        if warmup:
            kc.execute(warmup, silent=True, store_history=False)
        self.kc, self.unchecked = kc, True

    def drop_client(self) -> None:
        """Close the kept client's channels (the kernel stays)."""
        kc, self.kc = self.kc, None
        if kc is not None:
            kc.stop_channels()


@contextmanager
def reuse(manager_class: type, pool: KernelPool | None = None) -> Iterator[KernelPool]:
    """Within this block (this thread or task), the notebooks `runner.execute` runs share one kernel (`pool`'s, one
    made before and maybe prestarted, else a new one's); the block's end stops it."""
    outer = _pool.get()
    if outer is not None:  # nested (a run_all inside the demo): the outer block's kernel
        yield outer
        return
    pool = pool or KernelPool(manager_class)
    token = _pool.set(pool)
    try:
        yield pool
    finally:
        _pool.reset(token)
        pool.close()


def current() -> KernelPool | None:
    """The warm kernel's pool of the enclosing `reuse()` block, if any."""
    return _pool.get()


def papermill_kwargs(
    pool: KernelPool | None, kernel_name: str, cwd: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """What `papermill.execute_notebook` needs to run through the engine `ENGINE`: on the pool's kernel, or without
    a pool on a kernel of its own as papermill's nbclient engine does (both with `snapshot_saves`). `env`: the run's
    own environment (a new kernel gets it from its manager; the warm kernel from the prelude)."""
    _register_engine()
    if pool is None:
        return {"engine_name": ENGINE}
    km = pool.manager(kernel_name)
    if km.has_kernel and not _alive(km):  # died between two notebooks: start afresh
        pool.close()
        km = pool.manager(kernel_name)
    if not km.has_kernel:  # this notebook starts the warm kernel: its manager gives it the run's environment
        km.kernel_env = dict(env or {})
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)} | dict(env or {})
    warm = {"engine_name": ENGINE, "km": km, "pool": pool, "prelude": prelude(cwd, env) if km.has_kernel else ""}
    if pool.kc is not None and pool.unchecked:  # prestart's client: ready once the kernel answers on both channels
        from jupyter_core.utils import run_sync

        pool.unchecked = False
        try:
            run_sync(pool.kc.wait_for_ready)(timeout=60)
        except Exception:  # nbclient starts a client of its own and says why it cannot
            pool.drop_client()
    if km.has_kernel and pool.kc is not None:
        # the client the last notebook used, its channels connected: no new client's sockets and kernel_info
        # handshake (`quick_ready_client`) per notebook; messages the last notebook left queued are told apart by
        # their parent request, as nbclient does for every reply
        warm["kc"] = pool.kc
    return warm


def _alive(km: Any) -> bool:
    from jupyter_core.utils import run_sync

    return bool(run_sync(km.is_alive)())


_registered = False


_quick_client: type | None = None


def quick_ready_client() -> type:
    """jupyter_client's async kernel client, but ready sooner. Its `wait_for_ready` sends kernel_info, and after the
    reply waits 0.2 s for an IOPub message (the subscription still joining loses the first ones: then it asks
    again), then drains IOPub until 0.2 s pass without a message: every new client, so every run of a batch on a
    fresh (forked) kernel, waited at least 0.2 s there. Here the IOPub check after a reply waits 20 ms before asking
    again, and the drain takes what is already queued; a later message of these kernel_info requests is told apart
    by its parent request, as nbclient does for every message it reads."""
    global _quick_client
    if _quick_client is not None:
        return _quick_client
    import time
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.utils import ensure_async

    class QuickReadyClient(AsyncKernelClient):
        async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.time() + (float("inf") if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    msg = await ensure_async(self.shell_channel.get_msg(timeout=1))
                except Empty:
                    msg = None
                if msg is not None and msg["msg_type"] == "kernel_info_reply":
                    try:
                        await ensure_async(self.iopub_channel.get_msg(timeout=0.02))
                    except Empty:
                        pass  # IOPub not joined yet: ask again
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.time() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
            while True:  # what IOPub holds already (the status of the requests above), without waiting for more
                try:
                    await ensure_async(self.iopub_channel.get_msg(timeout=0.001))
                except Empty:
                    break

        wait_for_ready = _async_wait_for_ready  # AsyncKernelClient binds the name to the base's function

    _quick_client = QuickReadyClient
    return QuickReadyClient


def write_snapshot(nb: dict, path: str) -> None:
    """The notebook as it stands, written to `path` whole or not at all (a temporary file renamed over it): compact
    JSON through the C encoder, neither copied, validated nor split into lines as nbformat's canonical form is."""
    import json
    import tempfile

    folder, name = os.path.split(path)
    try:
        mode = os.stat(path).st_mode & 0o777  # papermill's first save made it: its permissions stay
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=".part")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(nb, fh, ensure_ascii=False, default=str)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextmanager
def snapshot_saves(nb_man: Any) -> Iterator[None]:
    """While cells run, papermill saves the whole notebook at each cell's start and end (what a killed run leaves
    shows how far it came); nbformat's canonical write (a deep copy, schema validation, JSON indented by the pure
    Python encoder) cost 7 ms a save, 2.6 s of `runbook demo`'s 348. Inside this block those saves are
    `write_snapshot`s, a valid notebook nbformat reads as well; the last save, after the block (papermill's
    `notebook_complete`, also after a failure), is the canonical one."""
    path = getattr(nb_man, "output_path", None)
    if not path or "://" in str(path):  # papermill's other stores (s3://, abs://): its own saves
        yield
        return

    def save(**kwargs: Any) -> None:
        if kwargs.get("nb"):
            nb_man.nb = kwargs["nb"]
        write_snapshot(nb_man.nb, str(path))
        nb_man.last_save_time = nb_man.now()

    nb_man.save = save
    try:
        yield
    finally:
        del nb_man.save  # the class's canonical save again


def _register_engine() -> None:
    """papermill's nbclient engine with `snapshot_saves`; with a pool, running on its kernel manager and leaving its
    kernel running."""
    global _registered
    if _registered:
        return
    from nbclient.exceptions import CellExecutionError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args
    from traitlets import Unicode

    class WarmClient(PapermillNotebookClient):
        prelude = Unicode("")

        def papermill_execute_cells(self) -> None:
            if self.prelude:  # silent: no cell, no output, no execution count
                reply = self.wait_for_reply(self.kc.execute(self.prelude, silent=True, store_history=False))
                if (reply or {}).get("content", {}).get("status") != "ok":
                    raise RuntimeError(f"the warm kernel refused to reset: {(reply or {}).get('content')}")
            super().papermill_execute_cells()

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            pool: KernelPool | None = kwargs.pop("pool", None)
            kept = kwargs.pop("kc", None)  # the pool's client (nbclient sets its own `kc` in its __init__)
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            if pool is None:  # papermill's own engine, its kernel started and stopped by its client
                with snapshot_saves(nb_man):
                    return PapermillNotebookClient(nb_man, **final_kwargs).execute()
            client = WarmClient(nb_man, **final_kwargs)
            client.kc = kept  # None: nbclient starts a client of its own
            pool.warm += bool(client.prelude)
            try:
                with snapshot_saves(nb_man):
                    nb = client.execute()
            except CellExecutionError:  # a cell failed: the kernel is sound; papermill records the error
                pool.kc = client.kc
                raise
            except BaseException:  # interrupted, timed out, died: stop the kernel as papermill does with its own
                pool.kc = None
                try:
                    client._cleanup_kernel()
                finally:
                    pool.km = None
                raise
            pool.kc = client.kc  # kept for the next notebook (closed with the pool)
            pool.notebooks += 1
            return nb

    papermill_engines.register(ENGINE, WarmEngine)
    _registered = True


# --- kernels forked from a pre-imported process (authoring/forkserver.py) --------------------------------------------
_fork_lock = __import__("threading").Lock()
_fork_server: Any = None  # this process's fork server while `forking()` blocks (or a worker's `fork_for_process`) run


@contextmanager
def forking(cwd: str) -> Iterator[Any]:
    """Within this block (any thread of this process), every kernel papermill starts is forked from one fork server
    that has imported what a kernel imports; the server starts now, in the background, and stops at the block's end
    (the outermost block's, when nested; never one a worker made with `fork_for_process`)."""
    global _fork_server
    from .forkserver import ForkServer

    with _fork_lock:
        owner = _fork_server is None  # the outermost block starts the server, and only it stops it
        if owner:
            _fork_server = ForkServer(cwd=cwd).start()
        server = _fork_server
    try:
        yield server
    finally:
        if owner:
            with _fork_lock:
                _fork_server = None
            server.stop()


FORK_SERVER_ENV = "RUNBOOK_FORK_SERVER"  # a LocalCluster's workers: the socket of their batch's fork server


def fork_for_process(cwd: str) -> Any:
    """A fork server for the rest of this process's life (a Dask worker's: its customers' kernels fork from it): the
    one its batch started on this machine when $RUNBOOK_FORK_SERVER names its socket (a LocalCluster's workers share
    it), else its own, which stops when the process exits (its stdin closes then, whatever way the process ends)."""
    global _fork_server
    import atexit

    from .forkserver import ForkServer

    with _fork_lock:
        if _fork_server is None:
            shared = os.environ.get(FORK_SERVER_ENV, "")
            if shared:
                _fork_server = ForkServer.attach(shared)
            else:
                _fork_server = ForkServer(cwd=cwd).start()
                atexit.register(_fork_server.stop)
        return _fork_server


def kernel_command(kernel_cmd: list[str]) -> list[str]:
    """The command that starts a kernel: through this process's fork server when one is up, else `kernel_cmd`."""
    server = _fork_server
    return server.command(kernel_cmd) if server is not None else kernel_cmd


def forked_kernel_peak_kb() -> int:
    """The largest peak memory (KiB) of a kernel this process's fork server forked and saw end (0 without one)."""
    server = _fork_server
    return int(server.kernel_peak_kb) if server is not None else 0
