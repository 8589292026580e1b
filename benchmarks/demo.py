"""Benchmark: `runbook demo` (sandbox start, every stage with --apply, the first monthly report, evidence verified)
against the papermill floor of the notebooks it executes, measured in the same run.

    .venv/bin/python benchmarks/demo.py [--runs 3]

- floor: a bare `papermill` run (same interpreter, same kernel) of a notebook of two `pass` cells: what "start
  Python and papermill, start a kernel, run cells, write the notebook" costs here;
- `runbook demo` in a fresh temporary home (copies of parameters/ and notebooks/; its own .sandbox, evidence and
  anchors; the checkout's Azurite when `make install` installed it, so the archive's start, push and verify count,
  as in `make demo`);
- the demo's floor: N x the floor, N the notebooks the demo executed (every executed notebook in its evidence).
Paired and interleaved (floor, demo, floor, demo, ...), median of --runs; prints the demo's wall time, its ratio to
N x floor, `uptime`'s load, and writes benchmarks/results/demo.json. Goal (issue 24): the demo under 15 s.
`--against DIR` also times the demo with DIR/lib first on the path (another checkout, e.g. main) in the same rounds:
a before/after pair measured under the same load.
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

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOAL_S = 15.0


def timed(cmd: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {(out.stdout + out.stderr)[-3000:]}")
    return took


def floor_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("pass") for _ in range(2)]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def executed_notebooks(home: Path) -> int:
    """The notebooks the demo executed: one per run folder of the evidence (stages and the report)."""
    return sum(1 for _ in (home / "evidence").glob("*/*/*.ipynb"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", type=Path, help="another checkout whose lib/ is timed in the same rounds")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    floor_nb = floor_notebook(work / "floor.ipynb")
    load = os.getloadavg()
    samples: dict[str, list[float]] = {"papermill floor": [], "runbook demo": [], "against": []}
    notebooks = 0
    try:
        for i in range(args.runs):
            env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
            samples["papermill floor"].append(
                timed(
                    [str(BIN / "papermill"), "--no-progress-bar", str(floor_nb), str(work / f"out-{i}.ipynb")],
                    env,
                    work,
                )
            )
            mine = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "lib"), env.get("PYTHONPATH")]))}
            pairs = [("runbook demo", mine)]
            if args.against:
                pairs.append(("against", {**env, "PYTHONPATH": str(args.against.resolve() / "lib")}))
            for name, run_env in pairs if i % 2 == 0 else reversed(pairs):
                home = work / f"{name.replace(' ', '-')}-{i}"
                for folder in ("parameters", "notebooks"):  # as in the checkout `make demo` runs in
                    shutil.copytree(ROOT / folder, home / folder)
                if (ROOT / ".cache" / "npm").is_dir():  # Azurite as `make install` put it: the demo pushes its evidence
                    (home / ".cache").mkdir()
                    (home / ".cache" / "npm").symlink_to(ROOT / ".cache" / "npm")
                samples[name].append(
                    timed([str(BIN / "runbook"), "demo"], {**run_env, "RUNBOOK_HOME": str(home)}, home)
                )
                if name == "runbook demo":
                    notebooks = executed_notebooks(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor = statistics.median(samples["papermill floor"])
    demo = statistics.median(samples["runbook demo"])
    out = {
        "runs": args.runs,
        "load_average_at_start": [round(x, 2) for x in load],
        "notebooks_executed": notebooks,
        "evidence_archive": "Azurite (push and verify included)" if (ROOT / ".cache" / "npm").is_dir() else "none",
        "papermill_floor_s": round(floor, 3),
        "demo_floor_s": round(notebooks * floor, 3),
        "demo_s": round(demo, 3),
        "demo_samples_s": [round(x, 3) for x in samples["runbook demo"]],
        "ratio_to_demo_floor": round(demo / (notebooks * floor), 2),
        "goal_s": GOAL_S,
        "goal_met": demo < GOAL_S,
    }
    if args.against:
        before = statistics.median(samples["against"])
        out["against"] = {"checkout": str(args.against), "demo_s": round(before, 3), "speedup": round(before / demo, 2)}
    print(f"load average at start          {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"papermill floor (2 cells)      {floor:7.2f} s  ({args.runs} runs)")
    print(f"demo floor ({notebooks} notebooks x floor) {notebooks * floor:7.2f} s")
    print(
        f"runbook demo                   {demo:7.2f} s  {demo / (notebooks * floor):5.2f}x its floor; goal < {GOAL_S:.0f} s: "
        f"{'met' if demo < GOAL_S else 'MISSED'}"
    )
    if args.against:
        print(f"runbook demo with {args.against}/lib {before:7.2f} s  (this checkout is {before / demo:4.2f}x as fast)")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "demo.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
