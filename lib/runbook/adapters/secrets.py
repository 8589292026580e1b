"""Secrets: the reference a parameter file holds instead of a value, reading and storing the secret it points to,
and what a secret looks like (the detector that keeps values out of parameters and evidence)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from .. import PROJECT_ROOT
from ..errors import SecretError

_KEYVAULT_URL = re.compile(
    r"^(https://[a-z0-9][a-z0-9-]{1,22}[a-z0-9]\.[a-z0-9.-]+(?::\d+)?)/secrets/([0-9A-Za-z-]{1,127})/?$", re.IGNORECASE
)


_PASSWORDSTATE = re.compile(r"^(\d+)/(\S.{0,254})$")


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
        if self.passwordstate and not _PASSWORDSTATE.match(self.passwordstate):
            raise ValueError(
                f"passwordstate: '{self.passwordstate}' is not <password list id>/<title>, e.g. 7/Contoso app registration"
            )
        if self.keyvault and not _KEYVAULT_URL.match(self.keyvault):
            raise ValueError(
                f"keyvault: '{self.keyvault}' is not a secret's URL; give https://<vault>.vault.azure.net/secrets/<name> "
                "(name: 1-127 letters, digits and hyphens)"
            )
        return self

    @property
    def vault_url(self) -> str:
        """The vault of a keyvault reference (https://<vault>.<domain>)."""
        m = _KEYVAULT_URL.match(self.keyvault or "")
        return m.group(1) if m else ""

    @property
    def password_list(self) -> int:
        """The Passwordstate list of a passwordstate reference."""
        m = _PASSWORDSTATE.match(self.passwordstate or "")
        return int(m.group(1)) if m else 0

    @property
    def title(self) -> str:
        """The title of the Passwordstate entry a passwordstate reference names."""
        m = _PASSWORDSTATE.match(self.passwordstate or "")
        return m.group(2).strip() if m else ""

    @property
    def secret_name(self) -> str:
        """The secret's name in its vault (a keyvault reference)."""
        m = _KEYVAULT_URL.match(self.keyvault or "")
        return m.group(2) if m else ""

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
    "HubSpot private app token": re.compile(
        r"\bpat-[a-z]{2}\d-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    ),
    "Exact Online token": re.compile(r"\bstamp[A-Z]{2}\d{3}\.[A-Za-z0-9!*_~+/=-]{20,}"),
    "absolute home path": re.compile(
        r"(?<![\w.])(/home/[A-Za-z0-9._-]+|/root|/Users/[A-Za-z0-9._-]+|[A-Za-z]:\\\\?Users\\\\?[A-Za-z0-9._-]+)(?=[/\\\\'\"\s]|$)"
    ),
}


# A literal every match of the kind's pattern contains (lower case; the text is searched lower-cased): a text
# without one cannot match, and a substring search is a hundred times faster than the pattern's.
_ANCHORS: dict[str, tuple[str, ...]] = {
    "bearer token": ("eyj",),
    "authorization header": ("bearer",),
    "Entra ID client secret": ("q~",),
    "storage connection string": ("accountkey=",),
    "SAS token": ("sig=",),
    "shared access key": ("sharedaccesskey=",),
    "password assignment": ("password", "passwd", "pwd", "client_secret"),
    "private key": ("private key-----",),
    "HubSpot private app token": ("pat-",),
    "Exact Online token": ("stamp",),
    "absolute home path": ("/home/", "/root", "/users/", "\\users"),
}
assert _ANCHORS.keys() == SECRET_PATTERNS.keys()


@dataclass
class Finding:
    """Where the secret scan found something, and of what kind (never the value)."""

    file: str
    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.kind}"


