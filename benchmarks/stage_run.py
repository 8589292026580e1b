"""Benchmark: a whole stage run and the whole demo, against the papermill floor measured in the same run.

    .venv/bin/python benchmarks/stage_run.py [--runs 5]

- floor: a bare `papermill` run (same interpreter, same kernel) of a notebook with as many code cells as the
  Stage 0 notebook, each cell `pass`: what "start a kernel, run the cells, write the notebook" costs here;
- `runbook run demo --stage 0` against the sandbox (a fresh evidence folder each time);
- a second floor, the same papermill run with `rfc3987_syntax` deferred as the runner defers it
  (`runbook.adapters.fastimport`): the floor without the 1 s of grammar compilation the runner no longer pays, so the ratio
  to it shows what a stage run costs beyond papermill's own work;
- `runbook demo` (sandbox + all five stages with --apply), timed once per run (benchmarks/demo.py times it against
  its own floor, paired; --no-demo skips it here).
Paired and interleaved, median of --runs; prints each figure with its ratio to the floor and writes
benchmarks/results/stage_run.json. Targets (issues 14, 24): the stage within 1.5x of the floor, the demo under 15 s.
`--against DIR` also times the stage run with DIR/lib first on the path (e.g. main) in the same rounds.
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


def timed(cmd: list[str], env: dict, cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if out.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-demo", action="store_true", help="skip timing `runbook demo`")
    ap.add_argument("--against", type=Path, help="another checkout whose lib/ runs the stage in the same rounds")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-stage-"))
    stage0 = nbformat.read(ROOT / "notebooks" / "00-prerequisites.ipynb", as_version=4)
    cells = sum(1 for c in stage0.cells if c.cell_type == "code")
    floor_nb = nbformat.v4.new_notebook()
    floor_nb.cells = [nbformat.v4.new_code_cell("pass") for _ in range(cells)]
    floor_nb.cells[0].metadata["tags"] = ["parameters"]
    floor_nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(floor_nb, work / "floor.ipynb")

    params = work / "parameters"
    shutil.copytree(ROOT / "parameters", params)
    sandbox_dir = work / "sandbox"
    serve = subprocess.Popen(
        [str(BIN / "runbook"), "sandbox", "serve", "--fixture", "demo", "--state-dir", str(sandbox_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while not (sandbox_dir / "connection.json").exists():
            if serve.poll() is not None:
                raise SystemExit("the sandbox did not start")
            time.sleep(0.05)
        samples: dict[str, list[float]] = {
            "papermill floor": [],
            "papermill floor, rfc3987 deferred": [],
            "runbook run demo --stage 0": [],
        }
        if args.against:
            samples[f"  ... with {args.against}/lib"] = []
        deferred_papermill = (
            "import sys; from runbook.adapters.fastimport import defer_rfc3987_grammar; defer_rfc3987_grammar(); "
            "from papermill.cli import papermill; sys.exit(papermill())"
        )
        for i in range(args.runs):
            env = {
                **os.environ,
                "RUNBOOK_SANDBOX": str(sandbox_dir / "connection.json"),
                "RUNBOOK_PARAMETERS_DIR": str(params),
                "RUNBOOK_EVIDENCE_DIR": str(work / f"evidence-{i}"),
            }
            samples["papermill floor"].append(
                timed(
                    [
                        str(BIN / "papermill"),
                        "--no-progress-bar",
                        str(work / "floor.ipynb"),
                        str(work / f"out-{i}.ipynb"),
                    ],
                    env,
                )
            )
            mine = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "lib"), env.get("PYTHONPATH")]))}
            samples["papermill floor, rfc3987 deferred"].append(
                timed(
                    [
                        sys.executable,
                        "-c",
                        deferred_papermill,
                        "--no-progress-bar",
                        str(work / "floor.ipynb"),
                        str(work / f"out-{i}.ipynb"),
                    ],
                    mine,
                )
            )
            samples["runbook run demo --stage 0"].append(
                timed([str(BIN / "runbook"), "run", "demo", "--stage", "0"], mine)
            )
            if args.against:
                other = {**env, "PYTHONPATH": str(args.against.resolve() / "lib")}
                other["RUNBOOK_EVIDENCE_DIR"] = str(work / f"evidence-against-{i}")
                samples[f"  ... with {args.against}/lib"].append(
                    timed([str(BIN / "runbook"), "run", "demo", "--stage", "0"], other)
                )
    finally:
        serve.terminate()
        serve.wait(10)
    if not args.no_demo:
        samples["runbook demo"] = []
        for i in range(max(1, args.runs // 2)):
            home = work / f"demo-{i}"
            shutil.copytree(ROOT / "parameters", home / "parameters")
            env = {**os.environ, "RUNBOOK_HOME": str(home)}
            env.pop("RUNBOOK_SANDBOX", None)
            samples["runbook demo"].append(timed([str(BIN / "runbook"), "demo"], env, cwd=home))
    floor = statistics.median(samples["papermill floor"])
    strict = statistics.median(samples["papermill floor, rfc3987 deferred"])
    out = {}
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, values in samples.items():
        med = statistics.median(values)
        out[name] = {
            "median_s": round(med, 3),
            "ratio_to_floor": round(med / floor, 2),
            "ratio_to_deferred_floor": round(med / strict, 2),
            "runs": len(values),
        }
        print(
            f"{name:<36} {med:7.2f} s   {med / floor:5.2f}x papermill floor   {med / strict:5.2f}x deferred floor ({len(values)} runs)"
        )
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "stage_run.json").write_text(json.dumps({"code_cells": cells, "figures": out}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
