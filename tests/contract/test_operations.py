"""Each operation answers with the status code and key paths of its official REST example."""

from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_SUBS
from tests.contract.http import key_paths_present

CASES = yaml.safe_load((Path(__file__).parent / "operations.yml").read_text())
SUB = DEMO_SUBS[0]
RG = "rg-prod-web"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"


def fill(value):
    """Substitute {sub}, {rg} and {vm} in strings, lists and dicts."""
    if isinstance(value, str):
        return value.replace("{sub}", SUB).replace("{rg}", RG).replace("{vm}", VM)
    if isinstance(value, list):
        return [fill(v) for v in value]
    if isinstance(value, dict):
        return {k: fill(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["op"] for c in CASES])
def test_operation_matches_its_example(raw, case):
    for method, path, *body in fill(case.get("setup", [])):
        assert raw(method, path, body[0] if body else None).status_code < 300
    method, path, *body = fill(case["request"])
    resp = raw(method, path, body[0] if body else None)
    assert resp.status_code == case["status"], resp.text
    for header in case.get("headers", []):
        assert header in resp.headers, f"missing header {header}"
        if header in ("Location", "Azure-AsyncOperation"):
            assert resp.headers[header].startswith(raw.base + "/"), "LRO URLs must point back at the sandbox"
    if case.get("keys"):
        assert key_paths_present(resp.json(), case["keys"]) == []
    if "again" in case:
        assert raw(method, path, body[0] if body else None).status_code == case["again"]
