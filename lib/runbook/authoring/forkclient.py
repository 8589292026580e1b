"""The kernel process papermill sees when kernels are forked (`runbook.authoring.forkserver`): a few lines of the
standard library only, run as a script (`python -I -S forkclient.py SOCKET KERNEL-COMMAND...`).

It hands the kernel command, its environment, working directory and standard streams (the descriptors themselves) to
the fork server, which forks a kernel from its pre-imported process; then it stands in for that kernel: a signal it
receives (the kernel manager's SIGINT to interrupt, SIGTERM, SIGHUP) is passed on, and it exits with the kernel's exit
status. If it is killed (SIGKILL), the server sees its connection close and kills the kernel. When no server answers,
it becomes the ordinary kernel (`exec` of the command), so a run never depends on the server being there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main(argv: list[str]) -> int:
    address, command = argv[0], argv[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
        request = json.dumps({"argv": command, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(sock, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        reader = sock.makefile("rb")
        first = reader.readline().split()
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
        try:
            line = reader.readline()
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        if not line:  # the server went away: the kernel goes with it (ipykernel watches its parent)
            return 1
        words = line.split()
        if words[:1] == [b"exit"]:
            code = int(words[1])
            return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
