"""Benchmark: a batch over many sandbox customers, sequential vs Dask, against the papermill floor of the same run.

    .venv/bin/python benchmarks/portfolio.py [--customers 100] [--workers 2]
    .venv/bin/python benchmarks/portfolio.py --done-when      # the issue's 20-customer case, checked end to end

N small customers (tests/support/batch_customers.py: the demo tenant, one subscription, CSP) on one demo sandbox;
Stage 0 then drift for all of them (`runbook run --all --stage 0`, `runbook drift --all`):
- sequential: `--workers 1` (in one process, one customer after another);
- Dask: a LocalCluster of --workers processes (the default path of a batch);
- floor: a bare `papermill` run of a two-cell notebook (same interpreter and kernel), measured in the same run;
- the machine's ceiling: two CPU-bound Python processes at once against the same two units one after another (the
  peer the batch's speed-up is read against: two vCPUs give less than 2x even to work that shares nothing).
Prints wall times, the speed-up, the per-customer cost of the sequential path against the floor (two runs per
customer: its Stage 0 and its drift run) and each Dask worker's memory peak, with `uptime` (the machine is shared);
writes benchmarks/results/portfolio.json. Targets (issue 24): speed-up >= 1.8x on 2 cores, per-customer overhead
<= 1.5x the floor.

`--done-when` checks the issue's case instead: `runbook run --all --stage 0 --workers 2` over 20 customers and a
broken one (exit 2 for it, the others done, every customer's evidence verified), and, while the batch holds one
customer's lock, a second `runbook run <that customer> --stage 0` refused by the lock (exit 4). Exit 0 when all hold.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lib")]
BIN = Path(sys.executable).parent

from tests.support import batch_customers  # noqa: E402


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CPU: dict[str, float] = {}  # the last timed command's CPU seconds: its process tree's, the sandbox's


def timed(cmd: list[str], env: dict, sandbox_pid: int = 0) -> tuple[float, str]:
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    sandbox = cpu_of(sandbox_pid)
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["runbook"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    CPU["sandbox"] = cpu_of(sandbox_pid) - sandbox
    if out.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stdout[-1500:]} {out.stderr[-1500:]}")
    return took, out.stdout


def done_when(work: Path, base: dict, customers: int = 20) -> int:
    """The issue's 20-customer case, end to end through the CLI (see the module's docstring)."""
    made = batch_customers.write(work / "parameters", customers, bad="broken", sandbox_dir=work / "sandbox")
    env = {**base, "RUNBOOK_EVIDENCE_DIR": str(work / "evidence")}
    start = time.perf_counter()
    batch = subprocess.Popen(
        [str(BIN / "runbook"), "run", "--all", "--stage", "0", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = work / "evidence" / made[-1] / ".run.lock"  # the batch's last customer: still to come, or running
    second = None
    while batch.poll() is None and second is None:
        if last.exists():
            second = subprocess.run(
                [str(BIN / "runbook"), "run", made[-1], "--stage", "0"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
        time.sleep(0.02)
    out, err = batch.communicate()
    took = time.perf_counter() - start
    checks = {
        "batch exit 2 (the broken customer's)": batch.returncode == 2,
        "broken: exit 2 with its file and field": "broken: error:" in err and "tier" in err,
        f"{customers} customers: stage 0 complete": sum(f"{c}: exit 0" in out for c in made) == customers,
        "the second invocation refused by the lock (exit 4)": second is not None and second.returncode == 4,
    }
    unverified = [
        c
        for c in made
        if subprocess.run(
            [str(BIN / "runbook"), "evidence", "verify", c], cwd=ROOT, env=env, capture_output=True, text=True
        ).returncode
    ]
    checks["every customer's evidence verified (runbook evidence verify)"] = not unverified
    for what, ok in checks.items():
        print(f"{'ok    ' if ok else 'FAILED'} {what}")
    if second is not None and second.returncode != 4:
        print(f"  second invocation: exit {second.returncode}: {second.stdout[-500:]} {second.stderr[-500:]}")
    if not all(checks.values()):
        print(out[-3000:], err[-3000:])
    print(f"done-when: {customers} customers + 1 broken on 2 Dask workers in {took:.1f} s")
    return 0 if all(checks.values()) else 1


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_ceiling(rounds: int = 3, n: int = 8_000_000) -> float:
    """The speed-up this machine gives two CPU-bound Python processes over the same two units one after another
    (median of `rounds`): the peer the batch's speed-up is read against (two vCPUs are not always two free cores)."""
    import multiprocessing

    ratios = []
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # the pool's processes started before the clock
        for _ in range(rounds):
            start = time.perf_counter()
            _spin(n)
            _spin(n)
            one = time.perf_counter() - start
            start = time.perf_counter()
            pool.map(_spin, [n, n], chunksize=1)
            ratios.append(one / (time.perf_counter() - start))
    return sorted(ratios)[len(ratios) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--done-when", action="store_true", help="check the issue's 20-customer case instead")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-portfolio-"))
    floor_nb = nbformat.v4.new_notebook()
    floor_nb.cells = [nbformat.v4.new_code_cell("pass"), nbformat.v4.new_code_cell("pass")]
    floor_nb.cells[0].metadata["tags"] = ["parameters"]
    floor_nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(floor_nb, work / "floor.ipynb")
    sandbox_dir = work / "sandbox"
    serve = subprocess.Popen(
        [str(BIN / "runbook"), "sandbox", "serve", "--fixture", "demo", "--state-dir", str(sandbox_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT / "lib")},
    )
    figures: dict = {
        "customers": args.customers,
        "workers": args.workers,
        "uptime_before": os.popen("uptime").read().strip(),
    }
    try:
        while not (sandbox_dir / "connection.json").exists():
            if serve.poll() is not None:
                raise SystemExit("the sandbox did not start")
            time.sleep(0.05)
        base = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "lib"),
            "RUNBOOK_SANDBOX": str(sandbox_dir / "connection.json"),
            "RUNBOOK_PARAMETERS_DIR": str(work / "parameters"),
        }
        if args.done_when:
            return done_when(work, base)
        batch_customers.write(work / "parameters", args.customers, sandbox_dir=sandbox_dir)
        floors = [
            timed(
                [str(BIN / "papermill"), "--no-progress-bar", str(work / "floor.ipynb"), str(work / f"out{i}.ipynb")],
                base,
            )[0]
            for i in range(3)
        ]
        floor = sorted(floors)[1]
        ceilings = [machine_ceiling()]  # before, between and after the passes: the host's load moves meanwhile
        for label, workers in (("sequential", 1), ("dask", args.workers)):
            env = {**base, "RUNBOOK_EVIDENCE_DIR": str(work / f"evidence-{label}")}
            cmd = [str(BIN / "runbook"), "run", "--all", "--stage", "0", "--workers", str(workers)]
            run, out_run = timed(cmd, env, serve.pid)
            cpu = dict(CPU)
            drift, out_drift = timed(
                [str(BIN / "runbook"), "drift", "--all", "--workers", str(workers)], env, serve.pid
            )
            cpu = {k: cpu[k] + CPU[k] for k in cpu}
            peaks = re.findall(r"^peak memory per worker: (.*)$", out_run + out_drift, re.M)
            figures[label] = {
                "stage0_s": round(run, 1),
                "drift_s": round(drift, 1),
                "total_s": round(run + drift, 1),
                "peaks": peaks,
                # where the time goes: CPU seconds of the batch's process tree (runbook, workers, kernels) and of the
                # sandbox, against the wall time x the cores
                "cpu_runbook_s": round(cpu["runbook"], 1),
                "cpu_sandbox_s": round(cpu["sandbox"], 1),
                "cpu_busy": round((cpu["runbook"] + cpu["sandbox"]) / ((run + drift) * (os.cpu_count() or 1)), 2),
            }
            print(
                f"{label:<10} stage 0 {run:7.1f} s   drift {drift:7.1f} s   total {run + drift:7.1f} s  {peaks}\n"
                f"{'':<10} CPU: batch {cpu['runbook']:.1f} s, sandbox {cpu['sandbox']:.1f} s "
                f"({figures[label]['cpu_busy']:.0%} of {os.cpu_count()} cores busy)",
                flush=True,
            )
            ceilings.append(machine_ceiling())
        ceiling = sorted(ceilings)[1]
        seq, dask = figures["sequential"]["total_s"], figures["dask"]["total_s"]
        per_run = seq / (2 * args.customers)
        figures |= {
            "papermill_floor_s": round(floor, 2),
            "speed_up": round(seq / dask, 2),
            "machine_ceiling_two_processes": round(ceiling, 2),
            "machine_ceilings_before_between_after": [round(c, 2) for c in ceilings],
            "speed_up_of_ceiling": round(seq / dask / ceiling, 2),
            "sequential_per_run_s": round(per_run, 2),
            "overhead_vs_floor": round(per_run / floor, 2),
            "uptime_after": os.popen("uptime").read().strip(),
        }
        print(
            f"papermill floor (two cells) {floor:.2f} s; sequential per customer run {per_run:.2f} s = {per_run / floor:.2f}x floor"
        )
        print(
            f"speed-up with {args.workers} Dask workers: {seq / dask:.2f}x (goal 1.8x: "
            f"{'met' if seq / dask >= 1.8 else 'MISSED'}); this machine gives two CPU-bound processes {ceiling:.2f}x "
            f"(median of before / between / after: {', '.join(f'{c:.2f}' for c in ceilings)}), so the batch has "
            f"{seq / dask / ceiling:.0%} of the machine's ceiling ({figures['uptime_after']})"
        )
    finally:
        serve.terminate()
        serve.wait(10)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "portfolio.json").write_text(json.dumps(figures, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
