"""The kernel process papermill sees when kernels are forked (`runbook.authoring.forkserver`): a few lines of the
standard library only, run as a script (`python -I -S forkclient.py SOCKET KERNEL-COMMAND...`).

It hands the kernel command, its environment, working directory and standard streams (the descriptors themselves) to
the fork server, which forks a kernel from its pre-imported process; then it stands in for that kernel: a signal it
receives (the kernel manager's SIGINT to interrupt, SIGTERM, SIGHUP) is passed on, and it exits with the kernel's exit
status. If it is killed (SIGKILL), the server sees its connection close and kills the kernel; if the process that
launched it dies (a Dask worker killed under its task, the server its batch's), it exits, and the kernel is killed
with it. When no server answers,
it becomes the ordinary kernel (`exec` of the command), so a run never depends on the server being there.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


PARENT_POLL = 1.0  # seconds between looks at whether the kernel manager that launched this client is still there


def main(argv: list[str]) -> int:
    address, command = argv[0], argv[1:]
    parent = os.getppid()  # the kernel manager's process: when it is gone, so is this client, and so its kernel
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pending = [b""]

    def line() -> bytes | None:
        """The server's next line (b"" once it closed the connection), or None when the process that launched this
        client died (a Dask worker killed under its task: the server may be its batch's, shared, and outlive it)."""
        while b"\n" not in pending[0]:
            if not select.select([sock], [], [], PARENT_POLL)[0]:
                if os.getppid() != parent:
                    return None
                continue
            chunk = sock.recv(4096)
            if not chunk:
                return b""
            pending[0] += chunk
        text, pending[0] = pending[0].split(b"\n", 1)
        return text

    try:
        sock.connect(address)
        request = json.dumps({"argv": command, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(sock, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        first = (line() or b"").split()
        if len(first) != 2 or first[0] != b"pid":
            raise OSError(f"the fork server answered {first!r}")
        pid = int(first[1])
    except OSError:
        sock.close()
        os.execv(command[0], command)  # no server: the ordinary kernel, in this process

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    while True:
        got = line()
        if not got:  # the server went away (the kernel goes with it: ipykernel watches its parent), or the process
            return 1  # that launched this client did: this client's end closes and the server kills the kernel
        words = got.split()
        if words[:1] == [b"exit"]:
            code = int(words[1])
            return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
