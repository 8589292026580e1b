"""The evidence archive against a real Blob server: Azurite (npm azurite 3.37.0) over HTTPS with OAuth, the ARM side
(the container's immutability policy) served by the sandbox's Microsoft.Storage provider.

What Azurite does not do, and so is not claimed here: version-level WORM, immutability policies, legal holds
(Azurite answers 501: Azure/Azurite#2648; `test_azurite_does_not_enforce_worm`). The runbook therefore checks the
container's time-based retention policy through ARM (blob.json BlobContainers_GetImmutabilityPolicy) and refuses a
container without one; what Azurite does enforce is that a blob written with overwrite=False is never replaced
(Put Blob with If-None-Match: * answers 409 BlobAlreadyExists, "Put Blob" on Microsoft Learn).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from azure_sandbox import Sandbox
from runbook import cli
from runbook.adapters.blobstore import ARM_API_VERSION, InTenant
from runbook.adapters.clients import sandbox_target
from runbook.customer import params
from runbook.errors import EvidenceError
from runbook.evidence import EvidenceStore, archive, remote
from tests.conftest import DEMO_FIXTURE, PROJECT_ROOT
from tests.support import azurite as azurite_support

SUB = "7c4d2e1f-0a9b-4c8d-9e6f-1b2a3c4d5e60"
RG, ACCOUNT = "rg-intercept-runbook", "stinterceptevidence"


class Archive:
    """One sandbox and one Azurite for the module (both are slow to start); each test uses containers of its own."""

    def __init__(self, sandbox: Sandbox, server) -> None:
        self.sandbox, self.server, self.conn = sandbox, server, sandbox.connection
        t = sandbox_target(Path(self.conn.secret_path).parent / "connection.json")
        self.credential = InTenant(t.credential, self.conn.msp_tenant_id)
        from azure.mgmt.storage import StorageManagementClient
        from azure.storage.blob import BlobServiceClient

        self.arm = StorageManagementClient(
            self.credential,
            SUB,
            base_url=t.arm_url,
            credential_scopes=[t.arm_scope],
            connection_verify=t.verify,
            api_version=ARM_API_VERSION,
        )
        self.blobs = BlobServiceClient(server.account_url, credential=self.credential, connection_verify=t.verify)

    def container(self, name: str, days: int | None = None) -> str:
        """A container on both sides: through ARM (with a time-based retention policy of `days`) and in Azurite."""
        self.arm.blob_containers.create(RG, ACCOUNT, name, {"properties": {}})
        if days is not None:
            self.arm.blob_containers.create_or_update_immutability_policy(
                RG, ACCOUNT, name, {"properties": {"immutabilityPeriodSinceCreationInDays": days}}
            )
        self.blobs.create_container(name)
        return name

    def names(self, container: str) -> list[str]:
        return sorted(b.name for b in self.blobs.get_container_client(container).list_blobs())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    sb = Sandbox(DEMO_FIXTURE, folder / "sandbox")
    sb.start()
    try:
        server = azurite_support.start(sb.connection, folder / "azurite", ["evidence-intercept", "evidence-mutable"])
    except BaseException:
        sb.stop()
        raise
    made = Archive(sb, server)
    yield made
    made.blobs.close()
    made.arm.close()
    server.stop()
    sb.stop()


@pytest.fixture
def customer(env, tmp_path, monkeypatch, request):
    """The demo customer with its own evidence folder and an msp.yml whose evidence_store names this test's container
    (a 30-day policy unless the test says otherwise)."""
    name = request.node.name.replace("_", "-").lower()[:40].strip("-")
    days = getattr(request.function, "container_days", 30)
    container = env.container(name, days)
    pdir = tmp_path / "parameters"
    pdir.mkdir()
    state = Path(env.conn.secret_path).parent
    msp = (PROJECT_ROOT / "parameters" / "msp.yml").read_text().replace("{file: .sandbox/", f"{{file: {state}/")
    (pdir / "msp.yml").write_text(msp.replace("container: evidence-intercept", f"container: {container}"))
    shutil.copy(PROJECT_ROOT / "parameters" / "demo.yml", pdir / "demo.yml")
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(pdir))
    monkeypatch.setenv("RUNBOOK_SANDBOX", str(state / "connection.json"))
    monkeypatch.setenv("RUNBOOK_EVIDENCE_DIR", str(tmp_path / "evidence"))
    return container


def container_days(days: int | None):
    """The retention policy of the test's container (None: no policy; default 30 days)."""

    def mark(test):
        test.container_days = days
        return test

    return mark


def seal(text: str = "complete") -> Path:
    """A sealed run of the demo customer (results, a file, the manifest in the chain, the anchored head)."""
    run_id, path = archive.new_run("demo", 0)
    (path / archive.RESULTS).write_text(json.dumps({"customer": "demo", "run_id": run_id, "status": text}))
    (path / "notes.txt").write_text(f"run {run_id}: {text}\n")
    archive.write_manifest("demo", path, {"stage": 0, "status": "complete"})
    return path


