"""Kernels forked from a pre-imported process (issue 24/26: the fixed cost of a run in a batch of customers).

A fresh papermill kernel spends most of its start importing: IPython and ipykernel, the runbook, the Azure SDK and,
the first time a Graph object is read, the ~1,400 model modules msgraph's deserialisers import (1.4 s alone). A
batch of drift runs or a Dask worker pays that once per customer. Here one **fork server** per runner process imports
all of it once (`preload`); each kernel papermill starts is then a `fork` of it: a new process, with nothing of an
earlier run in it (a fresh interpreter state but for the modules already imported, exactly as a new kernel would
import them), its own environment, working directory and standard streams, its own session.

* `python -m runbook.authoring.forkserver ADDRESS` serves on the Unix socket ADDRESS: it preloads, then prints
  `ready`, then forks a kernel for each connection of `forkclient.py` (the process papermill's kernel manager
  launched instead of the kernel: it passes its argv, environment, cwd and standard streams, forwards signals to the
  kernel and exits with its status). A client that dies (SIGKILL by the kernel manager) takes its kernel with it; the
  server stops, killing what it forked, when the process that started it goes away (its stdin closes).
* A request the server cannot fork faithfully (not `python -m ipykernel_launcher`, another interpreter, another
  PYTHONPATH than the server's) is refused, and the client execs the ordinary kernel: the fork changes how fast a
  kernel starts, never what it runs.
* `ForkServer` (the runner's side) starts the server in the background (it preloads while the runner does its own
  checks), gives the kernel command to launch through it, and stops it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CLIENT = Path(__file__).with_name("forkclient.py")
KERNEL_MODULE = "ipykernel_launcher"


# --- the server ----------------------------------------------------------------------------------------------------
def preload() -> None:
    """Import what a runbook kernel imports: ipykernel and IPython, the runbook's notebook-facing modules, the Azure
    SDK clients it builds, pandas and matplotlib's inline backend, and msgraph's models."""
    import importlib

    for name in (
        "ipykernel.kernelapp",
        "ipykernel.ipkernel",
        "ipykernel.zmqshell",
        "ipykernel.debugger",  # debugpy and pydevd: a fifth of a kernel's own start
        "sqlite3",  # IPython's history
        "tornado.queues",
        "pdb",
        "IPython.core.interactiveshell",
        # what a kernel's own start imports after the above (IPKernelApp.initialize): its completer, debugger and
        # %store extension, psutil, tornado's asyncio platform
        "IPython.core.completerlib",
        "IPython.core.debugger",
        "IPython.extensions.storemagic",
        "psutil",
        "tornado.platform.asyncio",
        "faulthandler",
        "matplotlib_inline.backend_inline",
        "pandas",
        "openpyxl",
        "runbook.notebook",
        "runbook.operate.drift",
        "runbook.operate.report",
        "runbook.operate.offboard",
    ):
        try:
            importlib.import_module(name)
        except Exception:  # an optional part missing: the kernel imports it itself, as it would anyway
            continue
    from runbook.adapters import clients

    clients.preload()


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    if len(data) < 4:
        raise OSError("short request")
    (size,) = struct.unpack("!I", data[:4])
    body = data[4:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise OSError("the client went away")
        body += chunk
    return json.loads(body), list(fds)


def _faithful(request: dict[str, Any]) -> bool:
    """Whether forking this process gives what the command would: the same interpreter, `-m ipykernel_launcher`,
    the same module search path."""
    argv = request.get("argv") or []
    if len(argv) < 3 or argv[1:3] != ["-m", KERNEL_MODULE]:
        return False
    try:
        same = os.path.samefile(argv[0], sys.executable)
    except OSError:
        return False
    env = request.get("env") or {}
    return same and env.get("PYTHONPATH", "") == os.environ.get("PYTHONPATH", "")


def _child(conn: socket.socket, fds: list[int], request: dict[str, Any], closing: list[Any]) -> None:
    """In the forked process: become the kernel the request describes. Never returns."""
    code = 1
    try:
        for thing in closing:
            try:
                thing.close() if hasattr(thing, "close") else os.close(thing)
            except OSError:
                pass
        os.setsid()  # its own session and process group, as the kernel manager launches a kernel
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        conn.close()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.path[0] = os.getcwd()  # what `python -m` puts first
        sys.argv = [KERNEL_MODULE, *request["argv"][3:]]
        if os.environ.get("JPY_PARENT_PID"):  # ipykernel read it when the server imported it: say it again
            sys.argv.append(f"--IPKernelApp.parent_handle={int(os.environ['JPY_PARENT_PID'])}")
        import runpy

        try:
            runpy.run_module(KERNEL_MODULE, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(address: str) -> int:
    """Preload, listen on `address`, fork a kernel per request until stdin closes (the starter is gone)."""
    preload()
    import threading

    if threading.active_count() > 1:  # forking a process with threads is not safe: the starter uses ordinary kernels
        sys.stdout.write(f"not ready: the preload started {threading.active_count() - 1} thread(s)\n")
        sys.stdout.flush()
        return 1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    os.chmod(address, 0o600)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the starter's terminal is the starter's to handle
    kernels: dict[int, socket.socket] = {}  # pid -> its client's connection
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    stdin = sys.stdin.fileno()
    try:
        while True:
            conns = {c.fileno(): (pid, c) for pid, c in kernels.items()}
            readable, _, _ = select.select([listener, wake_r, stdin, *conns], [], [])
            if stdin in readable and not os.read(stdin, 4096):
                return 0
            if wake_r in readable:
                os.read(wake_r, 4096)
                _reap(kernels)
            for fd in readable:
                if fd in conns:  # a client closed its end (it was killed): its kernel goes too
                    pid, conn = conns[fd]
                    if not conn.recv(1, socket.MSG_PEEK):
                        _kill(pid)
            if listener in readable:
                conn, _ = listener.accept()
                try:
                    request, fds = _recv_request(conn)
                except (OSError, ValueError):
                    conn.close()
                    continue
                if not _faithful(request):
                    for fd in fds:
                        os.close(fd)
                    conn.close()  # the client execs the ordinary kernel
                    continue
                pid = os.fork()
                if pid == 0:
                    _child(conn, fds, request, [listener, wake_r, wake_w, *[c for c in kernels.values()]])
                for fd in fds:
                    os.close(fd)
                conn.sendall(b"pid %d\n" % pid)
                kernels[pid] = conn
    finally:
        for pid in list(kernels):
            _kill(pid)
        _reap(kernels)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _reap(kernels: dict[int, socket.socket]) -> None:
    """Wait for the kernels that ended: each one's exit status to its client, and a line `kernel PID STATUS
    MAXRSS_KB` on stdout for the starter (a forked kernel is the server's child: only the server sees its rusage)."""
    while kernels:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        try:
            sys.stdout.write(f"kernel {pid} {os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\n")
            sys.stdout.flush()
        except OSError:  # the starter is gone
            pass
        conn = kernels.pop(pid, None)
        if conn is not None:
            try:
                conn.sendall(b"exit %d\n" % os.waitstatus_to_exitcode(status))
            except OSError:
                pass
            conn.close()


# --- the runner's side ---------------------------------------------------------------------------------------------
class ForkServer:
    """A fork server this process started (in the background: `start` returns at once) and its socket."""

    def __init__(self, python: str = sys.executable, cwd: str | None = None) -> None:
        self.folder = tempfile.mkdtemp(prefix="runbook-fork-")
        self.address = os.path.join(self.folder, "kernels.sock")
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()
        self._failed = False
        self.python = python
        self.cwd = cwd
        self.forked = 0  # kernel commands handed to the server
        self.kernel_peak_kb = 0  # the largest peak resident memory of a kernel it forked that has ended
        self.shared = False  # a server another process started (`attach`): this one only forks kernels from it

    @classmethod
    def attach(cls, address: str) -> ForkServer:
        """The server another process of this machine started and listens on `address` (a LocalCluster's workers
        share their batch's: one preload for the machine, not one per worker). It is ready once its socket exists
        (bound after the preload); if it is gone, kernels start the ordinary way (the client execs them)."""
        server = cls.__new__(cls)
        server.folder, server.address, server.process = os.path.dirname(address), address, None
        server._ready, server._failed = threading.Event(), False
        server.python, server.cwd, server.forked, server.kernel_peak_kb = sys.executable, None, 0, 0
        server.shared = True
        return server

    def start(self) -> ForkServer:
        with open(os.path.join(self.folder, "server.log"), "ab") as log:
            self.process = subprocess.Popen(
                [self.python, "-m", "runbook.authoring.forkserver", self.address],
                stdin=subprocess.PIPE,  # closed when this process goes: the server stops
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.cwd,
                start_new_session=True,
            )
        threading.Thread(target=self._wait_ready, name="runbook-fork-server", daemon=True).start()
        return self

    def _wait_ready(self) -> None:
        """Wait for `ready`, then read the server's line per ended kernel (its peak memory)."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        line = stdout.readline()
        self._failed = line.strip() != b"ready"
        self._ready.set()
        for line in iter(stdout.readline, b""):
            words = line.split()
            if len(words) == 4 and words[0] == b"kernel":
                self.kernel_peak_kb = max(self.kernel_peak_kb, int(words[3]))

    def ready(self, timeout: float = 60) -> bool:
        """Whether the server preloaded and listens (waits for it up to `timeout`)."""
        if self.shared:
            deadline = time.monotonic() + timeout
            while not self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            return self.alive()
        return self._ready.wait(timeout) and not self._failed and self.alive()

    def alive(self) -> bool:
        if self.shared:
            return os.path.exists(self.address)
        return self.process is not None and self.process.poll() is None

    def command(self, kernel_cmd: list[str]) -> list[str]:
        """The command that launches `kernel_cmd` through the server (the ordinary command when it is not up)."""
        if not self.ready():
            return kernel_cmd
        self.forked += 1
        return [self.python, "-I", "-S", str(CLIENT), self.address, *kernel_cmd]

    def stop(self) -> None:
        if self.shared:
            return  # the process that started it stops it
        process, self.process = self.process, None
        if process is not None:
            try:
                if process.stdin:
                    process.stdin.close()
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        for name in ("kernels.sock", "server.log"):
            try:
                os.unlink(os.path.join(self.folder, name))
            except OSError:
                pass
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


if __name__ == "__main__":
    status = serve(sys.argv[1])
    sys.stdout.flush()
    os._exit(status)  # no teardown of the thousands of modules it preloaded: it only ever forked
