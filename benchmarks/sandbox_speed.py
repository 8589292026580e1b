"""Benchmark: the sandbox's own speed, calls per second for a tag merge and a resource list page.

    .venv/bin/python benchmarks/sandbox_speed.py                     # 2000 merges, 200 pages, 2000 floor calls
    .venv/bin/python benchmarks/sandbox_speed.py --calls 500 --repeat 3

Against a `scale-2000` tenant, over HTTPS with one keep-alive session and a real bearer token, it times
- a tag merge: PATCH {resource}/providers/Microsoft.Resources/tags/default (Merge, one tag), round-robin over resources;
- a list page: GET /subscriptions/{s}/resources?$top=1000;
- the floor, measured in the same run: GET /metadata/endpoints (same TLS server and handler, no auth, no work).
Each is reported as calls/s and as its per-call time over the floor's (median of --repeat runs after a warm-up).
Runs against this checkout's `azure_sandbox`, or an older checkout's `runbook.sandbox` (`--lib PATH`), so a change's
before and after are measured by the same script. Results: stdout and benchmarks/results/sandbox_speed.json.
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


def start(lib: Path, workdir: Path):
    """A scale-2000 sandbox from whichever layout `lib` holds."""
    sys.path.insert(0, str(lib))
    if (lib / "azure_sandbox").is_dir():
        from azure_sandbox import Sandbox

        sb = Sandbox("scale-2000", workdir, base=lib / "runbook" / "data" / "sandbox-demo.yml")
    else:
        from runbook.sandbox import Sandbox  # the layout before azure_sandbox existed

        sb = Sandbox("scale-2000", workdir)
    sb.start()
    return sb


def timed(
    session, method: str, urls: list[str], body: dict | None = None, headers: dict | None = None, verify: str = ""
) -> float:
    """Seconds for sending each URL once, checking every answer is a success."""
    t0 = time.perf_counter()
    for url in urls:
        resp = session.request(method, url, json=body, headers=headers, verify=verify)
        if resp.status_code >= 300:
            raise SystemExit(f"{method} {url} answered {resp.status_code}: {resp.text[:300]}")
    return time.perf_counter() - t0


def main() -> int:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000, help="tag merges and floor calls per run")
    ap.add_argument("--pages", type=int, default=200, help="list pages per run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lib", type=Path, default=ROOT / "lib", help="the lib/ folder of the checkout to measure")
    args = ap.parse_args()

    import requests
    from azure.identity import ClientSecretCredential

    with tempfile.TemporaryDirectory() as tmp:
        sb = start(args.lib.resolve(), Path(tmp))
        conn = sb.connection
        cred = ClientSecretCredential(
            conn.tenant_id,
            conn.client_id,
            Path(conn.secret_path).read_text().strip(),
            authority=conn.url,
            disable_instance_discovery=True,
            connection_verify=conn.ca_path,
        )
        auth = {"Authorization": f"Bearer {cred.get_token('https://management.azure.com/.default').token}"}
        s = requests.Session()
        sub = sb.app.state.subscriptions()[0]["subscriptionId"]
        ids = [
            o["id"]
            for k, o in sb.app.state.arm.items()
            if k.startswith(f"/subscriptions/{sub}/resourcegroups/") and k.count("/") == 8
        ]
        merge_urls = [
            f"{conn.url}{ids[i % len(ids)]}/providers/Microsoft.Resources/tags/default?api-version=2025-04-01"
            for i in range(args.calls)
        ]
        list_urls = [f"{conn.url}/subscriptions/{sub}/resources?api-version=2025-04-01&$top=1000"] * args.pages
        floor_urls = [f"{conn.url}/metadata/endpoints?api-version=2022-09-01"] * args.calls
        merge = {"operation": "Merge", "properties": {"tags": {"bench": "1"}}}
        runs: dict[str, list[float]] = {"floor": [], "tag merge": [], "list page": []}
        for i in range(args.repeat + 1):  # the first pass warms up and is not counted
            f = timed(s, "GET", floor_urls, verify=conn.ca_path)
            m = timed(s, "PATCH", merge_urls, merge, auth, conn.ca_path)
            lp = timed(s, "GET", list_urls, headers=auth, verify=conn.ca_path)
            if i:
                runs["floor"].append(f / len(floor_urls))
                runs["tag merge"].append(m / len(merge_urls))
                runs["list page"].append(lp / len(list_urls))
        sb.stop()
    per_call = {k: statistics.median(v) for k, v in runs.items()}
    out = {
        k: {
            "ms_per_call": round(v * 1000, 3),
            "calls_per_s": round(1 / v, 1),
            "ratio_to_floor": round(v / per_call["floor"], 2),
        }
        for k, v in per_call.items()
    }
    out["resources_per_page"] = min(1000, len(ids))
    print(f"{'operation':<12} {'ms/call':>9} {'calls/s':>9} {'x floor':>8}")
    for k in ("floor", "tag merge", "list page"):
        print(f"{k:<12} {out[k]['ms_per_call']:>9} {out[k]['calls_per_s']:>9} {out[k]['ratio_to_floor']:>8}")
    dest = ROOT / "benchmarks" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "sandbox_speed.json").write_text(json.dumps({"lib": str(args.lib), **out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
