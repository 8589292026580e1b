"""Secrets: the reference a parameter file holds instead of a value, reading and storing the secret it points to,
and what a secret looks like (the detector that keeps values out of parameters and evidence)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from .. import PROJECT_ROOT
from ..errors import SecretError


class SecretRef(BaseModel):
    """Where a secret lives; parameters hold only this reference, never the value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None
    keyvault: str | None = None  # https://<vault>.vault.azure.net/secrets/<name>
    passwordstate: str | None = None  # PasswordState list/entry id

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("env", "file", "keyvault", "passwordstate") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file, keyvault, passwordstate")
        return self

    def describe(self) -> str:
        """A display form of the reference (never the secret)."""
        for k in ("env", "file", "keyvault", "passwordstate"):
            if getattr(self, k):
                return f"{k}:{getattr(self, k)}"
        return ""


# What must never be archived. Each pattern names the kind it finds; values are never echoed.
SECRET_PATTERNS: dict[str, re.Pattern] = {
    "bearer token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "authorization header": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}", re.IGNORECASE),
    "Entra ID client secret": re.compile(
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"
    ),
    "storage connection string": re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}", re.IGNORECASE),
    "SAS token": re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{16,}", re.IGNORECASE),
    "shared access key": re.compile(r"SharedAccessKey=[A-Za-z0-9+/=]{16,}", re.IGNORECASE),
    "password assignment": re.compile(
        r"(?i)\b(password|passwd|pwd|client_secret)\s*[=:]\s*['\"]?(?!\*{3})[^\s'\"<>,;]{6,}"
    ),
    "private key": re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----"),
    "absolute home path": re.compile(
        r"(?<![\w.])(/home/[A-Za-z0-9._-]+|/root|/Users/[A-Za-z0-9._-]+|[A-Za-z]:\\\\?Users\\\\?[A-Za-z0-9._-]+)(?=[/\\\\'\"\s]|$)"
    ),
}


@dataclass
class Finding:
    """Where the secret scan found something, and of what kind (never the value)."""

    file: str
    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.kind}"


def scan_text(text: str, file: str, known: tuple[str, ...] = ()) -> list[Finding]:
    """Secret findings in a text, by line; `known` are secret values that must not appear verbatim."""
    findings = []
    for n, line in enumerate(text.splitlines(), 1):
        for kind, pat in SECRET_PATTERNS.items():
            if pat.search(line):
                findings.append(Finding(file, f"line {n}", kind))
        for value in known:
            if value and len(value) >= 8 and value in line:
                findings.append(Finding(file, f"line {n}", "known secret value"))
    return findings


def known_secret_values() -> tuple[str, ...]:
    """Secrets this machine holds for the runbook (sandbox credential, stored app secrets): never archived."""
    values = []
    for candidate in [PROJECT_ROOT / ".sandbox" / "client-secret", *sorted((PROJECT_ROOT / ".secrets").glob("*"))]:
        if candidate.is_file():
            values.append(candidate.read_text().strip())
    env_conn = os.environ.get("RUNBOOK_SANDBOX")
    if env_conn and Path(env_conn).exists():
        secret_path = Path(json.loads(Path(env_conn).read_text())["secret_path"])
        if secret_path.exists():
            values.append(secret_path.read_text().strip())
    return tuple(values)


def stored_values(refs: Iterable[SecretRef | None]) -> tuple[str, ...]:
    """Values of the secrets these references point to in local files (never to be archived)."""
    files = [r for r in refs if r is not None and r.file]
    return tuple(file_path(r).read_text().strip() for r in files if file_path(r).exists())


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
