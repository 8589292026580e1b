"""Contract-test fixtures: raw HTTPS to the sandbox with a real token."""

import importlib

import pytest

from runbook.adapters.clients import sandbox_target
from tests.contract.http import Raw


@pytest.fixture
def raw(sandbox):
    """A raw ARM client for the test's sandbox, signed in as the runbook principal."""
    r = Raw(sandbox)
    yield r
    r.close()


@pytest.fixture
def sdk(sandbox):
    """Builds a real azure-mgmt-* client for the test's sandbox: sdk(module, class, *args, **client kwargs)."""
    made = []

    def build(module: str, name: str, *args, **kwargs):
        t = sandbox_target(sandbox.connection_file)
        cls = getattr(importlib.import_module(module), name)
        options = {
            "base_url": t.arm_url,
            "credential_scopes": [t.arm_scope],
            "connection_verify": t.verify,
            **t.client_kwargs,
            **kwargs,
        }
        client = cls(t.credential, *args, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()
