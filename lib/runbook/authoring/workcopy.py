"""Per-customer working copies of the stage notebooks, the project's named kernel, and the git filter that keeps the
repository's notebooks free of outputs.

Engineers never step through `notebooks/` itself: `runbook open <customer> --stage N` writes the stage notebook
into `work/<customer>/` with the customer filled in and the project's kernel selected, and keeps it (with the
engineer's outputs) on later calls. The evidence of what was done there is sealed by the session itself; the working
copy is only a workspace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import PROJECT_ROOT
from ..customer import catalogue
from . import notebooks as notebook_gen

KERNEL_NAME = "onboarding-runbook"
KERNEL_DISPLAY = "Onboarding runbook"
WORK_ENV = "RUNBOOK_WORK_DIR"
FILTER = "nbstrip-outputs"


def work_root() -> Path:
    """Where working copies live ($RUNBOOK_WORK_DIR or <project>/work)."""
    return Path(os.environ.get(WORK_ENV) or PROJECT_ROOT / "work")


def kernel_spec() -> dict:
    """The project's kernel: this environment's Python, with the project's home so it finds parameters/ from any
    working folder."""
    return {
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_DISPLAY,
        "language": "python",
        "env": {"RUNBOOK_HOME": str(PROJECT_ROOT)},
        "metadata": {"debugger": True},
    }


def install_kernel(prefix: str | None = None) -> Path:
    """Install (or refresh) the named kernelspec into this environment's prefix; returns its folder."""
    target = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    spec = json.dumps(kernel_spec(), indent=1) + "\n"
    path = target / "kernel.json"
    if not path.exists() or path.read_text() != spec:
        path.write_text(spec)
    return target


@dataclass
class WorkingCopy:
    """A stage notebook prepared for one customer."""

    path: Path
    created: bool

    def relative(self) -> str:
        """The path from the project folder (how JupyterLab's tree names it)."""
        try:
            return str(self.path.relative_to(PROJECT_ROOT))
        except ValueError:
            return str(self.path)


def prepare(customer: str, stage: int, fresh: bool = False) -> WorkingCopy:
    """The customer's working copy of a stage notebook: created from the catalogue with the customer and the
    project's kernel; an existing copy is kept unless `fresh`."""
    st = catalogue.load().stage(stage)
    path = work_root() / customer / st.notebook
    if path.exists() and not fresh:
        return WorkingCopy(path, False)
    nb = notebook_gen.build(st, catalogue.load().for_stage(stage))
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params_cell.source = params_cell.source.replace('customer = "demo"', f"customer = {json.dumps(customer)}", 1)
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY, "language": "python"}
    nb.metadata["runbook"] = {"customer": customer, "stage": stage, "working_copy": True}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_gen.render(nb), encoding="utf-8")
    return WorkingCopy(path, True)


def running_lab() -> str | None:
    """The URL (with token) of a Jupyter server running from this project, if any."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    for info in list_running_servers():
        root = Path(info.get("root_dir") or info.get("notebook_dir") or "")
        if root.resolve() == PROJECT_ROOT.resolve():
            return f"{info['url'].rstrip('/')}/lab/tree/{{path}}?token={info.get('token', '')}"
    return None


# --- the git filter ------------------------------------------------------------------------------


def strip(text: str) -> str:
    """A notebook's text without outputs and execution counts, written as the generator writes it."""
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.get("metadata", {}).pop(key, None)
    nb.get("metadata", {}).pop("widgets", None)
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def configure_git_filter(repo: Path = PROJECT_ROOT) -> bool:
    """Register the clean filter .gitattributes names for notebooks/ in this clone (git config is per clone);
    False when the project is not a git clone."""
    if not (repo / ".git").exists():
        return False
    command = f"{sys.executable} -m runbook.authoring.workcopy strip"
    subprocess.run(["git", "config", f"filter.{FILTER}.clean", command], cwd=repo, check=True)
    subprocess.run(["git", "config", f"filter.{FILTER}.smudge", "cat"], cwd=repo, check=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """`python -m runbook.authoring.workcopy strip` (stdin to stdout: the git clean filter) or `... setup` (kernel + filter)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["strip"]:
        sys.stdout.write(strip(sys.stdin.read()))
        return 0
    if args[:1] == ["setup"]:
        print(f"kernel '{KERNEL_NAME}' installed in {install_kernel()}")
        print(f"git filter {FILTER}: {'configured' if configure_git_filter() else 'not a git clone, skipped'}")
        return 0
    print("usage: python -m runbook.authoring.workcopy strip|setup", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
