"""Benchmark: the JupyterLab bootstrap cell, measured in a real kernel once it is up.

    .venv/bin/python benchmarks/bootstrap.py [--runs 5]

Per run: start a fresh kernel (the project's python3 kernel), wait until it answers, then time
- floor: a cell that runs `pass` (a round trip through the kernel);
- the session cell of a stage notebook (`from runbook import notebook; session = notebook.start(...); session`),
  which loads the runbook, validates the parameters, takes the customer's lock, signs in (who-am-I) and checks
  the stage gate, and renders the banner;
against the demo sandbox started here. Prints medians and writes benchmarks/results/bootstrap.json. Target (issue
14): under 1 s after the kernel is up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SESSION = "from runbook import notebook\nsession = notebook.start('demo', stage=1)\nsession._repr_html_()[:10]"


def run_cell(client, code: str) -> float:
    start = time.perf_counter()
    reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
    took = time.perf_counter() - start
    if reply["content"]["status"] != "ok":
        raise SystemExit(f"cell failed: {reply['content']}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-boot-"))
    shutil.copytree(ROOT / "parameters", work / "parameters")
    serve = subprocess.Popen(
        [str(BIN / "runbook"), "sandbox", "serve", "--state-dir", str(work / "sandbox")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.update(
        RUNBOOK_SANDBOX=str(work / "sandbox" / "connection.json"),
        RUNBOOK_PARAMETERS_DIR=str(work / "parameters"),
        RUNBOOK_EVIDENCE_DIR=str(work / "evidence"),
    )
    samples: dict[str, list[float]] = {"pass cell (floor)": [], "session cell": []}
    try:
        while not (work / "sandbox" / "connection.json").exists():
            time.sleep(0.05)
        for _ in range(args.runs):
            km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT))
            try:
                samples["pass cell (floor)"].append(run_cell(kc, "pass"))
                samples["session cell"].append(run_cell(kc, SESSION))
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
    finally:
        serve.terminate()
        serve.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    out = {}
    for name, values in samples.items():
        med = statistics.median(values)
        out[name] = {"median_s": round(med, 3), "runs": len(values)}
        print(f"{name:<20} {med:6.3f} s (median of {len(values)})")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "bootstrap.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
