"""The modules that moved into the layer packages in 0.x, importable by their old names for one version.

`import runbook.params` (or `from runbook import params`) still works, with a DeprecationWarning naming the new
place; the module object is the new one, so there is never a second copy of its state. Removed in the next version.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import CodeType, ModuleType

#: old module name -> new module name
MOVED = {
    f"runbook.{old}": f"runbook.{new}"
    for old, new in {
        "catalogue": "customer.catalogue",
        "params": "customer.params",
        "sheet": "customer.sheet",
        "schedule": "customer.schedule",
        "connect": "customer.connect",
        "clients": "adapters.clients",
        "inventory": "adapters.inventory",
        "pacing": "adapters.pacing",
        "progress": "adapters.progress",
        "secrets": "adapters.secrets",
        "gitrepo": "adapters.gitrepo",
        "bicep": "adapters.bicep",
        "anchor": "evidence.anchor",
        "journal": "evidence.journal",
        "runlock": "evidence.lock",
        "sealing": "evidence.seal",
        "transcript": "evidence.transcript",
        "interactive": "evidence.interactive",
        "results": "evidence.results",
        "status": "evidence.status",
        "notebook_gen": "authoring.notebooks",
        "workcopy": "authoring.workcopy",
    }.items()
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name and hands out the module at its new place."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}  # each new module's own spec

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; import it from there (the old name goes in the next version)",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        self._specs.setdefault(new, module.__spec__)
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module ran at its new place already. The import system has just stamped the alias's spec on it (it
        always sets `__spec__`): put the module's own back, else `__package__` and `__spec__.parent` disagree and
        every later relative import inside it warns (ImportWarning)."""
        own = self._specs.get(module.__name__)
        if own is not None:
            module.__spec__ = own

    # `python -m <old name>` (a git filter configured before the move): runpy runs the new module's code
    def get_code(self, fullname: str) -> CodeType:
        warnings.warn(
            f"{fullname} moved to {MOVED[fullname]}; run `python -m {MOVED[fullname]}`",
            DeprecationWarning,
            stacklevel=2,
        )
        source = f"import runpy\nrunpy.run_module({MOVED[fullname]!r}, run_name='__main__', alter_sys=True)\n"
        return compile(source, f"<{fullname}, moved to {MOVED[fullname]}>", "exec")

    def is_package(self, fullname: str) -> bool:
        return False


def install() -> None:
    """Put the alias finder on sys.meta_path (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
