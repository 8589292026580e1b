"""Benchmark: tag N managed resources on the sandbox with realistic latency and ARM's write throttling.

    .venv/bin/python benchmarks/tagging.py                    # N = 500, 2000, 5000 (about 7 minutes)
    .venv/bin/python benchmarks/tagging.py --sizes 500 --az-sample 30

For each N it runs the real Stage 1 tagging step (inspect, plan, apply, verify) against a generated
tenant of N resources over two subscriptions, every call delayed by --latency-ms, with ARM's write
token bucket per subscription (200 tokens, 10 per second; 429 + Retry-After in whole seconds). It
reports wall time of the apply phase, calls made, 429s, and the ratio to the floor

    floor = max(N * latency / concurrency, max over subscriptions of (writes - bucket) / refill)

It then times an `az tag update` loop (azure-cli against the same sandbox) on a sample of resources
and projects it to N, for comparison. Results go to stdout and benchmarks/results/tagging.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT))

from azure_sandbox import Faults, Sandbox  # noqa: E402
from runbook.adapters.clients import Clients, sandbox_target  # noqa: E402
from runbook.customer import params as P  # noqa: E402
from runbook.steps.base import Context  # noqa: E402
from runbook.steps.tagging import TagManagedResources, prepare_sheet  # noqa: E402
from tests.support.azcli import AzCli, ensure_installed  # noqa: E402


def scale_params(workdir: Path, n: int, subscription_ids: list[str], concurrency: int) -> None:
    """A parameter file for the generated tenant, every resource pre-marked managed in its own sheet."""
    demo = yaml.safe_load((ROOT / "parameters" / "demo.yml").read_text())
    demo.update(
        subscription_ids=subscription_ids,
        resource_sheet={"prefill": "Yes", "path": str(workdir / f"sheet-{n}.xlsx")},
        tagging={"concurrency": concurrency},
        attestations={},
    )
    demo["app_registration"]["secret_store"] = {"file": str(workdir / "secret")}
    (workdir / "demo.yml").write_text(yaml.safe_dump(demo))


def run_size(n: int, latency_ms: float, concurrency: int, az_sample: int, workdir: Path) -> dict:
    """Tag n resources once with the runbook and time a sample of az calls."""
    faults = Faults(
        latency_ms=latency_ms,
        throttle=True,
        write_capacity=200,
        write_refill=10.0,
        read_capacity=250,
        read_refill=25.0,
        seed=1,
    )
    with Sandbox(
        f"scale-{n}", workdir / f"sb-{n}", faults=faults, base=ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml"
    ) as sb:
        subs = [s["subscriptionId"] for s in sb.app.state.subscriptions()]
        scale_params(workdir, n, subs, concurrency)
        clients = Clients(sandbox_target(sb.state_dir / "connection.json"))
        ctx = Context(P.load("demo"), lambda: clients, apply=True, ran_by="benchmark")
        prepare_sheet(ctx)
        step = TagManagedResources()
        obs = step.inspect(ctx)
        plan = step.plan(ctx, obs)
        sb.app.stats.clear()
        sb.app.faults.set(faults)  # fresh buckets: the inventory reads above do not count against the writes
        start = time.monotonic()
        applied = step.apply(ctx, plan)
        elapsed = time.monotonic() - start
        stats = dict(sb.app.stats)
        remaining = step.plan(ctx, step.inspect(ctx))
        per_sub: dict[str, int] = {}
        for c in plan:
            per_sub[c.target.split("/")[2]] = per_sub.get(c.target.split("/")[2], 0) + 1
        throttle_floor = max(max(0, w - faults.write_capacity) / faults.write_refill for w in per_sub.values())
        latency_floor = len(plan) * latency_ms / 1000 / concurrency
        floor = max(latency_floor, throttle_floor)
        result = {
            "n": n,
            "planned": len(plan),
            "applied": len(applied),
            "remaining_after_verify": len(remaining),
            "wall_s": round(elapsed, 2),
            "calls": stats.get("arm_writes", 0) + stats.get("arm_reads", 0),
            "writes": stats.get("arm_writes", 0),
            "throttled_429": stats.get("throttled", 0),
            "floor_s": round(floor, 2),
            "latency_floor_s": round(latency_floor, 2),
            "throttle_floor_s": round(throttle_floor, 2),
            "ratio": round(elapsed / floor, 3) if floor else None,
            "concurrency": concurrency,
            "latency_ms": latency_ms,
        }
        if az_sample:
            az = AzCli(ensure_installed(), sb.connection, workdir / f"az-{n}")
            az.login()
            targets = [c.target for c in plan[:az_sample]]
            # the runbook already tagged these; az re-applies the same merge, which costs the same calls
            t0 = time.monotonic()
            for rid in targets:
                az("tag", "update", "--resource-id", rid, "--operation", "Merge", "--tags", "Intercept=Managed")
            per_call = (time.monotonic() - t0) / len(targets)
            result.update(
                az_sample=len(targets),
                az_s_per_call=round(per_call, 3),
                az_projected_s=round(max(per_call * len(plan), throttle_floor), 1),
            )
        return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument(
        "--az-sample", type=int, default=30, help="resources to tag with an az loop per size (0 skips azure-cli)"
    )
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RUNBOOK_PARAMETERS_DIR"] = tmp
        for n in args.sizes:
            r = run_size(n, args.latency_ms, args.concurrency, args.az_sample, Path(tmp))
            results.append(r)
            az = (
                f", az loop {r['az_s_per_call']} s/call -> {r['az_projected_s']} s projected"
                if "az_s_per_call" in r
                else ""
            )
            print(
                f"N={r['n']}: {r['applied']}/{r['planned']} tagged in {r['wall_s']} s, {r['calls']} calls, {r['throttled_429']} x 429, floor {r['floor_s']} s -> ratio {r['ratio']}{az}",
                flush=True,
            )
    out = ROOT / "benchmarks" / "results" / "tagging.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out.relative_to(ROOT)}")
    return 0 if all(r["remaining_after_verify"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
