"""Fixtures the notebook tests share: a demo sandbox of one module's own, and a customer onboarded on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runbook import runner
from tests.conftest import DEMO_FIXTURE, SandboxHandle, copy_msp_settings


@pytest.fixture(scope="module")
def module_sandbox(tmp_path_factory, request) -> Iterator[SandboxHandle]:
    """A demo sandbox shared by one module's tests (which run in order), in a folder of its own (`handle.root`, named
    after the module), the runbook's locations pointed into it while they run: $RUNBOOK_SANDBOX this sandbox,
    $RUNBOOK_EVIDENCE_DIR root/evidence, $RUNBOOK_PARAMETERS_DIR root/parameters (`handle.folder`, empty: the module
    writes its customers, e.g. with `onboard`)."""
    from azure_sandbox import Sandbox

    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    sb = Sandbox(DEMO_FIXTURE, root / "sandbox")
    sb.start()
    handle = SandboxHandle(sb)
    handle.root, handle.folder = root, root / "parameters"
    handle.folder.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOOK_SANDBOX", str(handle.connection_file))
        mp.setenv("RUNBOOK_EVIDENCE_DIR", str(root / "evidence"))
        mp.setenv("RUNBOOK_PARAMETERS_DIR", str(handle.folder))
        yield handle
    sb.stop()


def onboard(handle: SandboxHandle, customer: str, parameters: str) -> SandboxHandle:
    """The customer (its parameter file's text `parameters`, beside the MSP's settings) through every stage with
    --apply on the module's sandbox, all five complete; the first monthly report runs before Stage 3, whose
    s3-parc-report finds it (as `runbook demo` does)."""
    copy_msp_settings(handle.folder, handle.sandbox.state_dir)
    (handle.folder / f"{customer}.yml").write_text(parameters)
    outcomes = runner.run_all(customer, apply=True, stages=[0, 1, 2])
    assert runner.run_report(customer).status == "complete"
    outcomes += runner.run_all(customer, apply=True, stages=[3, 4])
    assert [o.status for o in outcomes] == ["complete"] * 5
    return handle
