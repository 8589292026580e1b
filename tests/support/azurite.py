"""Azurite for the tests of the evidence archive: started on a free port over HTTPS with a sandbox's certificate (the
SDK trusts it through the sandbox's CA) and OAuth, the containers the sandbox's ARM holds made on it. Absent Azurite
the tests skip naming the install command, except in CI (CI=true), where npm is there and they must run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook.adapters import azurite


def require() -> None:
    """Skip (or, in CI, fail) when Azurite is not installed."""
    if azurite.executable() is None:
        message = f"Azurite is not installed: {azurite.INSTALL} (make install does it when npm exists)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def start(conn, folder: Path, containers: list[str]) -> azurite.Azurite:
    """Azurite for a running sandbox (its Connection), its state file beside the sandbox's connection file (so
    `account_url: azurite` finds it), with `containers` made on it."""
    from runbook.adapters.blobstore import InTenant

    require()
    server = azurite.start(folder, conn.tls_cert_path, conn.tls_key_path, Path(conn.secret_path).parent)
    credential = conn.credential(conn.msp_tenant_id)
    azurite.create_containers(server.account_url, containers, InTenant(credential, conn.msp_tenant_id), conn.ca_path)
    return server
