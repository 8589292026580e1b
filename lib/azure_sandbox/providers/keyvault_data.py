"""The Azure Key Vault secrets data plane (`https://<vault>.vault.sandbox.test`), as the unmodified `SecretClient`
(azure-keyvault-secrets) meets it: the challenge (a first 401 naming the authority and the vault resource), tokens
for the vault audience only, RBAC data actions (a principal without a secrets role gets 403 ForbiddenByRbac),
secret versions, soft delete with recovery and purge (purge protection refuses a purge), the data plane's
api-versions and its error bodies.

Sources (tests/contract/test_keyvault.py cites each): azure-rest-api-specs
specification/keyvault/data-plane/Microsoft.KeyVault/stable/2025-07-01/secrets.json (routes, bodies, the name
pattern, maxresults 1-25); recorded responses of the SDK's own tests (Azure/azure-sdk-for-python
sdk/keyvault/azure-keyvault-secrets/tests/recordings, Azure/azure-sdk-for-js sdk/keyvault/keyvault-secrets/recordings:
the challenge, SecretNotFound, bundles, deleted bundles, 405 for an empty name); learn.microsoft.com key-vault
"about secrets" (25k value, 15 tags) and the built-in roles' data actions. Texts not found in a first-party
recording are marked "inferred" in the contract tests.
"""

from __future__ import annotations

import re
import secrets as _random
import time
from typing import Any

from ..core.http import ArmError, Request, Response
from ..core.rbac import data_action_allowed
from ..core.state import State

VAULT_DOMAIN = "vault.sandbox.test"  # the sandbox's stand-in for vault.azure.net
VAULT_RESOURCE = f"https://{VAULT_DOMAIN}"  # the token audience a vault accepts (Azure: https://vault.azure.net)
API_VERSIONS = ("2026-04-01", "2025-07-01", "7.6", "7.5", "7.4", "7.3", "7.2", "7.1", "7.0", "2016-10-01")
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_MAX_VALUE = 25600
_MAX_TAGS = 15
_ACTION = "Microsoft.KeyVault/vaults/secrets/"


