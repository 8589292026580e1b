"""A raw HTTPS client for contract tests: real tokens from azure-identity, no SDK in between."""

from __future__ import annotations

import json

import requests

from runbook.adapters.clients import ARM_SCOPE, sandbox_target


class Raw:
    """Sends ARM requests to the sandbox as bytes on the wire, to check codes, headers and bodies."""

    def __init__(self, handle) -> None:
        self.base = handle.url
        self.verify = handle.conn.ca_path
        self.token = sandbox_target(handle.connection_file).credential.get_token(ARM_SCOPE).token
        self.session = requests.Session()

    def __call__(
        self, method: str, path: str, body=None, token: str | None = "default", headers: dict | None = None
    ) -> requests.Response:
        h = dict(headers or {})
        if token == "default":
            h["Authorization"] = f"Bearer {self.token}"
        elif token:
            h["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("https://") else self.base + path
        data = json.dumps(body) if body is not None else None
        if data:
            h["Content-Type"] = "application/json"
        return self.session.request(method, url, data=data, headers=h, verify=self.verify, timeout=30)

    def close(self) -> None:
        self.session.close()


def key_paths_present(body, paths: list[str]) -> list[str]:
    """The dotted key paths (list indexes as numbers) missing from a JSON body."""
    missing = []
    for path in paths:
        node = body
        for part in path.split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                missing.append(path)
                break
    return missing


def refused(resp, status: int, code: str) -> dict:
    """Assert the response is Azure's error with this status and code; its error object."""
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code, resp.text
    return resp.json()["error"]
