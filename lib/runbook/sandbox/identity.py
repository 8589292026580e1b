"""Microsoft identity platform endpoints of the sandbox: discovery, client-credential tokens, JWTs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import time
from urllib.parse import parse_qsl

from .http import Request, Response
from .state import State

TOKEN_LIFETIME_S = 3599
_SECRET_ALPHABET = string.ascii_letters + string.digits + "_.~-"


def new_client_secret() -> str:
    """A client secret shaped like Entra ID's (3 chars, a digit, 'Q~', 34 chars), so scanners know it."""
    head = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(3))
    return f"{head}{secrets.randbelow(10)}Q~" + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(34))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Signs and checks the sandbox's bearer tokens (HS256 JWTs with the caller's object id)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.key = secrets.token_bytes(32)

    def issue(self, app_id: str, object_id: str, audience: str, issuer: str) -> str:
        """A signed access token for a service principal."""
        now = int(time.time())
        claims = {"aud": audience, "iss": issuer, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME_S, "appid": app_id, "oid": object_id, "sub": object_id, "tid": self.state.tenant_id, "idtyp": "app", "ver": "1.0"}
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = _b64(hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}"

    def verify(self, authorization: str | None) -> dict | None:
        """Claims of a valid, unexpired bearer token, else None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization.split(" ", 1)[1].strip()
        try:
            head, body, sig = token.split(".")
            expected = _b64(hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(sig, expected):
                return None
            claims = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            return None
        return claims if claims.get("exp", 0) > time.time() else None


def openid_configuration(base: str, tenant: str) -> dict:
    """The discovery document MSAL reads before asking for a token."""
    root = f"{base}/{tenant}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "issuer": f"{root}/v2.0",
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "sandbox",
    }


def token_error(code: str, aadsts: str, description: str, status: int = 400) -> Response:
    """An OAuth error answer as Entra ID sends it."""
    return Response(status, {"error": code, "error_description": f"{aadsts}: {description}", "error_codes": [int(aadsts[6:])], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())})


def handle(req: Request, state: State, issuer: TokenIssuer) -> Response | None:
    """Answer identity-platform paths; None when the path is not one of them."""
    parts = req.path.strip("/").split("/")
    if len(parts) < 2:
        return None
    tenant = parts[0]
    rest = "/".join(parts[1:]).lower()
    if rest in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
        return Response(200, openid_configuration(req.base_url, tenant))
    if rest == "discovery/v2.0/keys":
        return Response(200, {"keys": []})
    if rest not in ("oauth2/v2.0/token", "oauth2/token"):
        return None
    if tenant.lower() not in (state.tenant_id.lower(), state.domain.lower(), "organizations"):
        return token_error("invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
    form = dict(parse_qsl(req.body.decode()))
    if form.get("grant_type") != "client_credentials":
        return token_error("unsupported_grant_type", "AADSTS70003", "The sandbox supports only the client_credentials grant.")
    app_id = form.get("client_id", "")
    sp = state.service_principal_by_app(app_id)
    if sp is None:
        return token_error("unauthorized_client", "AADSTS700016", f"Application with identifier '{app_id}' was not found in the directory '{state.tenant_name}'.")
    if not state.check_secret(app_id, form.get("client_secret", "")):
        return token_error("invalid_client", "AADSTS7000215", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", 401)
    scope = form.get("scope", "") or form.get("resource", "")
    audience = scope.split()[0].removesuffix("/.default") if scope else "https://management.azure.com"
    token = issuer.issue(app_id, sp["id"], audience, f"{req.base_url}/{state.tenant_id}/v2.0")
    return Response(200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S, "access_token": token})
