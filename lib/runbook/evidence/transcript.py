"""What an interactive kernel executed, as a notebook: the evidence of a session stepped through by hand.

A notebook open in JupyterLab lives in the browser; what reaches the disk is whatever autosave last wrote, and the
kernel cannot read it. The evidence therefore comes from the kernel itself: every cell it executed, in the order it
executed them (re-runs included), with the results and displays it produced and the one-line error of a cell that
failed. Cells whose source is a cell of the stage notebook get that notebook's narrative before them, so an auditor
reads the same story as in a papermill run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat


@dataclass
class Cell:
    """One executed cell: its source, execution count and the outputs the kernel sent."""

    source: str
    execution_count: int | None
    outputs: list[dict] = field(default_factory=list)


@dataclass
class Transcript:
    """Records the cells an IPython shell executes from the moment it is installed (earlier inputs from history)."""

    cells: list[Cell] = field(default_factory=list)
    _shell: Any = field(default=None, repr=False)
    _originals: dict = field(default_factory=dict, repr=False)

    def install(self, shell: Any) -> None:
        """Start recording: earlier inputs of this kernel (without outputs), then the current cell and every later
        one with its outputs."""
        self._shell = shell
        history = list(shell.user_ns.get("_ih", []))[1:]
        for n, src in enumerate(history[:-1], 1):
            if src.strip():
                self.cells.append(Cell(src, n))
        if history:
            self.cells.append(Cell(history[-1], shell.execution_count))
        shell.events.register("pre_run_cell", self._pre)
        shell.events.register("post_run_cell", self._post)
        hook, pub = shell.displayhook, shell.display_pub
        self._originals = {"write_format_data": hook.write_format_data, "publish": pub.publish}
        hook.write_format_data = self._result
        pub.publish = self._display

    def uninstall(self) -> None:
        """Stop recording (the shell is as it was)."""
        shell = self._shell
        if shell is None:
            return
        for name, fn in (("pre_run_cell", self._pre), ("post_run_cell", self._post)):
            try:
                shell.events.unregister(name, fn)
            except ValueError:
                pass
        shell.displayhook.write_format_data = self._originals["write_format_data"]
        shell.display_pub.publish = self._originals["publish"]
        self._shell = None

    # --- IPython hooks ---------------------------------------------------------------------------
    def _pre(self, info: Any) -> None:
        self.cells.append(Cell(info.raw_cell, getattr(self._shell, "execution_count", None)))

    def _post(self, result: Any) -> None:
        err = result.error_in_exec or result.error_before_exec
        if err is not None and self.cells:
            text = str(err).splitlines()[0] if str(err) else ""
            self.cells[-1].outputs.append(
                {"output_type": "error", "ename": type(err).__name__, "evalue": text, "traceback": []}
            )

    def _result(self, format_dict: dict, md_dict: dict | None = None) -> Any:
        if self.cells:
            self.cells[-1].outputs.append(
                {
                    "output_type": "execute_result",
                    "data": dict(format_dict),
                    "metadata": dict(md_dict or {}),
                    "execution_count": self.cells[-1].execution_count,
                }
            )
        return self._originals["write_format_data"](format_dict, md_dict)

    def _display(self, data: dict, metadata: dict | None = None, *args: Any, **kwargs: Any) -> Any:
        if self.cells and not kwargs.get("update"):
            self.cells[-1].outputs.append({"output_type": "display_data", "data": dict(data), "metadata": {}})
        return self._originals["publish"](data, metadata, *args, **kwargs)

    # --- the notebook ----------------------------------------------------------------------------
    def notebook(self, template: nbformat.NotebookNode | None = None, metadata: dict | None = None) -> Any:
        """The executed cells as a notebook; with the stage notebook as template, each of its code cells run here
        is preceded (once) by the markdown that narrates it."""
        import nbformat

        narrative: dict[str, list[Any]] = {}
        if template is not None:
            pending: list[Any] = []
            for c in template.cells:
                if c.cell_type == "markdown":
                    pending.append(c)
                elif c.cell_type == "code":
                    narrative[c.source.strip()] = pending
                    pending = []
        nb = nbformat.v4.new_notebook()
        told: set[str] = set()
        for cell in self.cells:
            key = cell.source.strip()
            if key in narrative and key not in told:
                told.add(key)
                nb.cells += [nbformat.v4.new_markdown_cell(m.source) for m in narrative[key]]
            code = nbformat.v4.new_code_cell(cell.source, execution_count=cell.execution_count)
            code.outputs = [nbformat.from_dict(_jsonable(o)) for o in cell.outputs]
            nb.cells.append(code)
        nb.metadata.update(
            {
                "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                "language_info": {"name": "python"},
                **(metadata or {}),
            }
        )
        return nb


def _jsonable(value: Any) -> Any:
    """Output data as nbformat stores it (JSON values; anything else as its text)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
