"""Contract-test fixtures: raw HTTPS to the sandbox with a real token."""

import pytest

from tests.contract.http import Raw


@pytest.fixture
def raw(sandbox):
    """A raw ARM client for the test's sandbox, signed in as the runbook principal."""
    r = Raw(sandbox)
    yield r
    r.close()
