"""Issue 24: a Dask worker that dies under a customer's task. The batch's LocalCluster runs with the scheduler's
`allowed-failures` at 0: the task fails at once ("its worker was lost"), never started again on another worker behind
the engineer's back (a second run of a customer's stage the first one may have half applied), and a stop never waits
for it. Distributed's own default (3) would start it again three more times."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook import batch

pytestmark = pytest.mark.notebooks


def test_a_task_whose_worker_dies_fails_at_once_and_is_not_started_again(tmp_path: Path):
    starts = tmp_path / "starts"

    def dies(path: str) -> None:  # pickled by value (cloudpickle): the worker needs no import of this module
        with open(path, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        os._exit(1)

    with batch.Batch(workers=1, processes=True) as b:  # worker processes (the default LocalCluster's are threads)
        future = b.client.submit(dies, str(starts), pure=False)
        b.futures, b._customer = [future], {future.key: "c001"}
        (outcome,) = list(b.results())
    assert outcome.customer == "c001" and outcome.exit_code != 0
    assert outcome.error.startswith("its worker was lost (KilledWorker"), outcome.error
    assert len(starts.read_text().splitlines()) == 1  # started once, not again on the restarted worker
