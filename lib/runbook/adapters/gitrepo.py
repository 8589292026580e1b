"""The customer's git repository: clone or fetch, a branch, write files, commit, push; credentials only by reference
(a token handed to git through its environment as an HTTP header, never on a command line, in a file or the
evidence)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import GitError


class Repo:
    """A working clone of one remote branch."""

    def __init__(self, url: str, workdir: Path, token: str | None = None) -> None:
        self.url, self.dir, self.token = url, workdir, token

    @staticmethod
    def init_bare(path: Path, branch: str) -> None:
        """A bare repository with one empty commit on `branch` (a stand-in remote for the sandbox tenant)."""
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="runbook-init-") as tmp:
            seed = Repo(str(path), Path(tmp) / "seed")
            seed.dir.mkdir()
            seed.git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(path), cwd=Path(tmp))
            seed.git("init", "--quiet", f"--initial-branch={branch}")
            seed.git(
                "-c",
                "user.name=sandbox",
                "-c",
                "user.email=sandbox@example.invalid",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                "The customer's repository (sandbox stand-in)",
            )
            seed.git("push", "--quiet", str(path), f"HEAD:refs/heads/{branch}")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", HOME=str(self.dir.parent), LC_ALL="C")
        if self.token:
            basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            env.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0="http.extraHeader",
                GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
            )
        return env

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.dir, env=self._env(), capture_output=True, text=True, timeout=300
        )
        if check and done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(no output)"]
            secret = self.token or "\0"
            raise GitError(f"git {args[0]} failed: {last[0].replace(secret, '***')}")
        return done

    def checkout(self, branch: str, base: str) -> bool:
        """Fresh clone of the remote, on `branch` (from the remote's branch if it exists, else from `base`). Whether
        the branch exists on the remote."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        self.git("clone", "--quiet", "--no-tags", self.url, str(self.dir), cwd=self.dir.parent)
        remote = self.git("ls-remote", "--heads", "origin", branch).stdout.strip() != ""
        if remote:
            self.git("checkout", "--quiet", "-B", branch, f"origin/{branch}")
        else:
            has_base = self.git("ls-remote", "--heads", "origin", base).stdout.strip() != ""
            self.git("checkout", "--quiet", "-B", branch, *([f"origin/{base}"] if has_base else []))
        return remote

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            path = self.dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def changes(self, under: str) -> list[str]:
        """Files under a folder that differ from the branch (porcelain status lines)."""
        self.git("add", "--all", "--", under)
        out = self.git("status", "--porcelain", "--", under).stdout
        return [line for line in out.splitlines() if line.strip()]

    def diff(self, under: str) -> str:
        return self.git("diff", "--cached", "--stat", "--", under).stdout.strip()

    def commit(self, message: str, author: str, email: str) -> str:
        self.git("-c", f"user.name={author}", "-c", f"user.email={email}", "commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, branch: str) -> None:
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
