"""HTTPS server on 127.0.0.1 with a throwaway CA, serving a SandboxApp."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

from .app import SandboxApp
from .core.faults import Faults
from .core.http import Request
from .fixtures import Loaded, load_fixture
from .providers.keyvault_data import VAULT_DOMAIN
from .providers.passwordstate import HOST as PASSWORDSTATE_HOST
from .providers.services import certificate_names


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would add ~40 ms
    server: _Server

    def log_message(self, format: str, *args) -> None:
        """Quiet: the sandbox counts calls instead of printing them."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request.build(self.command, self.path, dict(self.headers.items()), body, self.server.base_url)
        resp = self.server.app.handle(req)
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = resp.encoded()
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload) if self.command != "HEAD" else 0))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    app: SandboxApp
    base_url: str


@dataclass
class Connection:
    """What a client needs to reach a running sandbox (no secret in here)."""

    url: str
    ca_path: str
    tenant_id: str
    client_id: str
    secret_path: str
    # the Key Vault data plane: each vault is https://<name>.<vault_domain>, served at `url`'s address (a client
    # resolves these names to it, as a hosts-file entry would; TLS is checked on the name)
    vault_domain: str = ""
    vaults: list[str] = field(default_factory=list)
    # the Passwordstate stand-in: its host name (served at `url`'s address) and its API keys, in files beside this
    # one (per list id, and the system-wide key), never in here
    passwordstate_host: str = ""
    passwordstate_keys: dict[str, str] = field(default_factory=dict)
    # the MSP's own tenant (its vault's tenant; Lighthouse's managing tenant): the runbook's app signs in there too
    msp_tenant_id: str = ""
    # the stand-ins of the MSP's SaaS systems (HubSpot, TOPdesk): their host names (served at `url`'s address) and
    # the credentials a client needs, in 0600 files beside this one (name -> path), never in here
    service_hosts: list[str] = field(default_factory=list)
    service_credentials: dict[str, str] = field(default_factory=dict)
    # the server's certificate (for 127.0.0.1 and localhost, signed by the CA) and its key (0600): a local Blob server
    # (Azurite) started with them is trusted by the same clients
    tls_cert_path: str = ""
    tls_key_path: str = ""

    def credential(self, tenant_id: str = "") -> Any:
        """The runbook's app credential (azure-identity's ClientSecretCredential) at this sandbox, signing in to
        `tenant_id` (by default the customer's tenant; `msp_tenant_id` for the MSP's own vault and Blob archive)."""
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            tenant_id or self.tenant_id,
            self.client_id,
            Path(self.secret_path).read_text().strip(),
            authority=self.url,
            disable_instance_discovery=True,
            connection_verify=self.ca_path,
        )

    def to_json(self) -> str:
        """JSON text of the connection."""
        return json.dumps(self.__dict__, indent=2)

    @classmethod
    def read(cls, path: Path) -> Connection:
        """Read a connection file written by `Sandbox.start`."""
        return cls(**json.loads(Path(path).read_text()))


class SandboxBusy(RuntimeError):
    """Another sandbox serves from the same state folder (its connection file, CA and keys are in use)."""

    def __init__(self, state_dir: Path, holder: dict) -> None:
        self.holder = holder
        super().__init__(
            f"a sandbox already serves from {state_dir} (pid {holder.get('pid')}, {holder.get('url')}); a second one there would overwrite its connection file and CA, and remove them when it stops. Fix: use the running one, stop it (Ctrl-C in its terminal, or kill {holder.get('pid')}), or give this one another --state-dir"
        )


