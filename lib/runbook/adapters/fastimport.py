"""Imports the runner pays for without using them, deferred to their first use (issue 24: fast stage runs).

papermill imports nbformat, nbformat imports jsonschema, and jsonschema's format checkers import `rfc3987_syntax`
(installed with Jupyter: jupyter-events asks for jsonschema[format-nongpl]) when it is installed. That module compiles
38 Lark grammars at import: about 1 s of CPU, more than everything else papermill imports, in every process that
runs a notebook. Nothing the runbook validates uses the "iri" / "iri-reference" formats those checkers serve, but
they stay as they were: `defer_rfc3987_grammar` puts a stand-in in its place whose `is_valid_syntax` imports the
real module (and compiles the grammars) on its first call and answers as it does.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

RFC3987 = "rfc3987_syntax"


class _Deferred(types.ModuleType):
    """Stands in for a module until one of its names is used; then the real module replaces it."""

    def _load(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__["_real"] = real
        return real

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        real = self.__dict__.get("_real") or self._load()
        return getattr(real, name)


def defer_rfc3987_grammar() -> bool:
    """Before papermill (nbformat, jsonschema) is imported: defer `rfc3987_syntax` to its first use. False when it is
    already imported or not installed (nothing to defer)."""
    if RFC3987 in sys.modules or importlib.util.find_spec(RFC3987) is None:
        return False
    stand_in = _Deferred(RFC3987, "deferred until first use (runbook.adapters.fastimport)")

    def is_valid_syntax(term: str, value: str) -> bool:
        return bool(stand_in.__getattr__("is_valid_syntax")(term, value))

    stand_in.__dict__["is_valid_syntax"] = is_valid_syntax
    sys.modules[RFC3987] = stand_in
    return True