def test_push_uploads_every_sealed_run_and_verifies(env, customer, capsys):
    """Each run's files and manifest land under demo/<run id>/ with their SHA-256; a second push uploads nothing
    (idempotent); the push is recorded beside the chain, which `evidence verify` still finds intact; `verify --remote`
    passes."""
    runs = [seal("first"), seal("second")]
    assert cli.main(["evidence", "push", "demo"]) == 0
    out = capsys.readouterr().out
    assert "2 sealed run(s), 6 blob(s) uploaded, 0 already there; time-based retention 30 days, Unlocked" in out
    assert env.names(customer) == sorted(f"demo/{r.name}/{f.name}" for r in runs for f in r.iterdir())
    again = remote.push(params.load("demo"))
    assert (again.uploaded, again.present, again.ok) == (0, 6, True)
    records = remote.pushes("demo")
    assert [r["uploaded"] for r in records] == [6, 0] and records[0]["allow_mutable"] is False
    assert records[0]["policy"] == {"state": "Unlocked", "days": 30, "version_level": False}
    assert EvidenceStore("demo").verify() == []
    assert cli.main(["evidence", "verify", "demo", "--remote"]) == 0
    assert "verified (files and hash chain intact and in the evidence archive)" in capsys.readouterr().out


@container_days(None)
def test_push_refused_without_a_retention_policy(env, customer, capsys):
    """A container without a time-based retention policy (ARM: hasImmutabilityPolicy false) is refused with the fix,
    and nothing is uploaded; with --allow-mutable the push goes ahead and its record says so."""
    seal()
    assert cli.main(["evidence", "push", "demo"]) == 1
    err = capsys.readouterr().err
    assert f"refused to push to container '{customer}' of {ACCOUNT}: it has no time-based retention policy" in err
    assert "az storage container immutability-policy create" in err and "--allow-mutable" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert env.names(customer) == []
    assert cli.main(["evidence", "push", "demo", "--allow-mutable"]) == 0
    assert "--allow-mutable: the container has no retention policy; recorded" in capsys.readouterr().out
    assert remote.pushes("demo")[-1]["allow_mutable"] is True
    assert len(env.names(customer)) == 3


@container_days(7)
def test_push_refused_with_a_shorter_policy(customer):
    """A policy shorter than msp.evidence_store.retention_days (30) is refused, naming both."""
    seal()
    with pytest.raises(EvidenceError, match=r"keeps blobs 7 days, msp\.evidence_store\.retention_days asks for 30"):
        remote.push(params.load("demo"))


