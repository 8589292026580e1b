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

from .http import ArmError, Request, Response
from .state import State

TOKEN_LIFETIME_S = 3599
# Audiences each API accepts (ARM: azure-sdk's and azure-cli's resource ids; Graph: its URL and app id)
ARM_AUDIENCES = (
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
)
GRAPH_AUDIENCES = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
)
# the sandbox's Key Vault resource (Azure: https://vault.azure.net); its vaults are <name>.vault.sandbox.test
VAULT_AUDIENCES = ("https://vault.sandbox.test", "https://vault.sandbox.test/")
# Microsoft Partner Center's resource (its stand-in keeps the real audience: no client checks it against the host)
PARTNER_CENTER_AUDIENCES = ("https://api.partnercenter.microsoft.com", "https://api.partnercenter.microsoft.com/")
# Azure Storage's resource (the blob data plane: Azurite in the tests, which accepts these tokens with --oauth basic)
STORAGE_AUDIENCES = ("https://storage.azure.com", "https://storage.azure.com/")
KNOWN_RESOURCES = ARM_AUDIENCES + GRAPH_AUDIENCES + VAULT_AUDIENCES + PARTNER_CENTER_AUDIENCES + STORAGE_AUDIENCES
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

    def issue(
        self,
        app_id: str,
        object_id: str,
        audience: str,
        issuer: str,
        tenant_id: str | None = None,
        lifetime: int = TOKEN_LIFETIME_S,
        not_before: int = 0,
        roles: list[str] | None = None,
    ) -> str:
        """A signed access token for a service principal (tests may ask for another tenant, a past expiry or a
        future not-before)."""
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": issuer,
            "iat": now,
            "nbf": now + not_before,
            "exp": now + lifetime,
            "appid": app_id,
            "oid": object_id,
            "sub": object_id,
            "tid": tenant_id or self.state.tenant_id,
            "idtyp": "app",
            "ver": "1.0",
        }
        if roles:  # Entra ID leaves the claim out when the app holds no application permission
            claims["roles"] = list(roles)
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = _b64(hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}"

    def claims(self, token: str) -> dict | None:
        """The claims of a token this sandbox signed (None for any other string); lifetime and audience unchecked."""
        try:
            head, body, sig = token.split(".")
            expected = _b64(hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(sig, expected):
                return None
            claims = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def verify(self, authorization: str | None, api: str = "arm", base_url: str = "") -> dict:
        """Claims of a bearer token valid for `api` ("arm" or "graph"), else ArmError as that API refuses it.
        The sandbox's own URL is the Graph resource id its cloud metadata advertises (azure-cli asks for it)."""
        graph = api == "graph"
        invalid = ArmError(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid." if graph else "The access token is invalid.",
        )
        if not authorization and not graph:
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        if not authorization or not authorization.lower().startswith("bearer "):
            raise invalid
        claims = self.claims(authorization.split(" ", 1)[1].strip())
        if claims is None:
            raise invalid
        now = time.time()
        stamp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(now))
        if claims.get("exp", 0) <= now:
            expiry = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(claims.get("exp", 0)))
            if graph:
                raise ArmError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
            raise ArmError(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{expiry}' is earlier than current UTC time '{stamp}'.",
            )
        if claims.get("nbf", 0) > now + 300:  # Entra ID allows five minutes of clock skew
            nbf = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(claims["nbf"]))
            if graph:
                raise ArmError(
                    401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is not yet valid."
                )
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                f"The access token is not yet valid: its not-before UTC time '{nbf}' is later than current UTC time '{stamp}'.",
            )
        allowed = (*GRAPH_AUDIENCES, base_url, base_url + "/") if graph else ARM_AUDIENCES
        if claims.get("aud") not in allowed:
            if graph:
                raise ArmError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
            raise ArmError(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. It should exactly match with one of the allowed audiences {','.join(repr(a) for a in ARM_AUDIENCES)}.",
            )
        if graph and str(claims.get("tid", "")).lower() != self.state.tenant_id.lower():
            raise ArmError(
                401, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer or tenant."
            )
        return claims


def wrong_tenant(token_tenant: str, subscription_tenant: str) -> ArmError:
    """ARM's 401 for a token issued by a tenant that neither owns nor manages (Lighthouse) the subscription."""
    return ArmError(
        401,
        "InvalidAuthenticationTokenTenant",
        f"The access token is from the wrong issuer 'https://sts.windows.net/{token_tenant}/'. It must match the tenant 'https://sts.windows.net/{subscription_tenant}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/{subscription_tenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
    )


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
    return Response(
        status,
        {
            "error": code,
            "error_description": f"{aadsts}: {description}",
            "error_codes": [int(aadsts[6:])],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        },
    )


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
    home = bool(state.msp_tenant_id) and tenant.lower() == state.msp_tenant_id.lower()
    if not home and tenant.lower() not in (state.tenant_id.lower(), state.domain.lower(), "organizations"):
        return token_error(
            "invalid_request",
            "AADSTS90002",
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
        )
    form = dict(parse_qsl(req.body.decode()))
    if form.get("grant_type") != "client_credentials":
        return token_error(
            "unsupported_grant_type", "AADSTS70003", "The sandbox supports only the client_credentials grant."
        )
    app_id = form.get("client_id", "")
    sp = state.service_principal_by_app(app_id)
    if sp is None or (home and app_id.lower() not in state.msp_apps):
        directory = state.msp_tenant_name if home else state.tenant_name
        return token_error(
            "unauthorized_client",
            "AADSTS700016",
            f"Application with identifier '{app_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        )
    if not state.check_secret(app_id, form.get("client_secret", "")):
        return token_error(
            "invalid_client",
            "AADSTS7000215",
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            401,
        )
    scope = form.get("scope", "") or form.get("resource", "")
    audience = scope.split()[0].removesuffix("/.default") if scope else "https://management.azure.com"
    if audience not in (*KNOWN_RESOURCES, req.base_url, req.base_url + "/"):
        return token_error(
            "invalid_resource",
            "AADSTS500011",
            f"The resource principal named {audience} was not found in the tenant named {state.tenant_name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        )
    roles = None
    graph_token = audience in GRAPH_AUDIENCES or audience.rstrip("/") == req.base_url
    if graph_token and not home:  # app-only Graph token of the customer's tenant: the app roles granted there
        roles = sorted(state.graph_permissions.get(app_id.lower(), set()))
    # a token of the tenant asked for: the MSP's (its vault, Lighthouse) or the customer's
    tid = state.msp_tenant_id if home else state.tenant_id
    # Azure Storage takes v1.0 tokens: Entra issues them as https://sts.windows.net/<tenant>/ (what Azurite checks)
    iss = f"https://sts.windows.net/{tid}/" if audience in STORAGE_AUDIENCES else f"{req.base_url}/{tid}/v2.0"
    token = issuer.issue(app_id, sp["id"], audience, iss, tenant_id=tid, roles=roles)
    return Response(
        200,
        {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "ext_expires_in": TOKEN_LIFETIME_S,
            "access_token": token,
        },
    )
