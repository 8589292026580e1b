"""azure-cli as an independent client of the sandbox: installed in its own venv, signed in as a custom cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from azure_sandbox import Connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]

AZCLI_VERSION = "2.91.0"
VENV = PROJECT_ROOT / ".cache" / "azcli"


def ensure_installed(venv: Path = VENV, version: str = AZCLI_VERSION) -> Path:
    """The az executable, installing azure-cli into its own venv first if needed (its pins clash with ours)."""
    marker = venv / f".installed-{version}"
    if not marker.exists():
        log = venv.parent / "azcli-install.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=out, stderr=out)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"azure-cli=={version}"],
                check=True,
                stdout=out,
                stderr=out,
                timeout=1500,
            )
        marker.touch()
    return venv / "bin" / "az"


class AzCli:
    """Runs az with a private config dir and the sandbox CA; `login()` registers the cloud and signs in."""

    def __init__(self, az: Path, conn: Connection, config_dir: Path) -> None:
        self.az, self.conn = az, conn
        self.env = {
            **os.environ,
            "AZURE_CONFIG_DIR": str(config_dir),
            "REQUESTS_CA_BUNDLE": conn.ca_path,
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "AZURE_CORE_NO_COLOR": "true",
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """One az command with JSON output."""
        out = subprocess.run(
            [str(self.az), *args, "-o", "json"], env=self.env, capture_output=True, text=True, timeout=300
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"az {' '.join(args[:3])} failed: {out.stderr[-2000:]}")
        return out

    def __call__(self, *args: str):
        """One az command, its JSON output parsed."""
        out = self.run(*args)
        return json.loads(out.stdout) if out.stdout.strip() else None

    def login(self, subscription: str | None = None) -> list[dict]:
        """Register the sandbox as a cloud (from its /metadata/endpoints) and sign in as the runbook principal."""
        self("cloud", "register", "--name", "Sandbox", "--endpoint-resource-manager", self.conn.url)
        self("cloud", "set", "--name", "Sandbox")
        secret = Path(self.conn.secret_path).read_text()
        accounts = self(
            "login", "--service-principal", "-u", self.conn.client_id, "-p", secret, "--tenant", self.conn.tenant_id
        )
        if subscription:
            self("account", "set", "--subscription", subscription)
        return accounts
