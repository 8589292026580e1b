"""Benchmark: how fast the `runbook` command answers, against the floor of starting Python at all.

    .venv/bin/python benchmarks/cli_start.py [--runs 7]

Times, as paired runs on the same machine (median of --runs each, interleaved so load affects all alike):
- floor: `python -c pass` with the same interpreter;
- `runbook --help`;
- `runbook params validate demo` (reads and validates the demo parameter file; no Azure call).
Prints each median, its ratio to the floor and the absolute gap; writes benchmarks/results/cli_start.json.
The target (issue 14) is under 0.5 s for both commands.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    runbook = str(BIN / "runbook")
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "runbook --help": [runbook, "--help"],
        "runbook params validate demo": [runbook, "params", "validate", "demo"],
    }
    for cmd in commands.values():  # warm the file cache once
        timed(cmd)
    samples: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            samples[name].append(timed(cmd))
    floor = statistics.median(samples["python -c pass (floor)"])
    out = {}
    for name, values in samples.items():
        med = statistics.median(values)
        out[name] = {"median_s": round(med, 4), "ratio_to_floor": round(med / floor, 2), "gap_s": round(med - floor, 4)}
        print(f"{name:<32} {med * 1000:8.1f} ms   {med / floor:5.2f}x floor   +{(med - floor) * 1000:6.1f} ms")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "cli_start.json").write_text(json.dumps({"runs": args.runs, "commands": out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