PID_FILE = "sandbox.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Sandbox:
    """A running sandbox tenant: start(), .connection, stop(); also a context manager. One per state folder: a
    second start while another (in any process) serves from the same folder raises SandboxBusy."""

    def __init__(
        self,
        fixture: str | Path | dict,
        state_dir: Path | str = ".sandbox",
        port: int = 0,
        faults: Faults | None = None,
        base: str | Path | dict | None = None,
    ) -> None:
        """`fixture`: fixture data, a fixture YAML path, or `scale-<N>` (tenant and MSP principal from `base`)."""
        self.base = base
        self.state_dir = Path(state_dir)
        self.fixture = fixture
        self.port = port
        self.faults = faults
        self.app: SandboxApp | None = None
        self._server: _Server | None = None
        self.connection: Connection | None = None

    def _claim(self) -> None:
        """Take the state folder (sandbox.pid, made exclusively), unless a live sandbox holds it; a stale claim of a
        process that is gone is taken over."""
        path = self.state_dir / PID_FILE
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    holder = json.loads(path.read_text() or "{}")
                except (OSError, ValueError):
                    holder = {}
                pid = int(holder.get("pid") or 0)
                if pid and _alive(pid) and (pid != os.getpid() or holder.get("id") != id(self)):
                    raise SandboxBusy(self.state_dir, holder) from None
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "id": id(self), "url": ""}, f)
            return
        raise SandboxBusy(self.state_dir, {"pid": "?", "url": "?"})

    def start(self) -> Connection:
        """Load the fixture, make the CA, listen on 127.0.0.1 and write the connection file."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._claim()
        try:
            return self._start()
        except BaseException:
            (self.state_dir / PID_FILE).unlink(missing_ok=True)
            raise

    def _start(self) -> Connection:
        loaded: Loaded = load_fixture(self.fixture, self.base)
        self.app = SandboxApp(loaded.state, self.faults, loaded.services)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", f"*.{VAULT_DOMAIN}", PASSWORDSTATE_HOST, *certificate_names())
        ca_path = self.state_dir / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        # the server's certificate and key (0600), for a local Blob server (Azurite) the same clients then trust
        tls_cert, tls_key = self.state_dir / "sandbox-tls-cert.pem", self.state_dir / "sandbox-tls-key.pem"
        tls_cert.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        _write_private(tls_key, cert.private_key_pem.bytes().decode())
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._server.app = self.app
        port = self._server.server_address[1]
        self._server.base_url = f"https://127.0.0.1:{port}"
        threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True).start()
        secret_path = self.state_dir / "client-secret"
        _write_private(secret_path, loaded.client_secret)
        self.connection = Connection(
            self._server.base_url,
            str(ca_path.resolve()),
            loaded.state.tenant_id,
            loaded.client_id,
            str(secret_path.resolve()),
            VAULT_DOMAIN,
            sorted(v["name"] for v in loaded.state.vaults.values()),
            PASSWORDSTATE_HOST if loaded.state.passwordstate["lists"] else "",
            self._passwordstate_keys(loaded),
            loaded.state.msp_tenant_id,
            sorted(h for service in loaded.services.values() for h in service.hosts()),
            self._service_credentials(loaded),
            str(tls_cert.resolve()),
            str(tls_key.resolve()),
        )
        (self.state_dir / "connection.json").write_text(self.connection.to_json())
        holder = {"pid": os.getpid(), "id": id(self), "url": self.connection.url}
        (self.state_dir / PID_FILE).write_text(json.dumps(holder))
        return self.connection

    def _passwordstate_keys(self, loaded: Loaded) -> dict[str, str]:
        """Write the Passwordstate API keys (0600 files) and return their paths by list id ('system' for the
        system-wide key)."""
        ps = loaded.state.passwordstate
        keys = {str(lid): pl["api_key"] for lid, pl in ps["lists"].items()}
        if ps["system_key"]:
            keys["system"] = ps["system_key"]
        paths = {}
        for name, key in keys.items():
            path = self.state_dir / f"passwordstate-{name}.key"
            _write_private(path, key)
            paths[name] = str(path.resolve())
        return paths

    def _service_credentials(self, loaded: Loaded) -> dict[str, str]:
        """Write the stand-ins' credentials (HubSpot's private app token, TOPdesk's application password) as 0600
        files and return their paths by file name."""
        paths = {}
        for service in loaded.services.values():
            for name, secret in service.credentials().items():
                path = self.state_dir / name
                _write_private(path, secret)
                paths[name] = str(path.resolve())
        return paths

    def stop(self) -> None:
        """Stop listening and remove the connection file and the client secret (a stale file would point clients
        at a port nobody serves)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self.connection is not None:
                keys = [Path(p) for p in self.connection.passwordstate_keys.values()]
                keys += [Path(p) for p in self.connection.service_credentials.values()]
                keys += [Path(p) for p in (self.connection.tls_key_path,) if p]
                for path in (self.state_dir / "connection.json", Path(self.connection.secret_path), *keys):
                    path.unlink(missing_ok=True)
            (self.state_dir / PID_FILE).unlink(missing_ok=True)

    def serve_until_stopped(self) -> None:
        """Block until SIGTERM or Ctrl-C, then stop (the connection file and secret are removed)."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        self.stop()

    def __enter__(self) -> Sandbox:
        if self._server is None:  # not started yet
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (mode 0600) from the first byte."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
