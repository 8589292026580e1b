"""Shared fixtures: a sandbox tenant on a free port, SDK clients for it, isolated evidence folders."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

import pytest

from azure_sandbox import Faults, Sandbox
from runbook import PROJECT_ROOT
from runbook.adapters.clients import Clients, sandbox_target

DEMO_FIXTURE = PROJECT_ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml"
DEMO_SUBS = [
    "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01",
    "1a2b3c4d-0002-4e5f-8a9b-0c1d2e3f4a02",
    "1a2b3c4d-0003-4e5f-8a9b-0c1d2e3f4a03",
]
SEED = PROJECT_ROOT / "tests" / "data" / "onboarding-checklist-template.md"  # a copy of the seed checklist (v2022.01)


class SandboxHandle:
    """A running sandbox plus helpers to switch faults and read call counts over its admin API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.conn = sandbox.connection
        self.url = self.conn.url
        self.connection_file = sandbox.state_dir / "connection.json"
        self._ctx = ssl.create_default_context(cafile=self.conn.ca_path)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None
        )
        with urllib.request.urlopen(req, context=self._ctx) as resp:
            return json.loads(resp.read() or b"{}")

    def set_faults(self, **switches) -> None:
        self.admin("PUT", "/_sandbox/faults", Faults(**switches).to_dict())

    def stats(self) -> dict:
        return self.admin("GET", "/_sandbox/stats")

    def clients(self) -> Clients:
        return Clients(sandbox_target(self.connection_file))

    @property
    def state(self):
        return self.sandbox.app.state

    def service(self, name: str):
        """A stand-in of the MSP's SaaS systems (hubspot, topdesk) of this sandbox, to seed or inspect."""
        return self.sandbox.app.services[name]

    def service_secret(self, name: str) -> str:
        """A stand-in's credential as the sandbox wrote it beside its connection file (hubspot-token, ...)."""
        return Path(self.conn.service_credentials[name]).read_text()

    def add_principal(
        self, name: str, role: str | None = None, scope: str | None = None, msp: bool = True
    ) -> tuple[str, str, str]:
        """A new app + service principal with a secret (and optionally a role at a scope): (client id, secret, object
        id). Like the runbook's app it is the MSP's (multi-tenant: it may sign in to the MSP's tenant too) unless
        `msp=False`."""
        from azure_sandbox.core.identity import new_client_secret
        from azure_sandbox.fixtures import role_assignment
        from azure_sandbox.providers import graph

        app = graph.new_application(self.state, name)
        sp = graph.new_service_principal(self.state, app)
        secret = new_client_secret()
        self.state.add_secret(app["appId"], secret)
        if msp:
            self.state.msp_apps.add(app["appId"].lower())
        if role:
            self.state.put(role_assignment(scope, sp["id"], role))
        return app["appId"], secret, sp["id"]

    def credential(self, client_id: str, secret: str):
        """A real ClientSecretCredential for a sandbox principal."""
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            self.conn.tenant_id,
            client_id,
            secret,
            authority=self.url,
            disable_instance_discovery=True,
            connection_verify=self.conn.ca_path,
            additionally_allowed_tenants=[self.conn.msp_tenant_id],
        )


@pytest.fixture
def sandbox(tmp_path_factory, monkeypatch) -> SandboxHandle:
    """A fresh demo sandbox for one test, registered as the runbook's sandbox ($RUNBOOK_SANDBOX)."""
    sb = Sandbox(DEMO_FIXTURE, tmp_path_factory.mktemp("sandbox"))
    sb.start()
    handle = SandboxHandle(sb)
    monkeypatch.setenv("RUNBOOK_SANDBOX", str(handle.connection_file))
    yield handle
    sb.stop()


@pytest.fixture
def clients(sandbox):
    """SDK clients authenticated against the sandbox with a real ClientSecretCredential."""
    made = sandbox.clients()
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _evidence_outside_the_checkout(tmp_path_factory, monkeypatch) -> None:
    """A test that names no evidence folder of its own (`evidence_dir`, a module's sandbox, its own environment) gets
    an empty one, never the checkout's evidence/ (and lighthouse/, .anchors/ beside it): tests in parallel (xdist)
    would share its customers' run locks, and a test's runs would stay in the checkout."""
    import os

    if "RUNBOOK_EVIDENCE_DIR" not in os.environ:
        monkeypatch.setenv("RUNBOOK_EVIDENCE_DIR", str(tmp_path_factory.mktemp("evidence") / "evidence"))


@pytest.fixture
def evidence_dir(tmp_path, monkeypatch) -> Path:
    """An empty evidence root for one test."""
    d = tmp_path / "evidence"
    monkeypatch.setenv("RUNBOOK_EVIDENCE_DIR", str(d))
    return d


#: the demo customer's secret store as parameters/demo.yml gives it (the sandbox's MSP Key Vault)
DEMO_SECRET_STORE = "secret_store: {keyvault: demo-runbook-app}"


def copy_msp_settings(folder: Path, sandbox_dir: Path | None = None, push: str = "manual") -> Path:
    """parameters/msp.yml (the MSP's settings the demo customers share) into a parameters folder of a test; with a
    sandbox's state folder, its references to the sandbox's credential files (`{file: .sandbox/...}`: the connectors'
    token and application password, the Passwordstate key) point into that folder."""
    target = folder / "msp.yml"
    text = (PROJECT_ROOT / "parameters" / "msp.yml").read_text()
    if sandbox_dir is not None:
        text = text.replace("{file: .sandbox/", f"{{file: {sandbox_dir}/")
    # no Azurite runs beside most tests' sandboxes: their runs do not push unless the test says `push="auto"` (the
    # demo test, whose `runbook demo` starts Azurite); tests/contract/test_evidence_archive.py sets up its own
    assert "    push: auto\n" in text
    target.write_text(text.replace("    push: auto\n", f"    push: {push}\n"))
    return target


def _sandbox_dir(request) -> Path | None:
    """The state folder of the test's sandbox, when the test uses the `sandbox` fixture (started first)."""
    if "sandbox" not in request.fixturenames:
        return None
    return request.getfixturevalue("sandbox").sandbox.state_dir


@pytest.fixture
def vault_params(tmp_path, monkeypatch, request) -> Path:
    """A parameters folder with demo.yml as committed: the app secret goes to the sandbox's Key Vault."""
    d = tmp_path / "vault-parameters"
    d.mkdir()
    copy_msp_settings(d, _sandbox_dir(request))
    (d / "demo.yml").write_text((PROJECT_ROOT / "parameters" / "demo.yml").read_text())
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(d))
    return d


@pytest.fixture
def params_dir(tmp_path, monkeypatch, request) -> Path:
    """A parameters folder holding a copy of demo.yml, for tests that edit parameters."""
    d = tmp_path / "parameters"
    d.mkdir()
    copy_msp_settings(d, _sandbox_dir(request))
    text = (PROJECT_ROOT / "parameters" / "demo.yml").read_text()
    # the app secret this test creates goes to a file of its own (tests of the Key Vault store use `vault_params`)
    text = text.replace(DEMO_SECRET_STORE, f"secret_store: {{file: {tmp_path / 'secrets' / 'demo-app-secret'}}}")
    (d / "demo.yml").write_text(text)
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(d))
    return d
