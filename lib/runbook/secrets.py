"""Secret references: read a secret the runbook needs, or store one it creates, never into outputs."""

from __future__ import annotations

import os
from pathlib import Path

from . import PROJECT_ROOT
from .errors import SecretError
from .params import Parameters, SecretRef


def stored_values(params: Parameters) -> tuple[str, ...]:
    """Values of the secrets the customer's parameters point to in local files (never to be archived)."""
    refs = [
        r
        for r in (
            params.app_registration.secret_store if params.app_registration else None,
            params.credential.client_secret if params.credential else None,
        )
        if r is not None and r.file
    ]
    return tuple(file_path(r).read_text().strip() for r in refs if file_path(r).exists())


def file_path(ref: SecretRef) -> Path:
    p = Path(ref.file or "")
    return p if p.is_absolute() else PROJECT_ROOT / p


def read(ref: SecretRef) -> str:
    """The secret a reference points to (environment variable or local file)."""
    if ref.env:
        value = os.environ.get(ref.env)
        if not value:
            raise SecretError(f"environment variable {ref.env} is not set; export it before the run")
        return value
    if ref.file:
        path = file_path(ref)
        if not path.exists():
            raise SecretError(f"secret file {ref.file} does not exist")
        return path.read_text().strip()
    raise SecretError(
        f"reading {ref.describe()} is not supported by the runbook; expose the secret through an environment variable"
    )


def store(ref: SecretRef, value: str) -> str:
    """Write a new secret to its store; returns the reference to show instead of the value."""
    if ref.file:
        path = file_path(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return ref.describe()
    raise SecretError(
        f"storing into {ref.describe()} needs the MSP's vault integration; use a file reference for the sandbox"
    )