def scan_text(text: str, file: str, known: tuple[str, ...] = ()) -> list[Finding]:
    """Secret findings in a text, by line; `known` are secret values that must not appear verbatim.

    The whole text is searched first: for each kind, its literal anchor (`_ANCHORS`), then, when one is there, its
    pattern. Whatever a pattern finds in a line it finds in the text (a line's start and end are, in the text, next
    to a line break, which no pattern's look-around or `\\b` takes for a word, and which `\\s` matches), so a text
    without a hit has no finding; only the kinds that hit are searched line by line, to say where."""
    known = tuple(v for v in known if v and len(v) >= 8)
    low = text.lower()
    kinds = [k for k, pat in SECRET_PATTERNS.items() if any(a in low for a in _ANCHORS[k]) and pat.search(text)]
    if not kinds and not any(v in text for v in known):
        return []
    findings = []
    for n, line in enumerate(text.splitlines(), 1):
        for kind in kinds:
            if SECRET_PATTERNS[kind].search(line):
                findings.append(Finding(file, f"line {n}", kind))
        for value in known:
            if value in line:
                findings.append(Finding(file, f"line {n}", "known secret value"))
    return findings


def known_secret_values() -> tuple[str, ...]:
    """Secrets this machine holds for the runbook (sandbox credential, stored app secrets): never archived."""
    values: list[str] = []
    for candidate in [PROJECT_ROOT / ".sandbox" / "client-secret", *sorted((PROJECT_ROOT / ".secrets").glob("*"))]:
        if candidate.is_file():
            values.extend(secret_parts(candidate.read_text()))
    env_conn = os.environ.get("RUNBOOK_SANDBOX")
    if env_conn and Path(env_conn).exists():
        secret_path = Path(json.loads(Path(env_conn).read_text())["secret_path"])
        if secret_path.exists():
            values.append(secret_path.read_text().strip())
    return tuple(values)


def stored_values(refs: Iterable[SecretRef | None]) -> tuple[str, ...]:
    """Values of the secrets these references point to in local files (never to be archived)."""
    files = [r for r in refs if r is not None and r.file]
    return tuple(v for r in files if file_path(r).exists() for v in secret_parts(file_path(r).read_text()))


def secret_parts(text: str) -> tuple[str, ...]:
    """A stored secret's values: the text, and, for a JSON object (Exact Online's stored token set), each of its
    string values on its own."""
    text = text.strip()
    parts = [text] if text else []
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            parts += [v for v in data.values() if isinstance(v, str) and len(v) >= 8]
    return tuple(parts)


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
        # a new file (0600, as mkstemp makes it) renamed over the old one: a run reading it meanwhile (another worker
        # of a batch) finds the old value or the new one, never none
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref.describe()
    raise SecretError(
        f"storing into {ref.describe()} needs the MSP's vault integration; use a file reference for the sandbox"
    )


@dataclass(frozen=True)
class Stored:
    """A stored secret as the evidence may show it: where, which version, until when (never the value)."""

    reference: str
    version: str = ""
    expires: str = ""
    tags: dict[str, str] = field(default_factory=dict)


