"""A local Azure Blob server for the demo and the tests: Azurite (npm `azurite`, installed by `make install` into
.cache/npm), started on a free port over HTTPS with the sandbox's certificate (so the SDK trusts it through the same
CA) and OAuth (`--oauth basic`: Azurite checks a bearer token's issuer, audience and lifetime, not its signature).

What Azurite does not do (docs/sandbox.md, "The evidence archive"): blob versions, version-level WORM, immutability
policies, legal holds, soft delete (those calls answer 501). The runbook therefore checks a container's policy
through ARM (the sandbox's Microsoft.Storage provider) and never claims that WORM is enforced offline; it uploads
with overwrite=False, which Azurite does enforce.

`runbook demo` starts one when it is installed; the tests start one per session (tests/support/azurite.py). The URL
is written to `azurite.json` beside the sandbox's connection file: `msp.evidence_store.account_url: azurite` means
that URL.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import PROJECT_ROOT
from ..errors import TargetError

VERSION = "3.37.0"
ACCOUNT = "devstoreaccount1"  # Azurite's built-in account (path-style URLs: https://127.0.0.1:<port>/<account>)
STATE_FILE = "azurite.json"
STOP_WAIT = 15.0  # seconds Azurite gets to close its store on SIGTERM before it is killed (see Azurite.stop)
CLOSED = "Azurite Blob service successfully closed"  # what its log says once its store is closed
INSTALL = f"npm install --prefix .cache/npm azurite@{VERSION}"


def executable(root: Path | None = None) -> Path | None:
    """Azurite's blob server script under <project>/.cache/npm (None when it is not installed, or node is missing)."""
    path = (root or PROJECT_ROOT) / ".cache" / "npm" / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    return path if path.exists() and shutil.which("node") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Azurite:
    """A running Azurite blob server (its process, URL and folder); `stop()` ends it."""

    url: str
    port: int
    location: Path
    process: subprocess.Popen = field(repr=False)
    state_file: Path | None = None

    @property
    def account_url(self) -> str:
        """The account's URL (path-style, as Azurite serves it)."""
        return f"{self.url}/{ACCOUNT}"

    def stop(self) -> None:
        """End the process this object started (and remove the state file it wrote). On SIGTERM Azurite closes its
        server and its store and logs "successfully closed"; after it has served requests, Node then often stays up
        for seconds more on a leftover timer (and with a client's connection open, 10 s before it closes at all), so
        once the log says closed, or after STOP_WAIT, the process is killed: its data is written by then."""
        if self.process.poll() is None:
            self.process.terminate()
            log = self.location / "azurite.log"
            deadline = time.monotonic() + STOP_WAIT
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    if CLOSED in log.read_text(errors="replace")[-400:]:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    location: Path, cert: str, key: str, state_dir: Path | None = None, timeout: float = 30.0, root: Path | None = None
) -> Azurite:
    """Start Azurite's blob server on a free loopback port with HTTPS (`cert`, `key`: the sandbox's) and OAuth, its
    data in `location`; wait until it accepts connections. With `state_dir` its URL is written to azurite.json there.
    TargetError (one line, with the install command) when it is not installed or does not come up."""
    script = executable(root)
    if script is None:
        raise TargetError(f"Azurite is not installed (or node is missing). Fix: {INSTALL}")
    location.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [
        shutil.which("node") or "node",
        str(script),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(location),
        "--skipApiVersionCheck",  # azure-storage-blob sends a newer api-version than Azurite's baseline
        "--silent",
        "--cert",
        cert,
        "--key",
        key,
        "--oauth",
        "basic",
    ]
    log = (location / "azurite.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = (location / "azurite.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise TargetError(f"Azurite exited at start ({' '.join(tail) or 'no output'}). Fix: run `{INSTALL}` again")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise TargetError(f"Azurite did not listen on 127.0.0.1:{port} within {timeout:.0f} s") from None
            time.sleep(0.1)
    made = Azurite(f"https://127.0.0.1:{port}", port, location, process)
    if state_dir is not None:
        made.state_file = state_dir / STATE_FILE
        made.state_file.write_text(json.dumps({"url": made.account_url, "pid": process.pid}))
    return made


def running_url(state_dir: Path) -> str:
    """The account URL of the Azurite `runbook demo` (or a test) started, from azurite.json in `state_dir`; TargetError
    when none runs."""
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        pid = int(data["pid"])
        os.kill(pid, 0)
        return str(data["url"])
    except (OSError, ValueError, KeyError):
        raise TargetError(
            f"msp.evidence_store.account_url is 'azurite' but no Azurite is running (no live {path.name} in "
            f"{path.parent.name}/). Fix: run `runbook demo` (it starts one when installed: {INSTALL}), or give the "
            "storage account's URL"
        ) from None


def create_containers(account_url: str, names: list[str], credential: Any, verify: str | bool) -> None:
    """Create the containers ARM holds (the sandbox's storage provider) in Azurite, which has no ARM side: in Azure a
    container made through ARM is there on the blob endpoint too. One already there is left as it is."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient(account_url, credential=credential, connection_verify=verify) as service:
        for name in names:
            try:
                service.create_container(name)
            except ResourceExistsError:
                pass
