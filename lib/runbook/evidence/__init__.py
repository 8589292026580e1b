"""The evidence of runs, behind one door per customer (`EvidenceStore`): run folders, journal, results, sealing,
hash chain and anchor, run lock, interactive transcripts, status. May import: customer, adapters, errors."""

from .store import EvidenceStore

__all__ = ["EvidenceStore"]


def __getattr__(name: str) -> object:
    """`runbook.evidence` was one module; its functions now live in `runbook.evidence.archive`. For one version the
    old names still resolve here, with a DeprecationWarning (submodules import as usual)."""
    import importlib
    import importlib.util
    import warnings

    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    from . import archive

    if name.startswith("__") or not hasattr(archive, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"runbook.evidence.{name} moved to runbook.evidence.archive.{name} (or use EvidenceStore); the old name goes in the next version",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(archive, name)