class SecretStores:
    """The secret stores behind the references: a local file (the sandbox), an environment variable (read only), the
    MSP's Azure Key Vault (azure-keyvault-secrets' SecretClient, from `vault_client(vault_url)`). Values go in and
    out here only; results carry `Stored` (reference, version, expiry)."""

    def __init__(
        self, vault_client: Callable[[str], Any] | None = None, passwordstate: Callable[[], Any] | None = None
    ) -> None:
        self.vault_client = vault_client
        self.passwordstate = passwordstate  # -> adapters.passwordstate.Passwordstate, built on first use

    def _ps(self, ref: SecretRef) -> Any:
        if self.passwordstate is None:
            raise SecretError(
                f"{ref.describe()}: no Passwordstate server in the parameters. Fix: add msp.passwordstate (url, api_key) as parameters/template.yml shows"
            )
        return self.passwordstate()

    def _vault(self, ref: SecretRef) -> Any:
        if self.vault_client is None:
            raise SecretError(f"{ref.describe()}: no Key Vault client here (the run has no tenant connection)")
        return self.vault_client(ref.vault_url)

    def read(self, ref: SecretRef) -> str:
        """The secret's value (for the run only: never shown, never archived)."""
        if ref.keyvault:
            try:
                return str(self._vault(ref).get_secret(ref.secret_name).value)
            except Exception as exc:
                raise vault_error(ref, exc, "read") from None
        if ref.passwordstate:
            return str(self._ps(ref).read(ref.password_list, ref.title))
        return read(ref)

    def store(
        self,
        ref: SecretRef,
        value: str,
        *,
        expires_on: datetime | None = None,
        tags: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Stored:
        """Write a new secret (a new version in Key Vault, with its content type, expiry and tags)."""
        if ref.keyvault:
            try:
                got = self._vault(ref).set_secret(
                    ref.secret_name, value, content_type=content_type, expires_on=expires_on, tags=tags
                )
            except Exception as exc:
                raise vault_error(ref, exc, "store") from None
            return _stored(ref, got.properties)
        if ref.passwordstate:
            entry = self._ps(ref).store(
                ref.password_list,
                ref.title,
                value,
                description=content_type or "",
                key_id=(tags or {}).get("key_id", ""),
                expires_on=expires_on,
            )
            return Stored(
                ref.describe(), str(entry.id), entry.expires, {"key_id": entry.key_id} if entry.key_id else {}
            )
        return Stored(store(ref, value), expires=f"{expires_on:%Y-%m-%d}" if expires_on else "", tags=dict(tags or {}))

    def probe(self, ref: SecretRef) -> str:
        """Whether the store would take a new secret, found without writing anything (SecretError when it would not,
        with the fix): Key Vault checks RBAC before it looks a secret up, so an update of a secret that does not
        exist answers 404 to a principal allowed to write secrets and 403 to any other (the built-in roles that
        grant `secrets/update/action` grant `setSecret/action` too); Passwordstate answers a search in the list when
        the key is the list's (or the system-wide one); a file needs a writable folder; an environment variable is
        read-only."""
        if ref.keyvault:
            import uuid

            from azure.core.exceptions import ResourceNotFoundError

            marker = f"runbook-preflight-{uuid.uuid4().hex[:12]}"  # a name nobody holds: nothing is changed
            try:
                self._vault(ref).update_secret_properties(marker)
            except ResourceNotFoundError:
                return f"{ref.vault_url} lets the runbook write secrets (probed with a secret that does not exist)"
            except Exception as exc:
                raise vault_error(ref, exc, "store") from None
            raise SecretError(f"{ref.describe()}: the probe secret {marker} exists; delete it")
        if ref.passwordstate:
            self._ps(ref).find(ref.password_list, f"runbook-preflight-{ref.password_list}")
            return f"password list {ref.password_list} accepts the API key (whether the key may add or update is set per list and not probed)"
        if ref.file:
            path = file_path(ref)
            folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), path.parent)
            if not os.access(folder, os.W_OK):
                raise SecretError(f"{ref.describe()}: {folder} is not writable. Fix: give a file in a writable folder")
            return f"the folder {folder} is writable"
        raise SecretError(
            f"{ref.describe()}: an environment variable is read-only; the runbook cannot store a new secret there. Fix: give a keyvault: or passwordstate: reference"
        )

    def delete(self, ref: SecretRef) -> None:
        """Delete the secret (`runbook offboard`): in Key Vault a soft delete (recoverable for the vault's retention,
        as the vault is set up), in Passwordstate the entry of that title, a file removed; an environment variable is
        read-only (SecretError naming it)."""
        if ref.keyvault:
            try:
                self._vault(ref).begin_delete_secret(ref.secret_name).result()
            except Exception as exc:
                raise vault_error(ref, exc, "delete") from None
            return
        if ref.passwordstate:
            self._ps(ref).delete(ref.password_list, ref.title)
            return
        if ref.file:
            file_path(ref).unlink(missing_ok=True)
            return
        raise SecretError(f"{ref.describe()}: an environment variable is read-only; unset it where it is defined")

    def versions(self, ref: SecretRef) -> list[Stored]:
        """The secret's enabled versions as its store describes them, newest first (no value is read); [] when
        there is none. A file or an environment variable has one version."""
        if ref.keyvault:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                found = [p for p in self._vault(ref).list_properties_of_secret_versions(ref.secret_name) if p.enabled]
            except ResourceNotFoundError:
                return []
            except Exception as exc:
                raise vault_error(ref, exc, "look up") from None
            oldest = datetime.min.replace(tzinfo=timezone.utc)
            return [_stored(ref, p) for p in sorted(found, key=lambda p: p.created_on or oldest, reverse=True)]
        if ref.passwordstate:
            entry = self._ps(ref).find(ref.password_list, ref.title)
            if entry is None:
                return []
            return [
                Stored(ref.describe(), str(entry.id), entry.expires, {"key_id": entry.key_id} if entry.key_id else {})
            ]
        if ref.file:
            return [Stored(ref.describe())] if file_path(ref).exists() else []
        if ref.env:
            return [Stored(ref.describe())] if os.environ.get(ref.env) else []
        raise SecretError(f"{ref.describe()}: this store is not supported yet; use keyvault:, file: or env:")


