"""Benchmark: what recording before and after costs an apply, per change, against planning the same changes.

    .venv/bin/python benchmarks/before_after.py [--size 5000]

No sandbox: a tenant of N resources in memory (half carry the managed tag in another casing), the tagging step's
plan of them (the floor: what every apply does anyway, measured in the same run), then `steps/states.py`'s before
and after over every planned change (each state read from the step's observation, as `execute` does), their
records (`ItemResult.to_dict`) and the item card's HTML with the before/after tables, against the same card without
states. Median of 5. Writes benchmarks/results/before_after.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from runbook.adapters.inventory import Resource
    from runbook.evidence.results import Change, ItemResult
    from runbook.steps import states
    from runbook.steps.base import Observation
    from runbook.steps.tagging import TagManagedResources, tag_change

    class Params:
        class managed_tag:  # the parameters' shape
            key, value = "Intercept", "Managed"

    class Ctx:
        params, journal, item_id = Params, None, "s1-tag-managed-resources"

    sub = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01"
    resources = [
        Resource(
            f"/subscriptions/{sub}/resourceGroups/rg-{i % 50}/providers/Microsoft.Compute/virtualMachines/vm-{i}",
            f"vm-{i}",
            "Microsoft.Compute/virtualMachines",
            "westeurope",
            sub,
            f"rg-{i % 50}",
            tags={"intercept": "old", "owner": "team-a"} if i % 2 else {"owner": "team-a"},
        )
        for i in range(args.size)
    ]
    step = TagManagedResources()
    plan_s, states_s, card_s, plain_card_s = [], [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        planned = [c for r in resources if (c := tag_change(r, "Intercept", "Managed")) is not None]
        t1 = time.perf_counter()
        obs = Observation([], {"resources": resources})
        states.before(step, Ctx(), obs, planned)
        states.after(step, Ctx(), Observation([], {"resources": resources}), planned, [])
        t2 = time.perf_counter()
        with_states = ItemResult("s1-tag-managed-resources", 1, "Engineer", "automated", "t", applied=planned)
        with_states.to_dict(), with_states.as_html()
        t3 = time.perf_counter()
        bare = [Change(c.target, c.action, c.detail) for c in planned]
        plain = ItemResult("s1-tag-managed-resources", 1, "Engineer", "automated", "t", applied=bare)
        plain.to_dict(), plain.as_html()
        t4 = time.perf_counter()
        plan_s.append(t1 - t0)
        states_s.append(t2 - t1)
        card_s.append(t3 - t2)
        plain_card_s.append(t4 - t3)
    med = {k: statistics.median(v) for k, v in (("plan", plan_s), ("states", states_s), ("card", card_s))}
    med["card_without_states"] = statistics.median(plain_card_s)
    out = {
        "size": args.size,
        "changes": len(planned),
        "seconds": med,
        "states_vs_plan": med["states"] / med["plan"],
        "card_vs_card_without_states": med["card"] / med["card_without_states"],
        "per_change_us": med["states"] / len(planned) * 1e6,
    }
    print(
        f"{len(planned)} tag merges over {args.size} resources: plan {med['plan'] * 1000:.1f} ms (floor), before+after "
        f"{med['states'] * 1000:.1f} ms ({out['states_vs_plan']:.2f}x the plan, {out['per_change_us']:.1f} us per "
        f"change); record + card {med['card'] * 1000:.1f} ms vs {med['card_without_states'] * 1000:.1f} ms without "
        f"states ({out['card_vs_card_without_states']:.2f}x)"
    )
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "before_after.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
