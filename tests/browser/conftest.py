"""Fixtures for the browser tests: Debian's chromium through Playwright, one JupyterLab server for the module, and a
sandbox tenant started (or not) per test at the connection file the server's kernels read."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

import runbook
from tests.browser.lab import CHROMIUM, JupyterLab, Notebook, ensure_chromium, free_port
from tests.conftest import DEMO_FIXTURE, DEMO_SECRET_STORE, SandboxHandle, copy_msp_settings

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"  # screenshots and the server log, per test (gitignored)
REPO = HERE.resolve().parents[1]  # notebooks/ and parameters/ of this checkout
LIB = Path(runbook.__file__).resolve().parents[1]  # the code under test: the kernels import this copy
TIMINGS: dict[str, float] = {}
CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium_path(tmp_path_factory) -> Path:
    """Debian's chromium (installed with apt-get when we are root and it is missing); the tests skip without it."""
    found = ensure_chromium(tmp_path_factory.mktemp("apt") / "apt-chromium.log")
    if not isinstance(found, Path):
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless chromium, launched by Playwright from its Debian path (Playwright never downloads a browser here)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab serving a working folder, its kernels pointed at this checkout and at isolated runbook folders."""
    base = tmp_path_factory.mktemp("lab")
    root, state = base / "root", base / "state"
    root.mkdir()
    state.mkdir()
    params = base / "parameters"
    params.mkdir()
    text = (REPO / "parameters" / "demo.yml").read_text()
    text = text.replace(  # the app secret a test creates goes to a file of its own
        DEMO_SECRET_STORE, f"secret_store: {{file: {base / 'secrets' / 'demo-app-secret'}}}"
    )
    (params / "demo.yml").write_text(text)
    copy_msp_settings(params, base / "sandbox")  # the connectors' credentials: those of the lab's sandbox
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNBOOK_", "JUPYTER"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(LIB), *filter(None, [os.environ.get("PYTHONPATH")])]),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        RUNBOOK_HOME=str(REPO),
        RUNBOOK_SANDBOX=str(base / "sandbox" / "connection.json"),
        RUNBOOK_EVIDENCE_DIR=str(root / "evidence"),  # under the server's root, as <project>/evidence is
        RUNBOOK_PARAMETERS_DIR=str(params),
        RUNBOOK_WORK_DIR=str(root / "work"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # debugpy's frozen-modules note on every kernel start
    )
    server = JupyterLab(root, state, env).start()
    TIMINGS["jupyterlab startup"] = server.startup_seconds
    yield server
    server.stop()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(server.log, ARTIFACTS / "jupyterlab.log")


@pytest.fixture
def sandbox_dir(lab) -> Path:
    """Where the server's kernels look for the sandbox's connection file ($RUNBOOK_SANDBOX's folder)."""
    return Path(lab.env["RUNBOOK_SANDBOX"]).parent


@pytest.fixture
def lab_sandbox(sandbox_dir):
    """The demo sandbox tenant, running for one test at the connection file the kernels read."""
    from azure_sandbox import Sandbox

    sb = Sandbox(DEMO_FIXTURE, sandbox_dir)
    sb.start()
    yield SandboxHandle(sb)
    sb.stop()


@pytest.fixture(params=["missing", "dead-port"])
def no_sandbox(request, sandbox_dir) -> str:
    """No sandbox answers: its connection file is missing (stopped), or left behind naming a port nobody listens on
    (a sandbox that was killed)."""
    connection = sandbox_dir / "connection.json"
    assert not connection.exists()
    if request.param == "dead-port":
        import trustme

        from azure_sandbox import Connection

        sandbox_dir.mkdir(parents=True, exist_ok=True)
        ca, secret = sandbox_dir / "sandbox-ca.pem", sandbox_dir / "client-secret"
        trustme.CA().cert_pem.write_to_path(str(ca))
        secret.write_text("not-a-secret")
        tenant, client = "6f1c2a9e-4b7d-4e38-9a51-2c8d0e7b3f10", "3c9f7e21-5a84-4d6b-b0e2-8f1a6c4d9e57"
        dead = Connection(f"https://127.0.0.1:{free_port()}", str(ca), tenant, client, str(secret))
        connection.write_text(dead.to_json())
    yield request.param
    connection.unlink(missing_ok=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def page(browser, lab, request):
    """A fresh browser context and page for one test; a failed test leaves a screenshot of the page as it was
    (failed.png). Afterwards its kernels are shut down (which also frees the customer's run lock an interactive
    session holds)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    if request.node.stash.get(CALL_FAILED, False):
        d = ARTIFACTS / request.node.name
        d.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(d / "failed.png"))
    context.close()
    lab.shutdown_kernels()


@pytest.fixture
def artifacts(request) -> Path:
    d = ARTIFACTS / request.node.name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.fixture
def open_notebook(page, lab, artifacts):
    """Copy a stage notebook into the lab's working folder (work/demo/<name>) and open it; returns a `Notebook`."""

    opened: list[Notebook] = []

    def opener(name: str) -> Notebook:
        from runbook.authoring import workcopy

        # what `runbook open demo --stage N` does: the customer's working copy, on the project's named kernel
        workcopy.install_kernel()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(workcopy.WORK_ENV, str(lab.root / "work"))
            wc = workcopy.prepare("demo", int(name[:2]), fresh=True)
        assert wc.path == lab.root / "work" / "demo" / name
        nb = Notebook(page, lab, f"work/demo/{name}", artifacts)
        opened.append(nb)
        return nb.open()

    yield opener
    lines = [f"{seconds:6.2f}s  {what}" for nb in opened for what, seconds in nb.timings]
    (artifacts / "timings.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _timed(request):
    t0 = time.monotonic()
    yield
    TIMINGS[request.node.name] = time.monotonic() - t0


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "browser test timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{seconds:6.1f}s  {name}")
