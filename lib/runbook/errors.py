"""Every user-facing error of the runbook, each with its exit code and a fix, and the one place that turns an error
into a message and an exit code (the CLI and the notebook bootstrap both use `describe` / `exit_code_of`).

This module imports nothing of the runbook: every layer may raise these errors.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_BUSY = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # SIGINT or SIGTERM; the evidence so far is sealed as 'interrupted'


class RunbookError(Exception):
    """An error the runbook reports to people: one line, what happened and the fix. Exit code 1 unless overridden."""

    exit_code = EXIT_FAILED


class InputError(RunbookError, ValueError):
    """Bad input (parameter file, workbook, secret reference): nothing ran against Azure. Exit code 2."""

    exit_code = EXIT_BAD_INPUT


class ParameterError(InputError):
    """A parameter file is invalid; the message lists every problem with file, field and fix."""


class StepInputError(InputError):
    """A step cannot run because of its inputs (parameters, a marked workbook); the message says the fix."""


class GitError(StepInputError):
    """A git operation on the customer's repository failed; the message is git's own last line (no secret)."""


class SheetError(StepInputError):
    """The Manageable Resource Sheet cannot be used as it is; the message names the rows and the fix."""


class SecretError(InputError):
    """A secret reference cannot be read or written here."""


class TargetError(RunbookError):
    """The tenant the run should talk to cannot be reached or is not configured (exit 1, with the fix)."""


class StageGateError(RunbookError):
    """An earlier stage still has items that are not fulfilled or not-required (exit 3)."""

    exit_code = EXIT_INCOMPLETE

    def __init__(self, stage: int, blocking: list[str]) -> None:
        self.stage, self.blocking = stage, blocking
        super().__init__(
            f"stage {stage} cannot start: stage {stage - 1} still has {len(blocking)} item(s) not done: {', '.join(blocking)}. Fix: finish them, or re-run with --force (the evidence will say it was forced)."
        )


class ApprovalRequired(RunbookError):
    """Four eyes: an apply whose reviewed plan has no valid approval by a second person (exit 3, a closed gate)."""

    exit_code = EXIT_INCOMPLETE


class EvidenceError(RunbookError):
    """Evidence could not be archived (e.g. a secret was found) or fails verification."""


class CustomerBusy(RunbookError):
    """Another run of the same customer holds the lock (exit 4)."""

    exit_code = EXIT_BUSY

    def __init__(self, customer: str, holder: dict, lock: str = ".run.lock") -> None:
        self.holder = holder
        super().__init__(
            f"customer '{customer}' is already being run by {holder.get('user')} on {holder.get('host')} (pid {holder.get('pid')}, since {holder.get('started')}, {holder.get('what')}). Fix: wait for it to finish; if that process is gone from another machine, remove {lock} in the customer's evidence folder."
        )


class ScopeFailure(str):
    """A part a step could not handle while the others went on, as its one line "<scope>: <what failed and why>";
    the scope (an ARM id or path such as /subscriptions/<id>, or an item id) is kept as data, never parsed back."""

    scope: str
    text: str

    def __new__(cls, scope: str, text: str) -> ScopeFailure:
        self = super().__new__(cls, f"{scope}: {text}")
        self.scope, self.text = scope, text
        return self

    def __reduce__(self) -> tuple[type[ScopeFailure], tuple[str, str]]:
        return (ScopeFailure, (self.scope, self.text))

    def __deepcopy__(self, memo: dict) -> str:
        """A record (dataclasses.asdict, the evidence) keeps the line as a plain string."""
        return str(self)

    @property
    def subscription(self) -> str:
        """The scope's subscription as '/subscriptions/<id>' in lower case ('' for a scope outside one)."""
        parts = self.scope.split("/")
        return f"/subscriptions/{parts[2]}".lower() if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


class PartialFailure(RunbookError):
    """Some scopes of a step failed while the others went on; each message names the scope, what failed and why."""

    def __init__(self, failures: Sequence[str]) -> None:
        super().__init__(
            f"{len(failures)} part(s) failed: " + "; ".join(failures[:3]) + (" ..." if len(failures) > 3 else "")
        )
        self.failures = list(failures)


def exit_code_of(exc: BaseException) -> int:
    """The exit code an error stands for (1 for anything unexpected)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return exc.exit_code if isinstance(exc, RunbookError) else EXIT_FAILED


def describe(exc: BaseException) -> str:
    """The one-line message people see (the multi-line parameter report stays one problem per line)."""
    return f"error: {exc}" if isinstance(exc, RunbookError) else f"error: {type(exc).__name__}: {exc}"


class ConnectorInputError(InputError):
    """An external system a connector reads (HubSpot, TOPdesk, ...) refused what the runbook gave it: the MSP's
    credential (401/403) or an id in the customer file (404). One line: the system, what failed, the fix (exit 2)."""


class ConnectorCredentialError(ConnectorInputError):
    """The system refused the connector's credential, or the credential lacks a permission the read needs."""


class ConnectorNotFound(ConnectorInputError):
    """The system has no record with the id the customer file names (a company, a branch)."""


class ConnectorTargetError(TargetError):
    """An external system a connector reads cannot be reached, keeps throttling, or answered outside its protocol
    (exit 1, with the fix)."""


class ConnectorUnreachable(ConnectorTargetError):
    """Nothing answered at the system's URL (DNS, connection refused, TLS, timeout)."""


class ConnectorThrottled(ConnectorTargetError):
    """The system kept answering 429 after the waits it asked for (Retry-After, its rate-limit headers)."""
