"""Benchmark: every configuring step of Stage 1 at scale, against the floor of the calls it must make.

    .venv/bin/python benchmarks/stage1_scale.py [--size 3000] [--latency-ms 50] [--concurrency 16]

On a generated tenant of --size resources (two subscriptions, every resource marked managed), with --latency-ms on
every call and ARM's throttling (per subscription: writes bucket 200 refilling 10/s, reads 250 refilling 25/s), it
runs the real Stage 1 steps one after another with apply (app registration, tagging, monitoring), each through the
shared mechanism (inspect, plan, apply, verify), and per step reports wall time, ARM calls (reads, writes, 429s) and

    floor = max(calls x latency / concurrency, (writes per subscription - 200) / 10, (reads per subscription - 250) / 25)

where calls, writes and reads are the ones ARM accepted (the 429s it answered are counted apart, as writes).

the time the same calls need at the allowed parallelism under ARM's limits. Target (issue 14): the stage within
1.3x of the sum of the floors. Writes benchmarks/results/stage1_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tagging import scale_params  # noqa: E402

from azure_sandbox import Faults, Sandbox  # noqa: E402
from runbook.adapters.clients import Clients, sandbox_target  # noqa: E402
from runbook.customer import params as P  # noqa: E402
from runbook.steps.app_registration import AppRegistration  # noqa: E402
from runbook.steps.base import Context, execute  # noqa: E402
from runbook.steps.monitoring import MonitoringAlerting  # noqa: E402
from runbook.steps.tagging import TagManagedResources, prepare_sheet  # noqa: E402

WRITE_CAP, WRITE_REFILL, READ_CAP, READ_REFILL = 200, 10.0, 250, 25.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    faults = Faults(
        latency_ms=args.latency_ms,
        throttle=True,
        write_capacity=WRITE_CAP,
        write_refill=WRITE_REFILL,
        read_capacity=READ_CAP,
        read_refill=READ_REFILL,
        seed=1,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["RUNBOOK_PARAMETERS_DIR"] = tmp
        base = ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml"
        with Sandbox(f"scale-{args.size}", work / "sb", faults=faults, base=base) as sb:
            subs = [s["subscriptionId"] for s in sb.app.state.subscriptions()]
            scale_params(work, args.size, subs, args.concurrency)
            clients = Clients(sandbox_target(sb.state_dir / "connection.json"))
            ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="benchmark")
            prepare_sheet(ctx)
            for step in (AppRegistration(), TagManagedResources(), MonitoringAlerting()):
                sb.app.stats.clear()
                sb.app.faults.set(faults)  # fresh buckets per step
                start = time.monotonic()
                result = execute(step, ctx)
                wall = time.monotonic() - start
                stats = dict(sb.app.stats)
                throttled = stats.get("throttled", 0)  # answered 429 (writes here: the read bucket is not reached)
                reads, writes = stats.get("arm_reads", 0), stats.get("arm_writes", 0) - throttled
                per_sub = max(1, len(subs))
                floor = max(
                    (reads + writes) * args.latency_ms / 1000 / args.concurrency,
                    max(0, writes / per_sub - WRITE_CAP) / WRITE_REFILL,
                    max(0, reads / per_sub - READ_CAP) / READ_REFILL,
                )
                row = {
                    "step": step.item_id,
                    "status": result.status,
                    "applied": len(result.applied),
                    "wall_s": round(wall, 2),
                    "reads": reads,
                    "writes": writes,
                    "throttled_429": throttled,
                    "floor_s": round(floor, 2),
                    "ratio": round(wall / floor, 2) if floor else None,
                }
                rows.append(row)
                print(
                    f"{step.item_id:<26} {result.status:<10} {wall:8.1f} s  reads {reads:5}  writes {writes:5}  "
                    f"429s {row['throttled_429']:4}  floor {floor:7.1f} s  ratio {row['ratio']}",
                    flush=True,
                )
    total, floor_sum = sum(r["wall_s"] for r in rows), sum(r["floor_s"] for r in rows)
    print(
        f"{'Stage 1 (configuring steps)':<37} {total:8.1f} s  floor {floor_sum:7.1f} s  ratio {total / floor_sum:.2f}"
    )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stage1_scale.json").write_text(
        json.dumps(
            {"size": args.size, "latency_ms": args.latency_ms, "concurrency": args.concurrency, "steps": rows}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
