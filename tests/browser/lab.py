"""A real JupyterLab server and a real browser (Debian's chromium driven by Playwright) for the notebooks.

`JupyterLab` runs `python -m jupyterlab` from this test run's interpreter (so its `python3` kernelspec is this venv's
Python, and the kernel inherits the server's environment: the project on PYTHONPATH, the sandbox connection file,
the evidence and parameters folders). `Notebook` drives one notebook tab the way an engineer does: click a cell,
Shift+Enter, read what the cell shows. Every wait is on DOM or kernel state, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_COMMAND = "sudo apt-get install chromium"
START_TIMEOUT = 60.0  # s for the server to answer /api/status
KERNEL_TIMEOUT = 60_000  # ms for a kernel to start and reach idle
CELL_TIMEOUT = 120_000  # ms for one cell to finish

# JupyterLab user settings for a quiet, deterministic UI: every cell in the DOM (no windowing), no news or update
# toasts over the notebook, no autosave (the tests copy working notebooks in and out).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
# server extensions the tests do not need: each one costs startup time
SERVER_CONFIG = {
    "ServerApp": {"jpserver_extensions": {"jupyter_lsp": False, "jupyter_server_terminals": False, "notebook": False}}
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_install(cmd: list[str], log: Path) -> int:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=900).returncode


def ensure_chromium(log: Path) -> Path | str:
    """Debian's chromium: present, or installed with apt-get when we are root (CI); else the reason it is not there
    (the tests then skip). Playwright's own browser download is never used."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"Debian's chromium is not installed ({CHROMIUM} is missing). Install it with `{INSTALL_COMMAND}`"
    log.parent.mkdir(parents=True, exist_ok=True)
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if run_install(install, log) != 0:  # an empty or stale package list: refresh it once and try again
        run_install(["apt-get", "update"], log)
        run_install(install, log)
    if not CHROMIUM.exists():
        raise RuntimeError(f"`{' '.join(install)}` did not install {CHROMIUM}; see {log}:\n{log.read_text()[-2000:]}")
    return CHROMIUM