def _stored(ref: SecretRef, props: Any) -> Stored:
    expires = props.expires_on.strftime("%Y-%m-%d") if getattr(props, "expires_on", None) else ""
    return Stored(ref.describe(), str(props.version or ""), expires, dict(props.tags or {}))


def vault_error(ref: SecretRef, exc: BaseException, what: str) -> SecretError:
    """Key Vault's refusal as one line with the fix (403 without a data role, a name in soft-delete, an unknown vault)."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    where = f"{ref.vault_url} (secret {ref.secret_name})"
    if isinstance(exc, ServiceRequestError):
        return SecretError(
            f"cannot {what} {ref.describe()}: the vault {ref.vault_url} cannot be reached ({str(exc).splitlines()[0]}). Fix: check the vault's name in the parameters and the network"
        )
    if isinstance(exc, ClientAuthenticationError) and exc.status_code is None:  # the credential refused to ask
        tenant = re.search(r"tokens for tenant ([0-9a-fA-F-]{36})", str(exc))
        other = tenant.group(1) if tenant else "the vault's tenant"
        return SecretError(
            f"cannot {what} {ref.describe()}: the vault answers for tenant {other}, which the runbook's credential may not sign in to. Fix: set msp.tenant_id (parameters/msp.yml) to the MSP's tenant where the vault lives, or sign in there (az login --tenant {other})"
        )
    if isinstance(exc, HttpResponseError):
        err = exc.error
        code = getattr(err, "code", None) or str(exc.status_code)
        inner = str((getattr(err, "innererror", None) or {}).get("code") or "")
        text = getattr(err, "message", None) or str(exc)
        lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
        message = lines[0] if lines else text
        if exc.status_code == 403:
            action = next((line for line in lines if line.startswith("Action:")), "")
            return SecretError(
                f"cannot {what} the secret in {where}: 403 {code}{' ' + inner if inner else ''}: {message}{' ' + action if action else ''}. Fix: give the runbook's principal the Key Vault Secrets Officer role on the vault"
            )
        if exc.status_code == 401 and "AKV10032" in message:  # a token of another tenant than the vault's
            return SecretError(
                f"cannot {what} the secret in {where}: 401 {code}: {message} Fix: the vault belongs to the tenant it names first; set msp.tenant_id (parameters/msp.yml) to it, or use a vault of the MSP's tenant"
            )
        if exc.status_code == 409 and "deleted" in message.lower():
            return SecretError(
                f"cannot {what} the secret in {where}: 409 {code}: {message} Fix: recover it (az keyvault secret recover --vault-name <vault> --name {ref.secret_name}) or choose another name"
            )
        return SecretError(f"cannot {what} the secret in {where}: {exc.status_code} {code}: {message}")
    return SecretError(f"cannot {what} the secret in {where}: {type(exc).__name__}: {exc}")
