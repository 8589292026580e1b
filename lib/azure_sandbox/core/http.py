"""Request and response values passed between the TLS server and the sandbox application."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote


@dataclass
class Request:
    """One HTTP request, already read off the socket."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    base_url: str = ""
    _parsed: dict | None = field(default=None, repr=False)
    #: every value of each query name, in order (`query` keeps the last): `?properties=a&properties=b`, as clients
    #: generated from an OpenAPI spec send an exploded array
    query_all: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Request:
        """Split a request target into path and query (query names compare case-insensitively)."""
        raw_path, _, qs = target.partition("?")
        path = unquote(raw_path)  # ARM percent-decodes names: spaces and unicode in group and resource names
        pairs = parse_qsl(qs, keep_blank_values=True)
        query = {k.lower(): v for k, v in pairs}
        every: dict[str, list[str]] = {}
        for k, v in pairs:
            every.setdefault(k.lower(), []).append(v)
        lowered = {k.lower(): v for k, v in headers.items()}
        return cls(method.upper(), path, query, lowered, body, base_url, query_all=every)

    def json(self) -> dict:
        """Body parsed as a JSON object (an empty body is an empty object); anything else is ARM's 400."""
        if self._parsed is not None:
            return self._parsed  # one object per request: validators may normalise it for the handlers after them
        if not self.body:
            self._parsed = {}
            return self._parsed
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArmError(
                400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: '{exc}'."
            ) from None
        if not isinstance(value, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: 'Cannot deserialize the current JSON {type(value).__name__} into an object; a JSON object is required'.",
            )
        self._parsed = value
        return value

    @property
    def api_version(self) -> str | None:
        """The api-version query parameter."""
        return self.query.get("api-version")


@dataclass
class Response:
    """One HTTP response; `drop` closes the connection without answering."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    def encoded(self) -> bytes:
        """Body bytes (JSON unless already bytes)."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class ArmError(Exception):
    """Raised anywhere while serving a request: answered as ARM's (or Graph's) error body with this status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        additional_info: list[dict] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})
        self.additional_info = additional_info

    def response(self, graph: bool = False) -> Response:
        """The error as a response in ARM's or Graph's shape."""
        if graph:
            resp = graph_error(self.status, self.code, self.message)
            resp.headers.update(self.headers)
            return resp
        error: dict = {"code": self.code, "message": self.message}
        if self.additional_info:
            error["additionalInfo"] = self.additional_info
        return Response(self.status, {"error": error}, dict(self.headers))


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in ARM's shape: {"error": {"code", "message"}}."""
    return Response(status, {"error": {"code": code, "message": message}}, dict(headers or {}))


def graph_error(status: int, code: str, message: str) -> Response:
    """An error in Microsoft Graph's shape, with its innerError request id."""
    rid = str(uuid.uuid4())
    return Response(
        status,
        {"error": {"code": code, "message": message, "innerError": {"request-id": rid, "client-request-id": rid}}},
    )