class KvError(ArmError):
    """Key Vault's error shape: {"error": {"code", "message", "innererror": {"code"}}}."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None, headers: dict | None = None):
        super().__init__(status, code, message, headers=dict(headers or {}))
        self.inner = inner

    def answer(self) -> Response:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            err["innererror"] = {"code": self.inner}
        return Response(self.status, {"error": err}, headers=dict(self.headers))


kv_error = KvError


def vault_name(host: str) -> str | None:
    """The vault a Host header names (`<vault>.vault.sandbox.test[:port]`), else None."""
    name = host.split(":")[0].lower()
    suffix = "." + VAULT_DOMAIN
    return name[: -len(suffix)] if name.endswith(suffix) and "." not in name[: -len(suffix)] else None


def handle(req: Request, state: State, claims_of: Any) -> Response:
    """Answer one data-plane request for the vault its Host names; `claims_of(token)` checks a token's signature
    and returns its claims (None for a token the sandbox did not issue)."""
    name = vault_name(req.headers.get("host", "")) or ""
    try:
        vault = state.vaults.get(name)
        if vault is None:  # Azure has no DNS name for it; the runbook's transport refuses to resolve it first
            raise kv_error(404, "VaultNotFound", f"The vault '{name}' does not exist in the sandbox tenant.")
        _check_api_version(req)
        claims = _authenticate(req, vault, claims_of)
        with state.lock:
            return _route(req, state, vault, claims)
    except KvError as exc:
        return exc.answer()
    except ArmError as exc:  # a malformed body (Request.json): Key Vault's BadParameter
        return KvError(400, "BadParameter", exc.message).answer()


def _check_api_version(req: Request) -> None:
    version = req.query.get("api-version")
    if version is not None and version not in API_VERSIONS:
        raise kv_error(
            400,
            "BadParameter",
            f"The specified version ({version}) is not recognized. Consider using the latest supported version ({API_VERSIONS[0]}).",
        )


def _challenge(req: Request, vault: dict) -> dict[str, str]:
    """The 401 challenge: the vault's tenant (the authority to ask) and the vault resource (the token's audience)."""
    return {
        "WWW-Authenticate": f'Bearer authorization="{req.base_url}/{vault["tenant_id"]}", resource="{VAULT_RESOURCE}"'
    }


def _authenticate(req: Request, vault: dict, claims_of: Any) -> dict:
    auth = req.headers.get("authorization", "")
    challenge = _challenge(req, vault)
    if not auth.lower().startswith(("bearer ", "pop ")):
        raise kv_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", headers=challenge)
    claims = claims_of(auth.split(" ", 1)[1].strip())
    if claims is None:
        raise kv_error(
            401,
            "Unauthorized",
            "AKV10046: Unable to resolve the key used for signature validation.",
            headers=challenge,
        )
    if claims.get("exp", 0) <= time.time():
        raise kv_error(401, "Unauthorized", "[TokenExpired] Error validating token: 'S2S12086'.", headers=challenge)
    aud = str(claims.get("aud", ""))
    if aud.rstrip("/") != VAULT_RESOURCE:
        raise kv_error(
            401,
            "Unauthorized",
            f"AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {aud}.",
            headers=challenge,
        )
    if str(claims.get("tid", "")).lower() != vault["tenant_id"].lower():  # a token of the vault's own tenant only
        raise kv_error(
            401,
            "Unauthorized",
            f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{vault['tenant_id']}/, found https://sts.windows.net/{claims.get('tid')}/.",
            headers=challenge,
        )
    return claims


def _authorize(state: State, vault: dict, claims: dict, action: str, secret: str | None) -> None:
    """RBAC on the vault: a role assigned on the vault (the fixture's data roles, or role assignments at or above
    the vault in ARM) whose dataActions cover the action."""
    oid = str(claims.get("oid", "")).lower()
    granted = [g for g in vault["roles"].get(oid, []) if data_action_allowed(g, _ACTION + action)]
    granted += [g for g, _src in state.roles_of(oid, vault["id"]) if data_action_allowed(g, _ACTION + action)]
    if granted:
        return
    resource = vault["id"].lower() + (f"/secrets/{secret}" if secret else "")
    message = (
        "Caller is not authorized to perform action on resource.\r\n"
        "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"
        f"Caller: appid={claims.get('appid')};oid={claims.get('oid')};iss=https://sts.windows.net/{claims.get('tid')}/\r\n"
        f"Action: '{_ACTION}{action}'\r\n"
        f"Resource: '{resource}'\r\n"
        "Assignment: (not found)\r\n"
        "DenyAssignmentId: null\r\n"
        "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
        f"Vault: {vault['name']};location={vault['location']}\r\n"
    )
    raise kv_error(403, "Forbidden", message, "ForbiddenByRbac")


def _route(req: Request, state: State, vault: dict, claims: dict) -> Response:
    parts = [p for p in req.path.split("/") if p != ""]
    trailing = req.path.endswith("/")
    m = req.method
    if not parts:
        raise kv_error(404, "NotFound", "The requested resource was not found.")
    kind = parts[0].lower()
    if kind == "secrets":
        if len(parts) == 1:
            if m == "GET":
                _authorize(state, vault, claims, "readMetadata/action", None)
                return _list(req, vault, [s for s in _secrets(state, vault) if s["deleted"] is None], versions=False)
            raise kv_error(405, "MethodNotAllowed", f"HTTP {m} not allowed")
        name = parts[1]
        if len(parts) == 2 and m == "PUT" and not trailing:
            _authorize(state, vault, claims, "setSecret/action", name)
            return _set(req, state, vault, name)
        if len(parts) == 2 and m == "DELETE":
            _authorize(state, vault, claims, "delete", name)
            return _delete(req, state, vault, name)
        if len(parts) == 3 and parts[2].lower() == "versions" and m == "GET":
            _authorize(state, vault, claims, "readMetadata/action", name)
            return _list(req, vault, [_live(state, vault, name)], versions=True)
        if len(parts) in (2, 3) and m in ("GET", "PATCH"):
            version = parts[2] if len(parts) == 3 else ""
            if m == "GET":
                _authorize(state, vault, claims, "getSecret/action", name)
                rec, ver = _version(state, vault, name, version)
                if not ver["attributes"].get("enabled", True):
                    raise kv_error(
                        403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
                    )
                return Response(200, _bundle(req, vault, rec, ver, value=True), headers=_headers())
            _authorize(state, vault, claims, "update/action", name)
            return _update(req, vault, *_version(state, vault, name, version))
        raise kv_error(405, "MethodNotAllowed", f"HTTP {m} not allowed")
    if kind == "deletedsecrets":
        if len(parts) == 1 and m == "GET":
            _authorize(state, vault, claims, "readMetadata/action", None)
            return _list(req, vault, [s for s in _secrets(state, vault) if s["deleted"] is not None], versions=False)
        name = parts[1] if len(parts) > 1 else ""
        found = state.vault_secrets.get((vault["name"].lower(), name.lower()))
        gone = found if found is not None and found["deleted"] is not None else None
        if len(parts) == 2 and m == "GET":
            _authorize(state, vault, claims, "readMetadata/action", name)
            if gone is None:
                raise kv_error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            return Response(200, _deleted_bundle(req, vault, gone), headers=_headers())
        if len(parts) == 3 and parts[2].lower() == "recover" and m == "POST":
            _authorize(state, vault, claims, "recover/action", name)
            if gone is None:
                raise kv_error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            gone["deleted"] = None
            return Response(200, _bundle(req, vault, gone, gone["versions"][-1], value=False), headers=_headers())
        if len(parts) == 2 and m == "DELETE":
            _authorize(state, vault, claims, "purge/action", name)
            if gone is None:
                raise kv_error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            if vault["purge_protection"]:
                raise kv_error(
                    403,
                    "Forbidden",
                    'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\n'
                    f"Vault: {vault['name']};location={vault['location']}",
                )
            del state.vault_secrets[(vault["name"].lower(), name.lower())]
            return Response(204, None, headers=_headers())
        raise kv_error(405, "MethodNotAllowed", f"HTTP {m} not allowed")
    raise kv_error(404, "NotFound", "The requested resource was not found.")


def _headers() -> dict[str, str]:
    return {"x-ms-keyvault-service-version": "1.9.2026.1", "x-ms-keyvault-region": "westeurope"}


def _secrets(state: State, vault: dict) -> list[dict]:
    key = vault["name"].lower()
    return [rec for (v, _n), rec in sorted(state.vault_secrets.items()) if v == key]


def _not_found(name: str) -> ArmError:
    return kv_error(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
    )


def _live(state: State, vault: dict, name: str) -> dict:
    rec = state.vault_secrets.get((vault["name"].lower(), name.lower()))
    if rec is None or rec["deleted"] is not None:
        raise _not_found(name)
    return rec


def _version(state: State, vault: dict, name: str, version: str) -> tuple[dict, dict]:
    rec = _live(state, vault, name)
    if not version:
        return rec, rec["versions"][-1]
    for v in rec["versions"]:
        if v["version"] == version.lower():
            return rec, v
    raise _not_found(f"{name}/{version}")


def _recovery(vault: dict) -> tuple[str, int]:
    days = int(vault["retention_days"])
    level = "Recoverable" if days >= 90 else "CustomizedRecoverable"
    return (level if vault["purge_protection"] else level + "+Purgeable"), days


def _attributes(vault: dict, ver: dict) -> dict:
    level, days = _recovery(vault)
    return {**ver["attributes"], "recoveryLevel": level, "recoverableDays": days}


def _base(req: Request, vault: dict) -> str:
    host = req.headers.get("host") or f"{vault['name']}.{VAULT_DOMAIN}"
    return f"https://{host}"


def _bundle(req: Request, vault: dict, rec: dict, ver: dict, value: bool) -> dict:
    out: dict[str, Any] = {"id": f"{_base(req, vault)}/secrets/{rec['name']}/{ver['version']}"}
    if value:
        out = {"value": ver["value"], **out}
    out["attributes"] = _attributes(vault, ver)
    if ver.get("contentType") is not None:
        out["contentType"] = ver["contentType"]
    if ver.get("tags"):
        out["tags"] = dict(ver["tags"])
    return out


def _deleted_bundle(req: Request, vault: dict, rec: dict) -> dict:
    return {
        "recoveryId": f"{_base(req, vault)}/deletedsecrets/{rec['name']}",
        "deletedDate": rec["deleted"]["deletedDate"],
        "scheduledPurgeDate": rec["deleted"]["scheduledPurgeDate"],
        **_bundle(req, vault, rec, rec["versions"][-1], value=False),
    }


def _set(req: Request, state: State, vault: dict, name: str) -> Response:
    if not _NAME.match(name):
        raise kv_error(400, "BadParameter", f"The request URI contains an invalid name: {name}")
    body = req.json()
    value = body.get("value")
    if not isinstance(value, str):
        raise kv_error(400, "BadParameter", "Property value is required.")  # inferred wording
    if len(value) > _MAX_VALUE:
        raise kv_error(
            400,
            "BadParameter",
            f"Secret is beyond the maximum permitted length of {_MAX_VALUE} characters.",
            "SecretTooLarge",
        )
    tags = body.get("tags") or {}
    if (
        not isinstance(tags, dict)
        or len(tags) > _MAX_TAGS
        or any(len(str(k)) > 512 or len(str(v)) > 512 for k, v in tags.items())
    ):
        raise kv_error(400, "BadParameter", "Property has invalid value\r\n")
    content_type = body.get("contentType")
    if content_type is not None and len(str(content_type)) > 255:
        raise kv_error(400, "BadParameter", "Property has invalid value\r\n")
    key = (vault["name"].lower(), name.lower())
    rec = state.vault_secrets.get(key)
    if rec is not None and rec["deleted"] is not None:
        raise kv_error(
            409,
            "Conflict",
            f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.",
            "ObjectIsDeletedButRecoverable",
        )
    if rec is None:
        rec = state.vault_secrets[key] = {"name": name, "versions": [], "deleted": None}
    now = int(time.time())
    given = body.get("attributes") or {}
    attributes: dict[str, Any] = {"enabled": bool(given.get("enabled", True))}
    for k in ("nbf", "exp"):
        if given.get(k) is not None:
            attributes[k] = int(given[k])
    attributes.update(created=now, updated=now)
    ver = {
        "version": _random.token_hex(16),
        "value": value,
        "attributes": attributes,
        "contentType": content_type,
        "tags": dict(tags),
    }
    rec["versions"].append(ver)
    return Response(200, _bundle(req, vault, rec, ver, value=True), headers=_headers())


def _update(req: Request, vault: dict, rec: dict, ver: dict) -> Response:
    body = req.json()
    given = body.get("attributes") or {}
    for k in ("enabled", "nbf", "exp"):
        if k in given and given[k] is not None:
            ver["attributes"][k] = bool(given[k]) if k == "enabled" else int(given[k])
    if "contentType" in body and body["contentType"] is not None:
        ver["contentType"] = body["contentType"]
    if "tags" in body and body["tags"] is not None:
        if len(body["tags"]) > _MAX_TAGS:
            raise kv_error(400, "BadParameter", "Property has invalid value\r\n")
        ver["tags"] = dict(body["tags"])
    ver["attributes"]["updated"] = int(time.time())
    return Response(200, _bundle(req, vault, rec, ver, value=False), headers=_headers())


def _delete(req: Request, state: State, vault: dict, name: str) -> Response:
    rec = _live(state, vault, name)
    now = int(time.time())
    rec["deleted"] = {"deletedDate": now, "scheduledPurgeDate": now + 86400 * int(vault["retention_days"])}
    return Response(200, _deleted_bundle(req, vault, rec), headers=_headers())


def _list(req: Request, vault: dict, records: list[dict], versions: bool) -> Response:
    """One page of SecretItems (maxresults 1-25, default 25), nextLink with a skip token for the rest."""
    try:
        size = int(req.query.get("maxresults", "25"))
    except ValueError:
        size = 0
    if not 1 <= size <= 25:
        raise kv_error(400, "BadParameter", "Parameter 'maxresults' must be between 1 and 25.")  # inferred wording
    items: list[dict] = []
    for rec in records:
        for ver in rec["versions"] if versions else rec["versions"][-1:]:
            item = _bundle(req, vault, rec, ver, value=False)
            if not versions:
                item["id"] = item["id"].rsplit("/", 1)[0]
            if rec["deleted"] is not None:
                item.update(
                    recoveryId=f"{_base(req, vault)}/deletedsecrets/{rec['name']}",
                    deletedDate=rec["deleted"]["deletedDate"],
                    scheduledPurgeDate=rec["deleted"]["scheduledPurgeDate"],
                )
            items.append(item)
    start = int(req.query.get("$skiptoken", "0") or 0)
    page = items[start : start + size]
    next_link = None
    if start + size < len(items):
        path = req.path.rstrip("/")
        next_link = f"{_base(req, vault)}:443{path}?api-version={req.query.get('api-version', API_VERSIONS[0])}&$skiptoken={start + size}&maxresults={size}"
    return Response(200, {"value": page, "nextLink": next_link}, headers=_headers())
