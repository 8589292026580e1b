"""Benchmark: the runbook's peak memory for a large tenant (the sandbox runs in its own process, not counted).

    .venv/bin/python benchmarks/memory.py [--size 5000]

Starts `runbook sandbox serve --fixture scale-<size>`, then in this process runs what a Stage 1 run holds in
memory: the Manageable Resource Sheet of every resource, and the tagging and monitoring steps (inspect and plan
every resource; a dry run, so the plans are complete), and their results' JSON and HTML. Reports the peak resident
set size (ru_maxrss) and the floor: this process after importing the runbook and the SDK clients, before any call.
Target (issue 14): under 400 MB at 5000 resources. Writes benchmarks/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000)
    args = ap.parse_args()
    from tagging import scale_params

    from runbook.adapters.clients import Clients, sandbox_target
    from runbook.customer import params as P
    from runbook.steps.base import Context, execute
    from runbook.steps.monitoring import MonitoringAlerting
    from runbook.steps.tagging import TagManagedResources, prepare_sheet

    floor = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["RUNBOOK_PARAMETERS_DIR"] = tmp
        serve = subprocess.Popen(
            [
                str(BIN / "runbook"),
                "sandbox",
                "serve",
                "--fixture",
                f"scale-{args.size}",
                "--state-dir",
                str(work / "sb"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            conn = work / "sb" / "connection.json"
            while not conn.exists():
                if serve.poll() is not None:
                    raise SystemExit("the sandbox did not start")
                time.sleep(0.1)
            clients = Clients(sandbox_target(conn))
            subs = [s.subscription_id for s in clients.subscriptions().subscriptions.list()]
            scale_params(work, args.size, subs, 16)
            ctx = Context(P.load("demo"), lambda: clients, apply=False, ran_by="benchmark", share_inventory=True)
            start = time.monotonic()
            sheet = prepare_sheet(ctx)
            results = [execute(TagManagedResources(), ctx), execute(MonitoringAlerting(), ctx)]
            for r in results:  # what the notebook shows and the evidence keeps
                json.dumps(r.to_dict())
                r.as_html()
            took = time.monotonic() - start
        finally:
            serve.terminate()
            serve.wait(10)
    peak = rss_mb()
    planned = sum(len(r.planned) for r in results)
    print(f"resources in the sheet: {len(sheet.marking.managed)} marked managed; planned changes: {planned}")
    print(
        f"floor (runbook and SDKs imported): {floor:.0f} MB; peak: {peak:.0f} MB ({peak - floor:.0f} MB for the run, {took:.1f} s)"
    )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory.json").write_text(
        json.dumps({"size": args.size, "floor_mb": round(floor), "peak_mb": round(peak), "planned": planned}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
