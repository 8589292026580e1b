"""Benchmark: `runbook evidence push` against the floor of writing the same blobs with bare SDK calls.

    .venv/bin/python benchmarks/evidence_push.py [--runs 40] [--files 5] [--kib 64] [--repeat 3]

On one demo sandbox (the ARM side) and one Azurite (HTTPS, OAuth; needs `npm install --prefix .cache/npm
azurite@3.37.0`), for --runs sealed runs of --files files of --kib KiB each (plus each run's manifest):
- floor: the same bytes written with `ContainerClient.upload_blob(overwrite=False)` one after another, nothing else
  (no policy check, no listing, no read-back, no hashing);
- push with --workers 1 and with 4 (the default): the runbook's push (the ARM policy check, the listing, the local
  integrity check, upload with Content-MD5 and SHA-256, the read-back, the push record);
- a re-push of everything already there (idempotent: the listing, the integrity check, no upload).
Each into a fresh container per repetition; median of --repeat. Prints the medians and their ratio to the floor;
writes benchmarks/results/evidence_push.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT))

SUB = "7c4d2e1f-0a9b-4c8d-9e6f-1b2a3c4d5e60"
RG, ACCOUNT = "rg-intercept-runbook", "stinterceptevidence"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--files", type=int, default=5)
    ap.add_argument("--kib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import BlobServiceClient

    from azure_sandbox import Sandbox
    from runbook.adapters import azurite
    from runbook.adapters.blobstore import ARM_API_VERSION, InTenant
    from runbook.adapters.clients import sandbox_target

    if azurite.executable(ROOT) is None:
        print(f"Azurite is not installed: {azurite.INSTALL}")
        return 2
    work = Path(tempfile.mkdtemp(prefix="evidence-push-"))
    demo = ROOT / "lib" / "runbook" / "data" / "sandbox-demo.yml"
    sb = Sandbox(demo, work / "sandbox", base=demo)
    conn = sb.start()
    server = azurite.start(work / "azurite", conn.tls_cert_path, conn.tls_key_path, work / "sandbox", root=ROOT)
    os.environ.update(
        RUNBOOK_SANDBOX=str(work / "sandbox" / "connection.json"),
        RUNBOOK_EVIDENCE_DIR=str(work / "evidence"),
        RUNBOOK_PARAMETERS_DIR=str(work / "parameters"),
    )
    try:
        from runbook.customer import params
        from runbook.evidence import archive, remote

        t = sandbox_target(work / "sandbox" / "connection.json")
        credential = InTenant(t.credential, conn.msp_tenant_id)
        arm = StorageManagementClient(
            credential, SUB, base_url=t.arm_url, credential_scopes=[t.arm_scope], connection_verify=t.verify,
            api_version=ARM_API_VERSION,
        )  # fmt: skip
        blobs = BlobServiceClient(server.account_url, credential=credential, connection_verify=t.verify)
        (work / "parameters").mkdir()
        shutil.copy(ROOT / "parameters" / "demo.yml", work / "parameters" / "demo.yml")
        msp_text = (ROOT / "parameters" / "msp.yml").read_text()
        payload = os.urandom(args.kib * 1024)
        for i in range(args.runs):  # the sealed runs (manifest in the chain, anchored)
            _, path = archive.new_run("demo", 0)
            for f in range(args.files):
                (path / f"file{f}.bin").write_bytes(payload[:-1] + bytes([(i * args.files + f) % 256]))
            archive.write_manifest("demo", path, {"stage": 0, "status": "complete"})
        files = [(f"demo/{r.name}/{p.name}", p) for r in archive.runs("demo") for p in sorted(r.iterdir())]

        def container(name: str) -> str:
            arm.blob_containers.create(RG, ACCOUNT, name, {"properties": {}})
            arm.blob_containers.create_or_update_immutability_policy(
                RG, ACCOUNT, name, {"properties": {"immutabilityPeriodSinceCreationInDays": 30}}
            )
            blobs.create_container(name)
            (work / "parameters" / "msp.yml").write_text(
                msp_text.replace("container: evidence-intercept", f"container: {name}").replace(
                    "{file: .sandbox/", f"{{file: {work / 'sandbox'}/"
                )
            )
            return name

        samples: dict[str, list[float]] = {"floor": [], "push, 1 worker": [], "push, 4 workers": [], "re-push": []}
        for rep in range(args.repeat):
            c = blobs.get_container_client(container(f"floor{rep}"))
            start = time.perf_counter()
            for name, path in files:
                c.upload_blob(name, path.read_bytes(), overwrite=False)
            samples["floor"].append(time.perf_counter() - start)
            for workers in (1, 4):
                container(f"push{workers}-{rep}")
                start = time.perf_counter()
                result = remote.push(params.load("demo"), workers=workers)
                samples[f"push, {workers} worker{'s' if workers > 1 else ''}"].append(time.perf_counter() - start)
                assert result.ok and result.uploaded == len(files), result.text()
            start = time.perf_counter()
            again = remote.push(params.load("demo"))
            samples["re-push"].append(time.perf_counter() - start)
            assert again.uploaded == 0 and again.present == len(files)
        floor = statistics.median(samples["floor"])
        out = {}
        print(
            f"{args.runs} runs x {args.files + 1} blobs ({len(files)} blobs, {args.kib} KiB each), median of {args.repeat}"
        )
        for name, values in samples.items():
            med = statistics.median(values)
            out[name] = {"median_s": round(med, 3), "ratio_to_floor": round(med / floor, 2)}
            print(f"{name:<18} {med:7.2f} s   {med / floor:5.2f}x floor   {len(files) / med:7.1f} blobs/s")
        results = ROOT / "benchmarks" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "evidence_push.json").write_text(
            json.dumps({"runs": args.runs, "files": args.files, "kib": args.kib, "figures": out}, indent=2)
        )
        blobs.close()
        arm.close()
    finally:
        server.stop()
        sb.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