class JupyterLab:
    """`jupyter lab` on a free localhost port with a known token, serving `root`; `stop()` ends it and its kernels."""

    def __init__(self, root: Path, state: Path, env: dict[str, str]) -> None:
        self.root, self.state = root, state
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log = state / "jupyterlab.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    def start(self) -> JupyterLab:
        config, settings = self.state / "config", self.state / "lab-settings"
        config.mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {
            **self.env,
            "JUPYTER_CONFIG_DIR": str(config),  # no user config or kernelspecs from ~ on this machine
            "JUPYTER_DATA_DIR": str(self.state / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.state / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        cmd = [
            sys.executable,  # this venv's Python: its python3 kernelspec runs this interpreter too
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
            "--LabApp.news_url=",
            "--ServerApp.terminals_enabled=False",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        t0 = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() - t0 > START_TIMEOUT:
                    self.stop()
                    raise RuntimeError(
                        f"jupyter lab did not answer in {START_TIMEOUT:.0f}s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)  # polling interval of the readiness probe, not a wait for a state
        self.startup_seconds = time.monotonic() - t0
        return self

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def url(self, path: str) -> str:
        """The lab page with `path` open, in a fresh layout (`reset`: no tabs left from an earlier test)."""
        return f"{self.base}/lab/tree/{urllib.parse.quote(path)}?reset&token={self.token}"

    def kernels(self) -> list[dict]:
        return list(self.api("GET", "/api/kernels"))

    def shutdown_kernels(self) -> None:
        """End every session and kernel (each releases the customer's run lock as its process ends)."""
        for s in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{s['id']}")
        for k in self.kernels():
            self.api("DELETE", f"/api/kernels/{k['id']}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.shutdown_kernels()
        except (OSError, urllib.error.URLError):
            pass
        os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started (its own session)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        try:  # kernels that outlived the server
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


PROMPT_DONE = "(args) => { const [el, before] = args; const t = el.textContent.trim(); return /\\[\\d+\\]/.test(t) && t !== before; }"
SOURCE_JS = "(el) => Array.from(el.querySelectorAll('.cm-line')).map(l => l.textContent).join('\\n')"
SOURCE_IS = f"(args) => {{ const [el, want] = args; return ({SOURCE_JS})(el) === want; }}"


class Notebook:
    """One notebook open in JupyterLab in a Playwright page; screenshots go to `artifacts` as NN-step.png."""

    def __init__(self, page: Any, lab: JupyterLab, path: str, artifacts: Path) -> None:
        self.page, self.lab, self.path, self.artifacts = page, lab, path, artifacts
        self.shots = 0
        self.timings: list[tuple[str, float]] = []  # (what, seconds): opening the notebook and each cell run
        self.panel = page.locator(".jp-NotebookPanel").filter(visible=True)

    def open(self) -> Notebook:
        """Load the lab with the notebook; wait until all its cells are shown and its kernel is connected and idle."""
        from playwright.sync_api import expect

        t0 = time.monotonic()
        nb = json.loads((self.lab.root / self.path).read_text())
        self.kernel_display = nb["metadata"]["kernelspec"]["display_name"]
        self.page.goto(self.lab.url(self.path))
        expect(self.panel.locator(".jp-Cell")).to_have_count(len(nb["cells"]), timeout=KERNEL_TIMEOUT)
        expect(self.panel.locator(".jp-Toolbar-kernelName")).to_have_text(self.kernel_display, timeout=KERNEL_TIMEOUT)
        self.wait_idle(KERNEL_TIMEOUT)
        self.timings.append(("open notebook, kernel idle", time.monotonic() - t0))
        return self

    def wait_idle(self, timeout: int = CELL_TIMEOUT) -> None:
        """The kernel is idle as the page shows it (the toolbar's indicator and the status bar's kernel status) and
        as the server knows it."""
        from playwright.sync_api import expect

        expect(self.panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
            "data-status", "idle", timeout=timeout
        )
        expect(self.page.locator("#jp-main-statusbar")).to_contain_text(
            f"{self.kernel_display} | Idle", timeout=timeout
        )
        deadline = time.monotonic() + timeout / 1000
        while not (kernels := self.lab.kernels()) or any(k["execution_state"] != "idle" for k in kernels):
            assert time.monotonic() < deadline, f"kernels not idle after {timeout / 1000:.0f}s: {kernels}"
            time.sleep(0.05)  # polling interval of the server's kernel list

    def cell(self, contains: str) -> Any:
        """The one code cell whose source contains `contains`."""
        cells = self.panel.locator(".jp-CodeCell").filter(has=self.page.locator(".cm-content", has_text=contains))
        n = cells.count()
        assert n == 1, f"{n} code cells contain {contains!r} in {self.path}"
        return cells

    def source(self, cell: Any) -> str:
        return str(cell.locator(".cm-content").evaluate(SOURCE_JS))

    def prompt(self, cell: Any) -> str:
        return str(cell.locator(".jp-InputPrompt").inner_text()).strip()

    def run(self, cell: Any, timeout: int = CELL_TIMEOUT) -> str:
        """Select the cell, Shift+Enter, wait until its prompt shows a new execution number (outputs are complete
        then) and the kernel is idle; returns the cell's output text."""
        t0 = time.monotonic()
        before = self.prompt(cell)
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")
        handle = cell.locator(".jp-InputPrompt").element_handle()
        self.page.wait_for_function(PROMPT_DONE, arg=[handle, before], timeout=timeout)
        self.wait_idle(timeout)
        first = (self.source(cell).splitlines() or [""])[0]
        self.timings.append((f"run {first[:60]}", time.monotonic() - t0))
        return self.output(cell)

    def run_all_and_wait(self, timeout: int = CELL_TIMEOUT) -> None:
        """Run every code cell top to bottom, one at a time, as an engineer pressing Shift+Enter through it."""
        cells = self.panel.locator(".jp-CodeCell")
        for i in range(cells.count()):
            self.run(cells.nth(i), timeout)

    def output(self, cell: Any) -> str:
        return str(cell.locator(".jp-Cell-outputArea").inner_text())

    def set_source(self, cell: Any, text: str) -> None:
        """Replace the cell's source by typing into its CodeMirror editor: click in, select all, insert the text."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.insert_text(text)
        handle = cell.locator(".cm-content").element_handle()
        try:
            self.page.wait_for_function(SOURCE_IS, arg=[handle, text], timeout=10_000)
        except Exception:
            raise AssertionError(f"the editor holds {self.source(cell)!r}, not {text!r}") from None
        self.page.keyboard.press("Escape")  # back to command mode

    def edit(self, cell: Any, old: str, new: str) -> None:
        """Replace `old` (which must occur once) by `new` in the cell's source, through the editor."""
        text = self.source(cell)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {text!r}"
        self.set_source(cell, text.replace(old, new))

    def screenshot(self, step: str, cell: Any | None = None) -> Path:
        """The visible page (scrolled to `cell` when given) as artifacts/NN-step.png."""
        if cell is not None:
            cell.scroll_into_view_if_needed()
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        self.page.screenshot(path=str(path))
        return path