def test_deleted_local_run_is_named(env, customer, capsys):
    """A run deleted locally after its push is named by `verify --remote` (and by the local verify, from the anchor)."""
    first, second = seal("first"), seal("second")
    remote.push(params.load("demo"))
    shutil.rmtree(first)
    assert cli.main(["evidence", "verify", "demo", "--remote"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {first.name}: in the archive ({customer}) but missing from the local evidence" in out
    assert f"{first.name}: the run was anchored but is missing from the evidence (deleted)" in out  # the local chain
    assert f"the archive ({customer}): {second.name}" not in out  # the archive's copy of the other run is intact


def test_edited_blob_is_named(env, customer, capsys):
    """A blob changed in the archive (here overwritten behind the runbook's back) is named by `verify --remote`."""
    run = seal()
    remote.push(params.load("demo"))
    blob = env.blobs.get_blob_client(customer, f"demo/{run.name}/notes.txt")
    blob.upload_blob(b"edited\n", overwrite=True)
    assert cli.main(["evidence", "verify", "demo", "--remote"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL the archive ({customer}): {run.name}/notes.txt was changed after archiving (SHA-256 differs)" in out


def test_unpushed_run_is_named_and_the_push_resumes(env, customer):
    """A run sealed after the last push is named; the next push uploads only its blobs (the others are there)."""
    seal("first")
    remote.push(params.load("demo"))
    later = seal("later")
    problems = remote.verify_remote(params.load("demo"))
    assert problems == [
        f"{later.name}: sealed locally but not in the archive ({customer}). Fix: runbook evidence push demo"
    ]
    resumed = remote.push(params.load("demo"))
    assert (resumed.uploaded, resumed.present) == (3, 3)
    assert remote.verify_remote(params.load("demo")) == []


def test_existing_other_blob_is_a_conflict_never_overwritten(env, customer):
    """A blob already in the archive with other content under a run's name is named, and left as it was
    (overwrite=False: Azurite answers 409 BlobAlreadyExists)."""
    run = seal()
    name = f"demo/{run.name}/notes.txt"
    env.blobs.get_blob_client(customer, name).upload_blob(b"someone else's\n")
    result = remote.push(params.load("demo"))
    assert result.conflicts == [f"{name}: the archive holds other content under this name (not overwritten)"]
    assert not result.ok and result.uploaded == 2
    assert env.blobs.get_blob_client(customer, name).download_blob().readall() == b"someone else's\n"


def test_tampered_local_run_is_not_pushed(env, customer):
    """A run whose local file no longer matches its manifest is not uploaded; the push names it."""
    run = seal()
    (run / "notes.txt").write_text("rewritten\n")
    result = remote.push(params.load("demo"))
    assert result.not_pushed == [
        f"{run.name}: notes.txt was changed after archiving (SHA-256 differs) (not uploaded; run `runbook evidence verify`)"
    ]
    assert env.names(customer) == []


def test_azurite_does_not_enforce_worm(env, customer):
    """Azurite answers 501 to a blob's immutability policy (no version-level WORM offline): the tests do not pretend
    it is enforced; the policy is checked through ARM instead."""
    from datetime import datetime, timedelta, timezone

    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import ImmutabilityPolicy

    blob = env.blobs.get_blob_client(customer, "probe.txt")
    blob.upload_blob(b"probe")
    with pytest.raises(HttpResponseError) as exc:
        blob.set_immutability_policy(
            ImmutabilityPolicy(expiry_time=datetime.now(timezone.utc) + timedelta(days=1), policy_mode="Unlocked")
        )
    assert exc.value.status_code == 501


def test_auto_push_after_a_run(env, customer):
    """push: auto (the demo's msp.yml) pushes at the end of a run: one line; without a running Azurite the line says
    why nothing was pushed and the run's outcome stands."""
    seal()
    line = remote.auto_push(params.load("demo"))
    assert line is not None and line.startswith("pushed 'demo' to ") and "3 blob(s) uploaded" in line
    state = Path(env.conn.secret_path).parent
    kept = (state / "azurite.json").read_text()
    (state / "azurite.json").unlink()
    try:
        seal()
        line = remote.auto_push(params.load("demo"))
        assert line is not None and line.startswith("evidence not pushed: msp.evidence_store.account_url is 'azurite'")
    finally:
        (state / "azurite.json").write_text(kept)


@container_days(None)
def test_protect_sets_the_policy_through_arm_dry_run_first(env, customer, capsys):
    """`runbook evidence protect`: a dry run names what it would set; --apply sets the time-based retention policy
    (BlobContainers_CreateOrUpdateImmutabilityPolicy) and records it; --lock locks it (_LockImmutabilityPolicy);
    then the push is no longer refused; a re-run changes nothing."""
    assert cli.main(["evidence", "protect", "demo"]) == 0
    assert "no time-based retention policy; would set time-based retention 30 days (dry run" in capsys.readouterr().out
    assert env.arm.blob_containers.get(RG, ACCOUNT, customer).has_immutability_policy is False
    assert cli.main(["evidence", "protect", "demo", "--apply", "--lock"]) == 0
    assert "set time-based retention 30 days, Locked (was: no time-based retention policy)" in capsys.readouterr().out
    policy = env.arm.blob_containers.get_immutability_policy(RG, ACCOUNT, customer)
    assert (policy.properties.state, policy.properties.immutability_period_since_creation_in_days) == ("Locked", 30)
    assert remote.pushes("demo")[-1]["kind"] == "protect" and remote.pushes("demo")[-1]["after"]["state"] == "Locked"
    assert cli.main(["evidence", "protect", "demo", "--apply", "--lock"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    seal()
    assert remote.push(params.load("demo")).uploaded == 3


def test_azurite_stops_at_once_after_the_archive_closed_its_connections(env, tmp_path):
    """A BlobArchive's close ends its keep-alive connections (the container client's own close leaves the service's
    transport open: azure-storage-blob's TransportWrapper), and Azurite.stop ends the server once its log says its
    store is closed, not when Node gets round to exiting; with a connection left open, Azurite waits 10 s for it."""
    from runbook.adapters.blobstore import BlobArchive

    server = azurite_support.start(env.conn, tmp_path / "azurite", ["stop-test"])
    try:
        t = sandbox_target(Path(env.conn.secret_path).parent / "connection.json")
        store = BlobArchive(server.account_url, "stop-test", InTenant(t.credential, env.conn.msp_tenant_id), t.verify)
        store.upload("a/notes.txt", b"evidence\n")
        assert [b.name for b in store.listing("a/")] == ["a/notes.txt"]
        store.close()
    finally:
        import time

        start = time.monotonic()
        server.stop()
        took = time.monotonic() - start
    assert server.process.returncode is not None and took < 5, took
    assert "successfully closed" in (tmp_path / "azurite" / "azurite.log").read_text()
