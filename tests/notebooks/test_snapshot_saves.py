"""Issue 24 (fast stage runs): while a notebook runs, the saves papermill makes at each cell's start and end are
compact snapshots (`kernels.snapshot_saves`), each a whole notebook nbformat reads, showing how far the run came;
the notebook a run leaves is nbformat's canonical form, with the permissions a file of the runner gets. On a kernel
of its own (one `runbook run`) and on a warm one (`runbook demo`, a batch's stages)."""

import json
import os
import stat
from contextlib import nullcontext

import nbformat
import pytest

from runbook import runner
from runbook.authoring import kernels

pytestmark = pytest.mark.notebooks

MIDWAY = """
import json
with open(output_path) as fh:
    saved = json.load(fh)  # the notebook as the runner saved it when this cell started
cells = saved["cells"][-3:]  # after the parameters and papermill's injected parameters
first = "".join(o.get("text", "") for o in cells[0]["outputs"])
assert first == "first cell ran\\n", first
assert cells[1]["metadata"]["papermill"]["status"] == "running"
assert cells[2]["metadata"]["papermill"]["status"] == "pending"
print("read the snapshot")
"""


def notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("output_path = ''"),
        nbformat.v4.new_code_cell('print("first cell ran")'),
        nbformat.v4.new_code_cell(MIDWAY),
        nbformat.v4.new_code_cell("1 + 1"),
    ]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("warm", [False, True], ids=["own-kernel", "warm-kernel"])
def test_a_run_saves_snapshots_midway_and_leaves_the_canonical_notebook(tmp_path, warm):
    source, out = notebook(tmp_path / "source.ipynb"), tmp_path / "run" / "out.ipynb"
    out.parent.mkdir()
    with runner.reuse_kernel() if warm else nullcontext():
        for _ in range(2 if warm else 1):  # on a warm kernel, its second notebook too (the kept client)
            error, interrupted = runner.execute(source, out, {"output_path": str(out)}, 120, False)
            assert (error, interrupted) == ("", False)
            nb = nbformat.read(out, as_version=4)
            assert "read the snapshot" in nb.cells[-2].outputs[0]["text"]
            assert out.read_text(encoding="utf-8") == nbformat.writes(nb)  # canonical, as papermill writes it
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in out.parent.iterdir()] == ["out.ipynb"]  # no temporary file left


def test_a_snapshot_replaces_the_file_whole_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text("{}")
    path.chmod(0o640)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 'é'\nprint(x)")])
    kernels.write_snapshot(nb, str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text(encoding="utf-8")) == nb
    nbformat.validate(nbformat.read(path, as_version=4))
    assert [p.name for p in tmp_path.iterdir()] == ["n.ipynb"]


def test_snapshot_saves_stand_in_only_inside_the_block(tmp_path):
    class Manager:  # papermill's NotebookExecutionManager as the engine sees it
        output_path = str(tmp_path / "m.ipynb")
        nb = nbformat.v4.new_notebook()
        last_save_time = None

        def save(self, **kwargs):
            self.canonical = True

        def now(self):
            return "now"

    m = Manager()
    with kernels.snapshot_saves(m):
        m.save()
        assert json.loads((tmp_path / "m.ipynb").read_text()) == m.nb and m.last_save_time == "now"
        assert not hasattr(m, "canonical")
    m.save()
    assert m.canonical  # the last save, after the block, is papermill's own
    s3 = Manager()
    s3.output_path = "s3://bucket/m.ipynb"  # papermill's other stores keep its saves
    with kernels.snapshot_saves(s3):
        s3.save()
    assert s3.canonical
