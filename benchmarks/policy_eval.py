"""Benchmark: what Azure Policy costs the sandbox, on a `scale-2000` tenant over HTTPS.

    .venv/bin/python benchmarks/policy_eval.py                  # 1000 tag merges per phase, 20 summaries
    .venv/bin/python benchmarks/policy_eval.py --calls 300 --summaries 5

Measured in the same run:
- admission: a tag merge (PATCH .../tags/default, Merge) per call, with no assignment (the floor) and with four
  enforced assignments over the subscription (allowed locations as deny, inherit a tag as modify, require a tag on
  resource groups as deny, VM backup audit); reported as the ratio of the two;
- compliance: one `policyStates/latest/summarize` of the subscription (~1000 resources x 4 policies, computed from
  the tenant) against its floor, one page of `GET /subscriptions/{s}/resources?$top=1000` (the same resources,
  listed).
Results: stdout and benchmarks/results/policy_eval.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

BUILTIN = "/providers/Microsoft.Authorization/policyDefinitions/"
ASSIGNMENTS = {
    "locations": (
        BUILTIN + "e56962a6-4747-49cd-b67b-bf8b01975c4c",
        {"listOfAllowedLocations": {"value": ["westeurope", "northeurope"]}},
    ),
    "inherit": (BUILTIN + "ea3f2387-9b95-492a-a190-fcdc54f7b070", {"tagName": {"value": "costcenter"}}),
    "rg-tag": (BUILTIN + "96670d01-0a4d-4649-9c89-2d3abc0a5025", {"tagName": {"value": "costcenter"}}),
    "vm-backup": (BUILTIN + "013e242c-8828-4970-87b3-ab247555486d", {}),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--summaries", type=int, default=20)
    args = ap.parse_args()

    import requests

    from azure_sandbox import Sandbox
    from runbook.adapters.clients import ARM_SCOPE, sandbox_target

    with tempfile.TemporaryDirectory() as tmp:
        sb = Sandbox("scale-2000", Path(tmp), base=ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml")
        sb.start()
        try:
            conn = sb.connection
            token = sandbox_target(Path(tmp) / "connection.json").credential.get_token(ARM_SCOPE).token
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            s.trust_env = False  # the sandbox's CA, not one from the environment
            s.verify = conn.ca_path
            base = conn.url
            sub = sb.app.state.subscriptions()[0]["subscriptionId"]
            ids = [
                o["id"]
                for o in sb.app.state.arm.values()
                if o["id"].startswith(f"/subscriptions/{sub}/") and "/providers/" in o["id"] and "location" in o
            ][:500]

            def merges(n: int) -> float:
                t0 = time.perf_counter()
                for i in range(n):
                    url = f"{base}{ids[i % len(ids)]}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01"
                    r = s.patch(url, json={"operation": "Merge", "properties": {"tags": {"bench": str(i % 7)}}})
                    assert r.status_code == 200, r.text
                return (time.perf_counter() - t0) / n

            merges(50)  # warm-up
            floor = merges(args.calls)
            for name, (definition, params) in ASSIGNMENTS.items():
                body = {"properties": {"policyDefinitionId": definition, "parameters": params}}
                if name == "inherit":
                    body.update(identity={"type": "SystemAssigned"}, location="westeurope")
                url = f"{base}/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments/{name}?api-version=2023-04-01"
                assert s.put(url, json=body).status_code == 201
            enforced = merges(args.calls)
            trigger = s.post(
                f"{base}/subscriptions/{sub}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation?api-version=2019-10-01"
            )
            for _ in range(10):
                if s.get(trigger.headers["Location"]).status_code == 200:
                    break

            def each(fn) -> float:
                times = []
                for _ in range(args.summaries):
                    t0 = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - t0)
                return statistics.median(times)

            summarize = each(
                lambda: s.post(
                    f"{base}/subscriptions/{sub}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version=2019-10-01"
                ).raise_for_status()
            )
            listing = each(
                lambda: s.get(
                    f"{base}/subscriptions/{sub}/resources?api-version=2021-04-01&$top=1000"
                ).raise_for_status()
            )
            resources = len(
                s.get(f"{base}/subscriptions/{sub}/resources?api-version=2021-04-01&$top=1000").json()["value"]
            )
        finally:
            sb.stop()
    out = {
        "resources_in_subscription": resources,
        "tag_merge_ms_no_assignment": round(floor * 1000, 2),
        "tag_merge_ms_four_assignments": round(enforced * 1000, 2),
        "admission_ratio": round(enforced / floor, 2),
        "summarize_ms": round(summarize * 1000, 1),
        "list_page_ms": round(listing * 1000, 1),
        "summarize_over_list_page": round(summarize / listing, 2),
    }
    print(json.dumps(out, indent=2))
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "policy_eval.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
