"""Engineers work on per-customer working copies with the project's kernel; the repository's notebooks stay free of
outputs through a git clean filter."""

import json
import os
import subprocess
import sys

import nbformat
import pytest

from runbook import PROJECT_ROOT, cli
from runbook.authoring import workcopy


@pytest.fixture
def work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(workcopy.WORK_ENV, str(tmp_path / "work"))
    return tmp_path / "work"


def with_outputs(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    for n, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = n + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="applied 53 changes\n")]
        cell.metadata["execution"] = {"iopub.status.busy": "2026-11-26T10:00:00Z"}
    return nbformat.writes(nb) + "\n"


def test_the_filter_leaves_a_pristine_notebook_as_it_is_and_strips_outputs():
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert workcopy.strip(text) == text, path.name
        dirty = with_outputs(text)
        assert dirty != text and workcopy.strip(dirty) == text, path.name


def test_git_stores_notebooks_without_outputs(tmp_path):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / ".gitattributes").write_text((PROJECT_ROOT / ".gitattributes").read_text())
    assert workcopy.configure_git_filter(repo)
    pristine = (PROJECT_ROOT / "notebooks" / "01-technical-onboarding.ipynb").read_text(encoding="utf-8")
    (repo / "notebooks" / "01.ipynb").write_text(with_outputs(pristine), encoding="utf-8")
    subprocess.run(["git", "add", "notebooks/01.ipynb"], cwd=repo, check=True, env=_git_env())
    staged = subprocess.run(
        ["git", "show", ":notebooks/01.ipynb"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    assert staged == pristine and "applied 53 changes" not in staged


def _git_env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "lib")}


def test_a_working_copy_is_the_customers_and_is_kept(work_dir, params_dir):
    wc = workcopy.prepare("demo", 1)
    assert wc.created and wc.path == work_dir / "demo" / "01-technical-onboarding.ipynb"
    nb = nbformat.read(wc.path, as_version=4)
    assert nb.metadata.kernelspec.name == workcopy.KERNEL_NAME
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'customer = "demo"' in params_cell.source and "apply = False" in params_cell.source
    wc.path.write_text(wc.path.read_text().replace("apply = False", "apply = True"))
    again = workcopy.prepare("demo", 1)
    assert not again.created and "apply = True" in again.path.read_text()  # the engineer's work is kept
    assert "apply = False" in workcopy.prepare("demo", 1, fresh=True).path.read_text()


def test_the_named_kernel_runs_this_environment_with_the_project_home(tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager

    folder = workcopy.install_kernel(prefix=str(tmp_path))
    spec = KernelSpecManager(kernel_dirs=[str(folder.parent)]).get_kernel_spec(workcopy.KERNEL_NAME)
    assert spec.argv[0] == sys.executable and spec.env["RUNBOOK_HOME"] == str(PROJECT_ROOT)
    assert json.loads((folder / "kernel.json").read_text())["display_name"] == workcopy.KERNEL_DISPLAY


def test_runbook_open_prepares_the_copy_and_says_how_to_open_it(work_dir, params_dir, capsys, monkeypatch):
    monkeypatch.setattr(workcopy, "install_kernel", lambda prefix=None: work_dir / "kernel")
    monkeypatch.setattr(workcopy, "running_lab", lambda: None)
    monkeypatch.setenv("RUNBOOK_SANDBOX", str(work_dir / "no-sandbox.json"))
    assert cli.main(["open", "demo", "--stage", "1"]) == 0
    out = capsys.readouterr().out
    assert "01-technical-onboarding.ipynb (created)" in out
    assert "NOT running: start it in another terminal with `runbook sandbox serve`" in out
    start = next(line for line in out.splitlines() if line.startswith("start"))
    # issue 28: the printed command keeps the server's root (links in the cards resolve), and as root it says
    # --allow-root (Jupyter refuses root without it)
    assert f"--ServerApp.root_dir={PROJECT_ROOT}" in start and "jupyter lab" in start
    assert ("--allow-root" in start) == (os.geteuid() == 0)
    assert cli.main(["open", "nobody", "--stage", "1"]) == 2
