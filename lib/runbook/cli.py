"""The `runbook` command: run, report, status, checklist, portfolio, evidence verify, params validate, sandbox serve,
demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only what every command needs is imported here: the heavy libraries (pandas, nbformat, papermill, the Azure SDKs)
# load inside the commands that use them, so `runbook --help` answers at once (tests/unit/test_lazy_imports.py).
from . import PROJECT_ROOT, errors
from .errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK

if TYPE_CHECKING:
    from . import runner


def _print_outcome(o: runner.RunOutcome) -> None:
    from .evidence import status

    counts: dict[str, int] = {}
    for r in o.items:
        counts[r.status] = counts.get(r.status, 0) + 1
    forced = " (FORCED past an incomplete stage)" if o.forced else ""
    what = f"stage {o.stage}, item {o.item}" if o.item else f"stage {o.stage}"
    print(
        f"{what}: {o.status}{forced} - "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + f"  evidence: {status.link(o.run_dir)}"
    )
    if o.error:
        print(f"  error: {o.error}")


def _print_item(r, show_plan: bool = False) -> None:
    """One line per item as it finishes (the runner follows the run's journal); with --show-plan, every planned or
    applied change after it with the values it writes (old -> new for an update; secrets masked)."""
    why = (
        f" - missing: {r.missing[0]}" + (f" (+{len(r.missing) - 1} more)" if len(r.missing) > 1 else "")
        if r.missing and r.status != "fulfilled"
        else ""
    )
    print(f"  {r.status:<12} {r.item_id}: {r.summary}{why}", flush=True)
    if show_plan:
        for label, changes in (("applied", r.applied), ("planned", r.planned if not r.applied else [])):
            for c in changes:
                print(f"      {label} {c.headline}")
                plain = [
                    f"{k}: {v}"
                    for k, v in c.detail.items()
                    if isinstance(v, (str, int, float, bool)) and k not in ("api_version", "name", "kind", "role")
                ]
                for line in c.value_lines() or plain:
                    print(f"          {line}")
                if label == "applied" and (c.before is not None or c.after is not None):
                    from .evidence.diff import as_text

                    for line in as_text(c.before, c.after):  # as the inspect and the verification read it
                        print(f"          before -> after: {line}")


PROGRESS_LINE = re.compile(r"^\S.* \[[#.]{20}\] \d+/\d+ \(")


class _KernelOutput(logging.Handler):
    """papermill forwards the kernel's output through its logger. With --log-output all of it goes to stderr;
    by default only the progress lines of long steps (a bar every 10%) go to stdout."""

    everything = False

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage().strip()
        if self.everything or record.levelno >= logging.WARNING:
            print(f"  | {line}", file=sys.stderr, flush=True)
        elif PROGRESS_LINE.match(line):
            print(f"  | {line}", flush=True)


def _stream_papermill_log(everything: bool) -> None:
    """Show the kernel's output as `_KernelOutput` says."""
    log = logging.getLogger("papermill")
    handler = next((h for h in log.handlers if isinstance(h, _KernelOutput)), None)
    if handler is None:
        handler = _KernelOutput()
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # its INFO lines ("Executing Cell N") reach the terminal only through the handler
    handler.everything = everything


def cmd_run(args: argparse.Namespace) -> int:
    """Run one stage or all stages for one or more customers (a batch goes on past a customer's error)."""
    from . import runner
    from .customer import catalogue

    _stream_papermill_log(everything=args.log_output)
    if args.item:  # one item: its stage (the gate and the evidence as for the stage)
        known = {i.id: i.stage for i in catalogue.load().items}
        if args.item not in known:
            print(
                f"error: --item {args.item}: no such checklist item. Fix: use an id from `runbook status <customer>`.",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        if args.stage == "all":
            args.stage = str(known[args.item])
    stages = None if args.stage == "all" else [int(args.stage)] if args.stage.isdigit() else [-1]
    if stages and stages[0] not in {s.number for s in catalogue.load().stages}:
        print(f"error: --stage must be 0-4 or all, not {args.stage}", file=sys.stderr)
        return EXIT_BAD_INPUT
    customers = _batch_customers(args)
    if customers is None:
        return EXIT_BAD_INPUT
    if _on_dask(args, customers):
        options = {"apply": args.apply, "force": args.force, "stages": stages, "timeout": args.timeout}
        return _run_batch("run", customers, options | {"item": args.item}, args)
    codes = []
    with runner.fork_kernels() if len(customers) > 1 else nullcontext():  # kernels forked from one pre-imported
        for customer in customers:
            codes.append(_run_customer(customer, stages, args, several=len(customers) > 1))
    return _worst(codes)  # interrupted, a failure, busy, bad input, then an incomplete stage


def _run_customer(customer: str, stages: list[int] | None, args: argparse.Namespace, several: bool) -> int:
    """One customer's stages of `runbook run` in this process: its exit code (an error is one line)."""
    from . import runner

    if several:
        print(f"== {customer}")
    try:
        outcomes = runner.run_all(
            customer,
            apply=args.apply,
            force=args.force,
            stages=stages,
            on_outcome=_print_outcome,
            timeout=args.timeout,
            log_output=True,  # filtered by _stream_papermill_log
            on_item=lambda r: _print_item(r, show_plan=args.show_plan),
            item=args.item,
        )
    except errors.RunbookError as exc:  # one customer's error does not stop the batch
        return report(exc)
    _auto_push(customer)
    return max((o.exit_code for o in outcomes), default=EXIT_OK)


def _batch_customers(args: argparse.Namespace) -> list[str] | None:
    """The customers named, or every one in parameters/ with --all (None, after one line, when neither or both)."""
    customers = drift_customers() if args.all else list(dict.fromkeys(args.customers))  # a name given twice runs once
    if not customers or (args.all and args.customers):
        print(
            f"error: name the customers or give --all (not both). Fix: runbook {args.command} <customer>... | --all",
            file=sys.stderr,
        )
        return None
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be 1 or more, not {args.workers}", file=sys.stderr)
        return None
    return customers


def _on_dask(args: argparse.Namespace, customers: list[str]) -> bool:
    """A batch goes to Dask: always with a scheduler, else for more than one customer unless --workers 1."""
    from . import batch

    return bool(batch.scheduler_address(args.scheduler)) or (len(customers) > 1 and args.workers != 1)


def _run_batch(kind: str, customers: list[str], options: dict, args: argparse.Namespace, as_json: bool = False) -> int:
    """One task per customer on Dask (runbook/batch.py); a line per customer as it finishes, a bar on stderr (with
    `as_json`, drift's one JSON document on stdout at the end and every other line on stderr); each customer's
    evidence pushed to the archive when the MSP's settings say `push: auto`."""
    from tqdm import tqdm

    from . import batch

    lines = sys.stderr if as_json else sys.stdout
    address = batch.scheduler_address(args.scheduler)
    where = address or f"a LocalCluster of {min(args.workers or batch.default_workers(), len(customers))} worker(s)"
    print(f"{kind} of {len(customers)} customer(s) on {where}", file=lines, flush=True)
    documents: list[dict] = []
    with tqdm(total=len(customers), desc=f"runbook {kind}", unit="customer", file=sys.stderr, disable=None) as bar:

        def show(o: batch.CustomerOutcome) -> None:
            if kind == "drift" and o.detail is not None:
                if as_json:
                    documents.append(json.loads(drift_json(o.detail)))
                else:
                    bar.write(f"== {o.customer}\n{drift_text(o.detail)}", file=sys.stdout)
            elif o.error:
                bar.write(f"{o.customer}: error: {o.error}", file=sys.stderr)
                documents.append({"customer": o.customer, "exit_code": o.exit_code, "error": o.error})
            else:
                bar.write(batch.customer_line(o), file=lines)
            if not o.error and o.status != batch.CANCELLED:
                _auto_push(o.customer, quiet=as_json)
            bar.update(1)

        outcomes, interrupted = batch.run_batch(kind, customers, options, args.workers, address, show)
    if interrupted:
        print(batch.interrupted_text(outcomes), file=sys.stderr)
    print(f"peak memory per worker: {batch.peak_text(outcomes) or 'n/a'}", file=lines, flush=True)
    if as_json:
        print(json.dumps(sorted(documents, key=lambda d: d["customer"]), indent=2))
    return batch.worst([o.exit_code for o in outcomes] + ([errors.EXIT_INTERRUPTED] if interrupted else []))


def _worst(codes: list[int]) -> int:
    """The worst outcome decides: interrupted, a failure, busy, bad input, then incomplete (or drift found)."""
    return next(
        (
            c
            for c in (errors.EXIT_INTERRUPTED, EXIT_FAILED, errors.EXIT_BUSY, EXIT_BAD_INPUT, EXIT_INCOMPLETE)
            if c in codes
        ),
        EXIT_OK,
    )


def drift_text(o) -> str:
    """A drift run in lines: the run's state and evidence, each item's state, each finding with its id, what the
    plan would change (its values), and since when the evidence last verified it."""
    from .evidence import status

    totals = ", ".join(f"{n} {s}" for s, n in _drift_totals(o.items).items()) or "no item in scope"
    lines = [
        f"drift {o.customer}: {o.status}{' (--apply)' if o.apply else ''} - {totals}  evidence: {status.link(o.run_dir)}"
    ]
    if o.status == "offboarded":
        lines.append(f"  the customer was offboarded (run {o.run_id}): nothing is re-verified")
    if not o.items and o.status == "complete":
        lines.append("  nothing to re-verify: no stage is complete in the evidence yet (runbook run <customer>)")
    for i in o.items:
        lines.append(f"  {i.state:<12} {i.item_id}: {i.summary}")
        for f in i.findings:
            lines.append(f"      {f.state:<12} {f.id}  {f.what}" + (f"  [{f.note}]" if f.note else ""))
            lines += [f"          {v}" for v in f.values[:10]]
    if o.error:
        lines.append(f"  error: {o.error}")
    return "\n".join(lines)


def drift_json(o) -> str:
    """A drift run as JSON: customer, status, exit code, the run's folder, each item's report with its findings."""
    return json.dumps(
        {
            "customer": o.customer,
            "status": o.status,
            "exit_code": o.exit_code,
            "apply": o.apply,
            "run_id": o.run_id,
            "evidence": str(o.run_dir),
            "totals": _drift_totals(o.items),
            "items": [i.to_dict() for i in o.items],
            "error": o.error,
        }
    )


def _drift_totals(items) -> dict[str, int]:
    from .operate.drift import STATES

    return {s: n for s in STATES if (n := sum(i.state == s for i in items))}


def drift_customers() -> list[str]:
    """Every customer with a parameter file (parameters/*.yml, less the MSP's settings and the templates)."""
    from .customer import params

    return sorted(
        p.stem for p in params.parameters_dir().glob("*.yml") if p.stem != "msp" and not p.stem.startswith("template")
    )


def cmd_drift(args: argparse.Namespace) -> int:
    """Inspect every automated item of every completed stage again and compare it with the last verified state in
    the evidence (exit 0 nothing drifted, 3 drift found, 2 bad input); --apply re-applies what drifted; --accept
    records a decision on one finding."""
    from . import runner

    if args.accept:
        if args.all or len(args.customers) != 1:
            print(
                'error: --accept decides on one customer\'s finding. Fix: runbook drift <customer> --accept <finding> --reason "..."',
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        from .evidence import status
        from .operate import drift

        where = drift.accept(args.customers[0], args.accept, args.reason or "", args.until)
        until = f" until {args.until}" if args.until else ""
        print(f"accepted {args.accept}{until}: recorded in {status.link(where)}")
        return EXIT_OK
    if args.reason or args.until:
        print("error: --reason and --until go with --accept <finding>", file=sys.stderr)
        return EXIT_BAD_INPUT
    customers = _batch_customers(args)
    if customers is None:
        return EXIT_BAD_INPUT
    as_json = args.format == "json"
    if _on_dask(args, customers):
        return _run_batch("drift", customers, {"apply": args.apply, "timeout": args.timeout}, args, as_json)
    codes: list[int] = []
    documents: list[dict] = []
    with runner.fork_kernels() if len(customers) > 1 else nullcontext():  # kernels forked from one pre-imported
        for customer in customers:  # in this process, one after another
            code, document = _drift_customer(customer, args, as_json, len(customers) > 1)
            codes.append(code)
            if document is not None:
                documents.append(document)
    if as_json:
        print(json.dumps(sorted(documents, key=lambda d: d["customer"]), indent=2))
    return _worst(codes)


def _drift_customer(customer: str, args: argparse.Namespace, as_json: bool, several: bool) -> tuple[int, dict | None]:
    """One customer's drift run in this process: its exit code, and its JSON document (with --format json; an error's
    always, the error being one line)."""
    from . import runner

    try:
        o = runner.run_drift(customer, apply=args.apply, timeout=args.timeout)
    except Exception as exc:  # one customer's error (or a bug) does not stop the others: one line for it
        err = f"{customer}: {errors.describe(exc)}"
        print(err, file=sys.stderr, flush=True)
        code = errors.exit_code_of(exc)
        return code, {"customer": customer, "exit_code": code, "error": err}
    document = None
    if as_json:  # one JSON document at the end: an entry per customer, the refused ones with their error
        document = json.loads(drift_json(o))
    else:
        if several:
            print(f"== {customer}")
        print(drift_text(o), flush=True)
    _auto_push(customer, quiet=as_json)
    return o.exit_code, document


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print the crontab lines (or systemd timers) that run `drift --all` and each customer's monthly report."""
    from .operate import schedule

    try:
        print(schedule.render(args.format, args.at, args.drift_day), end="")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    """Four eyes: approve the stage's reviewed plan (its newest dry run), or with --offboard the offboarding's, as
    yourself (azure-identity's default chain: az login, environment, managed identity); an apply by another principal
    may then carry it out."""
    from .evidence.approval import dry_run_command, what
    from .operate.approve import approve

    if (args.stage is None) == (not args.offboard):
        print(
            "error: give --stage N (a stage's plan) or --offboard (an offboarding's plan), one of them", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    stage = int(args.stage) if args.stage is not None else None
    made, plan = approve(args.customer, stage, args.run or "", offboard=args.offboard)
    print(
        f"approved: {what(made.stage, made.subject)} plan of run {plan.run_id} ({made.changes} change(s), sha256 "
        f"{made.plan_sha256})"
    )
    for item, n in made.items.items():
        print(f"  {item}: {n} change(s)")
    print(f"  by {made.describe()}; planned by {plan.planned_by or 'unknown'}")
    print(
        f"  next: `{dry_run_command(args.customer, made.stage, made.subject)} --apply`, signed in as another principal"
    )
    return EXIT_OK


def cmd_sheet(args: argparse.Namespace) -> int:
    """Generate (if missing) and check a customer's Manageable Resource Sheet."""
    from .customer import params
    from .notebook import start

    session = start(args.customer, stage=1)
    summary = session.resource_sheet(regenerate=args.regenerate)  # SheetError: exit 2 via main()
    print(repr(summary))
    print(f"sheet: {params.display_path(summary.marking.path)}")
    return EXIT_OK if not summary.marking.unmarked else EXIT_INCOMPLETE


def cmd_status(args: argparse.Namespace) -> int:
    """Print every item's status for a customer."""
    from .customer import catalogue, params
    from .evidence import status

    params.load(args.customer)
    df = status.table(args.customer)
    if args.format == "json":
        print(df.to_json(orient="records", indent=2))
    else:
        with_title = df.drop(columns=["title"])
        print(with_title.to_string(index=False))
        from .evidence import EvidenceStore
        from .operate import drift

        line = drift.status_line(EvidenceStore(args.customer))
        if line:  # a drift finding is shown beside the stages' status; it does not change it (or a gate)
            print(line)
    return EXIT_OK if set(df.status) <= set(catalogue.DONE_STATUSES) else EXIT_INCOMPLETE


def cmd_checklist(args: argparse.Namespace) -> int:
    """Print the seed checklist with [x] on done items, for the tracking issue."""
    from .customer import params
    from .evidence import status

    p = params.load(args.customer)
    if args.format == "json":
        df = status.table(args.customer)
        print(
            json.dumps(
                {
                    "customer": p.customer,
                    "tenant_id": p.tenant_id,
                    "tenant_name": p.tenant_name,
                    "subscription_ids": p.subscription_ids,
                    "tier": p.tier,
                    "engineer": p.engineer,
                    "sla_project_number": p.sla_project_number,
                    "items": df.to_dict(orient="records"),
                },
                indent=2,
            )
        )
    else:
        print(status.checklist(p), end="")
    return EXIT_OK


def cmd_offboard(args: argparse.Namespace) -> int:
    """The reverse runbook: plan the removal of the MSP's artefacts (dry run), or with --apply remove the reviewed plan
    (exit 0 planned or offboarded, 3 something refused, 2 bad input)."""
    from . import runner
    from .evidence import status
    from .operate import offboard

    o = runner.run_offboard(args.customer, apply=args.apply, timeout=args.timeout)
    print(offboard.describe(o, status.link))
    return o.exit_code


def cmd_tier(args: argparse.Namespace) -> int:
    """A tier change: undo what the new tier does not include, then run the stages under it (dry run; --apply)."""
    from . import runner
    from .evidence import status
    from .operate import tier

    o = tier.change(args.customer, args.to, runner.run_offboard, runner.run_all, args.apply, status.link)
    print(o.text())
    return o.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    """The monthly PARC report: the report notebook executed with papermill into a new evidence run of the customer
    (executed notebook, HTML, report.json, results, manifest in the hash chain; a PDF when a Chromium is
    installed); prints where the HTML is. Exit 0 made, 1 failed, 2 bad input (a bad --month)."""
    from . import runner

    _stream_papermill_log(everything=args.log_output)
    customers = _batch_customers(args)
    if customers is None:
        return EXIT_BAD_INPUT
    if _on_dask(args, customers):
        return _run_batch("report", customers, {"month": args.month or "", "timeout": args.timeout}, args)
    codes = []
    with runner.fork_kernels() if len(customers) > 1 else nullcontext():  # kernels forked from one pre-imported
        for customer in customers:
            try:
                o = runner.run_report(customer, args.month or "", timeout=args.timeout, log_output=True)
            except errors.RunbookError as exc:
                if len(customers) == 1:
                    raise
                codes.append(report(exc))
                continue
            _print_report(o)
            _auto_push(customer)
            codes.append(o.exit_code)
    return _worst(codes)


def _print_report(o: runner.RunOutcome) -> None:
    from .evidence import archive, status

    data = json.loads((o.run_dir / archive.RESULTS).read_text()) if (o.run_dir / archive.RESULTS).exists() else {}
    html = next(iter(sorted(o.run_dir.glob("*.html"))), None)
    print(f"report {data.get('month', '')} of '{o.customer}': {o.status}  evidence: {status.link(o.run_dir)}")
    if html is not None:
        print(f"  HTML: {status.link(o.run_dir)}/{html.name}")
    pdf = next(iter(sorted(o.run_dir.glob("*.pdf"))), None)
    print(f"  PDF: {status.link(o.run_dir)}/{pdf.name}" if pdf else f"  {data.get('pdf', 'no PDF')}")
    if o.error:
        print(f"  error: {o.error}")


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    """Check every archived file against its manifest, the hash chain and its anchored head."""
    from .evidence import EvidenceStore

    store = EvidenceStore(args.customer)
    if args.repair:
        with store.lock("evidence verify --repair"):
            for run_id in store.recover():
                print(f"sealed {run_id} from its journal (status interrupted)")
    problems = store.verify()
    if args.remote:  # the archive in Azure Blob against the local chain and against itself
        from .customer import params
        from .evidence import remote

        problems += remote.verify_remote(params.load(args.customer))
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return EXIT_FAILED
    where = " and in the evidence archive" if args.remote else ""
    print(f"ok: {len(store.runs())} run(s) of '{args.customer}' verified (files and hash chain intact{where})")
    return EXIT_OK


def cmd_portfolio(args: argparse.Namespace) -> int:
    """Every customer on one page: tier, stage reached, open items by role, failed items, last drift, last report,
    evidence health (verified read-only), last touched; a static HTML page (default evidence/portfolio.html) or JSON."""
    from .customer import params
    from .operate import portfolio

    rows = portfolio.collect_all()
    if args.format == "json" and not args.out:
        print(portfolio.to_json(rows))
        return EXIT_OK
    out = portfolio.write(rows, Path(args.out) if args.out else portfolio.default_path(), args.format)
    print(f"portfolio of {len(rows)} customer(s): {params.display_path(out)}")
    return EXIT_OK


def cmd_evidence_push(args: argparse.Namespace) -> int:
    """Upload every sealed run the MSP's evidence archive (Azure Blob) lacks: idempotent, resumable, refused for a
    container without a time-based retention policy unless --allow-mutable (recorded). Exit 0 done, 1 refused or a
    conflict, 2 bad input."""
    from .customer import params
    from .evidence import remote

    customers = drift_customers() if args.all else list(args.customers)
    if not customers or (args.all and args.customers):
        print(
            "error: name the customers or give --all (not both). Fix: runbook evidence push <customer>... | --all",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    codes = []
    for customer in customers:  # one customer's failure does not stop the others
        try:
            result = remote.push(params.load(customer), allow_mutable=args.allow_mutable, workers=args.workers)
            print(result.text(), flush=True)
            codes.append(EXIT_OK if result.ok else EXIT_FAILED)
        except errors.RunbookError as exc:
            codes.append(report(exc))
    return _worst(codes)


def cmd_evidence_protect(args: argparse.Namespace) -> int:
    """The evidence container's time-based retention policy at msp.evidence_store.retention_days, through ARM: a dry
    run by default; --apply sets it (recorded), --lock also locks it (irreversible)."""
    from .customer import params
    from .evidence import remote

    print(remote.protect(params.load(args.customer), apply=args.apply, lock=args.lock))
    return EXIT_OK


def _auto_push(customer: str, quiet: bool = False) -> None:
    """After a run: push its evidence when msp.evidence_store.push is auto (one line; never fails the run)."""
    from .customer import params
    from .evidence import remote

    try:
        line = remote.auto_push(params.load(customer))
    except errors.RunbookError:
        return  # the run itself reported its parameters' problems
    if line:
        failed = quiet or line.startswith("evidence not pushed")  # stdout holds a JSON document when quiet
        print(line, file=sys.stderr if failed else sys.stdout, flush=True)


def cmd_preflight(args: argparse.Namespace) -> int:
    """Before any change: who the runbook signs in as, the MSP's access per subscription, Graph permissions, the
    secret store, the connectors to HubSpot, TOPdesk, Exact Online and Partner Center, and per stage what will fail
    (exit 0 ready, 3 something missing, 2 bad input). Writes nothing but Exact Online's rotated refresh token, back
    where it was."""
    import json

    from .customer import params
    from .customer.connect import make_clients
    from .operate import preflight
    from .steps.base import Context

    p = params.load(args.customer)  # exit 2 before any call
    params.check_sign_in_refs(p)
    if p.target == "sandbox":
        from .adapters.clients import sandbox_connection_path

        params.check_sandbox_tenant(p, sandbox_connection_path())
    clients = make_clients(p)
    try:
        result = preflight.run(p, Context(p, lambda: clients, apply=False, journal=None))
    finally:
        clients.close()
    print(json.dumps(result.to_dict(), indent=2) if args.format == "json" else result.text())
    return EXIT_OK if result.ok else EXIT_INCOMPLETE


def cmd_params_validate(args: argparse.Namespace) -> int:
    """Validate a parameter file without calling Azure."""
    from .customer import params

    p = params.load(args.customer)
    params.check_sign_in_refs(p)
    print(
        f"ok: {params.display_path(params.resolve_path(args.customer))} is valid ({p.tenant_name}, {p.tier}, {len(p.subscription_ids)} subscription(s), {len(p.attestations)} attestation(s))"
    )
    return EXIT_OK


def cmd_open(args: argparse.Namespace) -> int:
    """Prepare a customer's working copy of a stage notebook (work/<customer>/) and open it in JupyterLab."""
    from .adapters.clients import sandbox_connection_path
    from .authoring import workcopy
    from .customer import catalogue, params

    p = params.load(args.customer)  # exit 2 before anything is written
    stage = int(args.stage)
    catalogue.load().stage(stage)
    kernel = workcopy.install_kernel()
    wc = workcopy.prepare(p.customer, stage, fresh=args.fresh)
    state = "created" if wc.created else "kept (your earlier work; --fresh starts over)"
    print(f"working copy: {wc.relative()} ({state})")
    print(f"kernel      : {workcopy.KERNEL_DISPLAY} ({workcopy.KERNEL_NAME}, {kernel})")
    if p.target == "sandbox":
        conn = sandbox_connection_path()
        where = (
            json.loads(conn.read_text()).get("url", "?")
            if conn.exists()
            else "NOT running: start it in another terminal with `runbook sandbox serve`"
        )
        print(f"sandbox     : {where}")
    url = workcopy.running_lab()
    if url:
        print(f"open        : {url.format(path=wc.relative())}")
        return EXIT_OK
    jupyter = str(Path(sys.executable).parent / "jupyter")
    # the project root is the server's root: every link a card shows (evidence, sheets) resolves under it
    command = [jupyter, "lab", f"--ServerApp.root_dir={PROJECT_ROOT}", str(wc.relative())]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Jupyter refuses root without the flag
        command.insert(2, "--allow-root")
        print("as root     : passing --allow-root (Jupyter refuses to run as root without it)")
    if args.lab:
        print("starting JupyterLab (Ctrl-C to stop) ...", flush=True)
        os.chdir(PROJECT_ROOT)
        os.execv(jupyter, command)
    print(f"start       : cd {shlex.quote(str(PROJECT_ROOT))} && {shlex.join(command)}  (or add --lab)")
    return EXIT_OK


def _sandbox(fixture: str, state_dir, port: int = 0, faults=None):
    """A sandbox tenant through the emulator's public entry point; `demo` and `scale-<N>` use the runbook's demo
    customer (lib/runbook/data/sandbox-demo.yml) as their tenant."""
    from azure_sandbox import Sandbox

    demo = Path(__file__).parent / "data" / "sandbox-demo.yml"
    return Sandbox(demo if fixture == "demo" else fixture, state_dir, port, faults, base=demo)


def _faults_from(args: argparse.Namespace):
    from azure_sandbox import Faults

    return Faults(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        throttle=args.throttle,
        seed=args.seed,
        lro_retry_after=args.lro_retry_after,
    )


def _started(sb):
    """Start a sandbox; one already serving from the same folder is a one-line refusal naming it."""
    from azure_sandbox import SandboxBusy

    try:
        return sb.start()
    except SandboxBusy as exc:
        raise errors.TargetError(str(exc)) from None


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    """Serve the sandbox tenant until interrupted."""
    sb = _sandbox(args.fixture, args.state_dir, args.port, _faults_from(args))
    conn = _started(sb)
    state = sb.app.state
    print(f"sandbox tenant '{args.fixture}' serving at {conn.url}")
    print(f"  CA certificate : {conn.ca_path}")
    print(f"  tenant         : {conn.tenant_id} ({state.tenant_name}); the MSP's tenant {conn.msp_tenant_id}")
    for sub in state.subscriptions():
        print(f"  subscription   : {sub['subscriptionId']} ({sub.get('displayName', '')})")
    runbook_sp = state.service_principal_by_app(conn.client_id) or {}
    print(
        f"  runbook        : app {conn.client_id}, principal {runbook_sp.get('id', '?')} (secret in {conn.secret_path}, mode 0600)"
    )
    for vault in conn.vaults:
        print(f"  Key Vault      : https://{vault}.{conn.vault_domain}")
    if conn.passwordstate_host:
        print(f"  Passwordstate  : https://{conn.passwordstate_host}/api/")
    for host in conn.service_hosts:  # the MSP's HubSpot, TOPdesk, Exact Online, Partner Center stand-ins
        print(f"  MSP service    : https://{host}/")
    for name, path in sorted(conn.service_credentials.items()):
        print(f"  credential     : {name} in {path} (mode 0600)")
    print(
        f"  connection file: {os.path.join(args.state_dir, 'connection.json')}  (export RUNBOOK_SANDBOX=<this path> if not the default)"
    )
    print("Ctrl-C to stop.", flush=True)
    sb.serve_until_stopped()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the sandbox, run every stage for a demo customer (default `demo`, Full Stack; `demo-premium` is the
    Premium tier on the same tenant) with apply, print status and evidence. With `--serve` the sandbox, holding the
    onboarded tenant, keeps serving until Ctrl-C (for `runbook drift`, `runbook status`, JupyterLab)."""
    from azure_sandbox import Faults

    from . import runner
    from .evidence import EvidenceStore, status

    customer = args.customer
    state_dir = PROJECT_ROOT / ".sandbox"
    kernel = runner.prestarted_kernel()  # the demo's one kernel starts while the sandbox does
    try:
        # the demo tenant ends each long-running operation by its first status poll (every one is still started,
        # polled and read back through the SDK's poller); `runbook sandbox serve` keeps one "in progress" poll each
        sb = _sandbox("demo", state_dir, faults=Faults(lro_polls=0))
        _started(sb)
    except BaseException:
        kernel.close()
        raise
    with sb, _demo_archive(customer, state_dir, sb.connection) as archive:
        os.environ["RUNBOOK_SANDBOX"] = str(state_dir / "connection.json")
        print(f"sandbox tenant serving at {sb.connection.url}; running all stages for '{customer}' with --apply")
        try:
            # the first monthly report (last month) right after Stage 2: Stage 3's s3-parc-report then finds the
            # schedule in the parameters and a report produced in the evidence
            with runner.reuse_kernel(kernel):  # one warm kernel for every notebook of the demo, each its own evidence
                first = runner.run_all(customer, apply=True, stages=[0, 1, 2], on_outcome=_print_outcome)
                if not any(o.status in ("failed", "refused", "interrupted") for o in first):
                    _print_report(runner.run_report(customer))
                    runner.run_all(customer, apply=True, stages=[3, 4], on_outcome=_print_outcome)
        except runner.StageGateError as exc:
            print(f"stopped: {exc}")
        finally:
            kernel.close()  # stopped before the status, the archive and --serve, also when a stage raised (a no-op
            # after reuse_kernel's end closed it)
        print()
        print(status.table(customer).drop(columns=["title"]).to_string(index=False))
        store = EvidenceStore(customer)
        problems = store.verify()
        print()
        print(
            f"evidence: {status.link(store.folder)}  ({'verified' if not problems else 'PROBLEMS: ' + '; '.join(problems)})"
        )
        from .customer import params
        from .evidence import remote

        try:
            if archive():  # every sealed run into the archive (Azurite), then checked there against the chain
                p = params.load(customer)
                print(remote.push(p).text())
                remote_problems = remote.verify_remote(p)
                print(
                    "evidence archive: verified against the local chain"
                    if not remote_problems
                    else "evidence archive PROBLEMS: " + "; ".join(remote_problems)
                )
                problems += remote_problems
        except errors.RunbookError as exc:
            print(f"evidence archive: {errors.describe(exc)}")
        print(f"checklist for the tracking issue: runbook checklist {customer}")
        if getattr(args, "serve", False):
            print(
                f"the sandbox keeps serving the onboarded tenant at {sb.connection.url}: in another terminal try "
                f"`runbook drift {customer}`; Ctrl-C to stop.",
                flush=True,
            )
            sb.serve_until_stopped()
    return EXIT_OK if not problems else EXIT_FAILED


@contextmanager
def _demo_archive(customer: str, state_dir: Path, conn) -> Iterator[Callable[[], bool]]:
    """The demo's evidence archive: Azurite when installed (HTTPS with the sandbox's certificate, OAuth), the containers
    the sandbox's ARM holds made on it. Started in a thread while the stages run (Node's start and the containers take
    ~3 s); yields a call that waits for it and says whether it runs (else one line with the install command), raising
    its start's error."""
    import shutil
    import threading

    from .adapters import azurite

    if azurite.executable() is None:

        def missing() -> bool:
            print(
                f"evidence archive: Azurite is not installed, the demo's runs are not pushed (install: {azurite.INSTALL})"
            )
            return False

        yield missing
        return
    shutil.rmtree(state_dir / "azurite", ignore_errors=True)  # a fresh archive, as the sandbox's tenant is fresh
    made: dict[str, Any] = {}

    def start() -> None:
        try:
            from .adapters.blobstore import InTenant

            made["server"] = server = azurite.start(
                state_dir / "azurite", conn.tls_cert_path, conn.tls_key_path, state_dir
            )
            credential = conn.credential(conn.msp_tenant_id)
            containers = ["evidence-intercept", "evidence-mutable"]  # the demo fixture's (sandbox-demo.yml)
            azurite.create_containers(
                server.account_url, containers, InTenant(credential, conn.msp_tenant_id), conn.ca_path
            )
            made["line"] = f"evidence archive: Azurite at {server.account_url} (containers {', '.join(containers)})"
        except Exception as exc:  # reported when the archive is asked for
            made["error"] = exc

    thread = threading.Thread(target=start, name="azurite-start", daemon=True)
    thread.start()

    def ready() -> bool:
        thread.join()
        if "error" in made:
            raise made["error"]
        print(made["line"])
        return True

    try:
        yield ready
    finally:
        thread.join()
        if "server" in made:
            made["server"].stop()


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    """--all, --workers, --scheduler: a batch over many customers on Dask (runbook/batch.py)."""
    p.add_argument("--all", action="store_true", help="every customer in parameters/ (not msp.yml, the templates)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="a batch of more than one customer runs on Dask, one task per customer: a LocalCluster of N workers "
        "(default: one per core; threads of this process, each customer's kernels processes of their own); "
        "--workers 1 runs them one after another without Dask",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="submit to an existing Dask scheduler (tcp://host:8786; default $DASK_SCHEDULER_ADDRESS) instead of a "
        "LocalCluster; its workers need the same parameters, evidence and sandbox paths",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    ap = argparse.ArgumentParser(
        prog="runbook", description="Executable onboarding runbook for Azure managed services."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a stage (or all) for one or more customers with papermill and archive evidence")
    r.add_argument(
        "customers", nargs="*", metavar="customer", help="parameters/<customer>.yml; several are a batch (or --all)"
    )
    r.add_argument("--stage", default="all", help="0-4 or all (default)")
    r.add_argument("--apply", action="store_true", help="let steps change the tenant (default: dry run)")
    r.add_argument(
        "--force", action="store_true", help="start even if the previous stage is incomplete (recorded in the evidence)"
    )
    r.add_argument("--item", help="run one checklist item of its stage (gate and evidence as for the stage)")
    r.add_argument(
        "--show-plan",
        action="store_true",
        help="after each item, every change it plans (or applied) with the values it writes (old -> new)",
    )
    r.add_argument("--timeout", type=int, default=900, help="seconds a single cell may run (default 900)")
    r.add_argument(
        "--log-output",
        action="store_true",
        help="stream the notebook's output (progress lines, prints) to this terminal",
    )
    _batch_arguments(r)
    r.set_defaults(func=cmd_run)
    dr = sub.add_parser(
        "drift", help="re-verify every completed stage's automated items against the evidence (exit 0 none, 3 drift)"
    )
    dr.add_argument("customers", nargs="*", metavar="customer", help="parameters/<customer>.yml (or --all)")
    dr.add_argument("--apply", action="store_true", help="re-apply what drifted (reviewed plan), then verify")
    _batch_arguments(dr)
    dr.add_argument("--accept", metavar="FINDING", help="accept a finding of the last drift run as customer-specific")
    dr.add_argument("--reason", help="why the finding is accepted (with --accept; required)")
    dr.add_argument("--until", metavar="YYYY-MM-DD", help="the last day the acceptance holds (with --accept)")
    dr.add_argument("--timeout", type=int, default=900, help="seconds a single cell may run (default 900)")
    dr.add_argument("--format", choices=["text", "json"], default="text", help="json: one document for the batch")
    dr.set_defaults(func=cmd_drift)
    sc = sub.add_parser("schedule", help=cmd_schedule.__doc__)
    sc.add_argument("--format", choices=["cron", "systemd"], default="cron")
    sc.add_argument("--at", default="05:00", help="HH:MM of the drift run (default 05:00); reports an hour later")
    sc.add_argument("--drift-day", type=int, default=1, help="day of the month of `drift --all` (1-28, default 1)")
    sc.set_defaults(func=cmd_schedule)
    ap_ = sub.add_parser("approve", help=cmd_approve.__doc__)
    ap_.add_argument("customer")
    ap_.add_argument("--stage", choices=[str(n) for n in range(5)], help="0-4")
    ap_.add_argument(
        "--offboard", action="store_true", help="the newest offboard dry run's plan (runbook offboard, or runbook tier)"
    )
    ap_.add_argument("--run", help="the dry run to approve (default: the stage's, or the offboarding's, newest)")
    ap_.set_defaults(func=cmd_approve)
    ob = sub.add_parser("offboard", help="the reverse runbook: remove the MSP's artefacts (dry run; --apply removes)")
    ob.add_argument("customer", help="parameters/<customer>.yml")
    ob.add_argument("--apply", action="store_true", help="remove the reviewed plan, delete the app's secret, verify")
    ob.add_argument("--timeout", type=int, default=900, help="seconds a single cell may run (default 900)")
    ob.set_defaults(func=cmd_offboard)
    tr = sub.add_parser(
        "tier", help="move a customer to another tier: undo what it leaves, add what it needs (dry run)"
    )
    tr.add_argument("customer", help="parameters/<customer>.yml")
    tr.add_argument("--to", required=True, metavar="TIER", help="CSP, Premium or 'Full Stack'")
    tr.add_argument("--apply", action="store_true", help="remove, then run every stage under the new tier")
    tr.set_defaults(func=cmd_tier)
    sh = sub.add_parser("sheet", help=cmd_sheet.__doc__)
    sh.add_argument("customer")
    sh.add_argument(
        "--regenerate",
        action="store_true",
        help="write a fresh sheet from the tenant (marks already tagged resources Yes)",
    )
    sh.set_defaults(func=cmd_sheet)
    for name, fn, fmts in (
        ("status", cmd_status, ["table", "json"]),
        ("checklist", cmd_checklist, ["markdown", "json"]),
    ):
        s = sub.add_parser(name, help=fn.__doc__)
        s.add_argument("customer")
        s.add_argument("--format", choices=fmts, default=fmts[0])
        s.set_defaults(func=fn)
    rp = sub.add_parser("report", help=cmd_report.__doc__)
    rp.add_argument("customers", nargs="*", metavar="customer", help="parameters/<customer>.yml; several are a batch")
    _batch_arguments(rp)
    rp.add_argument("--month", default="", help="YYYY-MM (default: last month)")
    rp.add_argument("--timeout", type=int, default=900, help="seconds a single cell may run (default 900)")
    rp.add_argument("--log-output", action="store_true", help="stream the notebook's output to this terminal")
    rp.set_defaults(func=cmd_report)
    po = sub.add_parser("portfolio", help=cmd_portfolio.__doc__)
    po.add_argument("--format", choices=["html", "json"], default="html", help="html (default) or json (to stdout)")
    po.add_argument("--out", help="where to write it (default: evidence/portfolio.html; json: stdout)")
    po.set_defaults(func=cmd_portfolio)
    pf = sub.add_parser("preflight", help=cmd_preflight.__doc__)
    pf.add_argument("customer")
    pf.add_argument("--format", choices=["text", "json"], default="text")
    pf.set_defaults(func=cmd_preflight)
    e = sub.add_parser("evidence", help="evidence archive commands").add_subparsers(
        dest="evidence_command", required=True
    )
    v = e.add_parser("verify", help=cmd_evidence_verify.__doc__)
    v.add_argument(
        "--repair",
        action="store_true",
        help="first seal runs a killed process left unsealed (from their journals; nothing is deleted)",
    )
    v.add_argument(
        "--remote", action="store_true", help="also check the evidence archive in Azure Blob (msp.evidence_store)"
    )
    v.add_argument("customer")
    v.set_defaults(func=cmd_evidence_verify)
    ep = e.add_parser("push", help=cmd_evidence_push.__doc__)
    ep.add_argument("customers", nargs="*", metavar="customer", help="parameters/<customer>.yml (or --all)")
    ep.add_argument("--all", action="store_true", help="every customer in parameters/ (not msp.yml, the templates)")
    ep.add_argument(
        "--allow-mutable",
        action="store_true",
        help="push to a container without a time-based retention policy (recorded in the push record)",
    )
    ep.add_argument("--workers", type=int, default=4, help="uploads at a time (default 4)")
    ep.set_defaults(func=cmd_evidence_push)
    pr = e.add_parser("protect", help=cmd_evidence_protect.__doc__)
    pr.add_argument("customer", help="parameters/<customer>.yml (its credential reaches the MSP's tenant)")
    pr.add_argument("--apply", action="store_true", help="set the policy (default: say what would change)")
    pr.add_argument(
        "--lock", action="store_true", help="also lock it: irreversible, the blobs cannot be removed until they expire"
    )
    pr.set_defaults(func=cmd_evidence_protect)
    pp = sub.add_parser("params", help="parameter file commands").add_subparsers(dest="params_command", required=True)
    pv = pp.add_parser("validate", help=cmd_params_validate.__doc__)
    pv.add_argument("customer", help="customer name (parameters/<customer>.yml) or a path to a .yml file")
    pv.set_defaults(func=cmd_params_validate)
    sb = sub.add_parser("sandbox", help="the local sandbox tenant").add_subparsers(
        dest="sandbox_command", required=True
    )
    ss = sb.add_parser("serve", help=cmd_sandbox_serve.__doc__)
    ss.add_argument("--fixture", default="demo", help="demo, scale-<N>, or a fixture YAML path")
    ss.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ss.add_argument("--state-dir", default=str(PROJECT_ROOT / ".sandbox"))
    ss.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every call")
    ss.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 503")
    ss.add_argument("--drop-rate", type=float, default=0.0, help="share of calls whose connection is dropped")
    ss.add_argument(
        "--throttle", action="store_true", help="ARM token-bucket throttling per subscription (429 + Retry-After)"
    )
    ss.add_argument("--lro-retry-after", type=float, default=1.0, help="Retry-After seconds on long-running operations")
    ss.add_argument("--seed", type=int, default=0)
    ss.set_defaults(func=cmd_sandbox_serve)
    o = sub.add_parser("open", help=cmd_open.__doc__)
    o.add_argument("customer")
    o.add_argument("--stage", required=True, choices=[str(n) for n in range(5)], help="0-4")
    o.add_argument("--fresh", action="store_true", help="replace an existing working copy with a new one")
    o.add_argument("--lab", action="store_true", help="start JupyterLab on it (otherwise print the command or URL)")
    o.set_defaults(func=cmd_open)
    d = sub.add_parser("demo", help=cmd_demo.__doc__)
    d.add_argument(
        "customer",
        nargs="?",
        default="demo",
        choices=["demo", "demo-premium"],
        help="demo (Full Stack) or demo-premium",
    )
    d.add_argument(
        "--serve",
        action="store_true",
        help="keep the sandbox serving the onboarded tenant afterwards (for runbook drift, status, JupyterLab) until Ctrl-C",
    )
    d.set_defaults(func=cmd_demo)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 done, 1 failure, 2 bad input, 3 stage incomplete, 4 customer busy, 130 interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s: %(message)s"
    )  # the library logs; we show warnings
    try:
        return args.func(args)
    except errors.RunbookError as exc:  # the one place errors become messages and exit codes
        return report(exc)


def report(exc: BaseException) -> int:
    """Print an error as its one-line message (with the fix) on stderr; its exit code."""
    print(errors.describe(exc), file=sys.stderr)
    return errors.exit_code_of(exc)


if __name__ == "__main__":
    sys.exit(main())
