"""An interrupted run stops its kernel on purpose; nbclient's cell task left waiting on it ends with DeadKernelError
that nobody awaits, and asyncio would print that traceback on the terminal (a batch's Ctrl-C, a SIGTERM). The runner
drops that one record of asyncio's logger, and nothing else. Records are built as asyncio's default exception handler
builds them (its message, `exc_info` of the task's exception), so the test does not depend on the logger's level."""

from __future__ import annotations

import logging

from nbclient.exceptions import DeadKernelError

from runbook import runner


def record(exc: BaseException, message: str = "Task exception was never retrieved") -> logging.LogRecord:
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, f"{message}\nfuture: <Task finished>", None, (type(exc), exc, None)
    )


def test_the_filter_is_on_asyncios_logger():
    assert any(isinstance(f, runner._KilledKernelTask) for f in logging.getLogger("asyncio").filters)


def test_only_the_killed_kernels_orphan_task_is_dropped():
    keep = runner._KilledKernelTask().filter
    assert keep(record(DeadKernelError("Kernel died"))) is False
    assert keep(record(RuntimeError("something else"))) is True
    assert keep(record(DeadKernelError("Kernel died"), "Unhandled exception in event loop")) is True
    assert keep(logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "no exception", None, None)) is True
