"""An interrupted run stops its kernel on purpose; nbclient's cell task left waiting on it ends with DeadKernelError
that nobody awaits, and asyncio would print that traceback on the terminal (a batch's Ctrl-C, a SIGTERM). The runner
drops that one record of asyncio's logger, and nothing else."""

from __future__ import annotations

import asyncio
import gc
import logging

from nbclient.exceptions import DeadKernelError

from runbook import runner  # noqa: F401  (installs the filter)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def orphan_task_failing_with(exc: BaseException) -> None:
    async def cell() -> None:
        raise exc

    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(cell())
        loop.run_until_complete(asyncio.sleep(0))  # the task ends with its exception; nobody awaits it
        assert task.done()
    finally:
        loop.close()
    del task
    gc.collect()


def test_only_the_killed_kernels_orphan_task_is_silenced():
    handler = Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        orphan_task_failing_with(DeadKernelError("Kernel died"))
        assert handler.messages == []
        orphan_task_failing_with(RuntimeError("something else"))
        assert len(handler.messages) == 1 and "never retrieved" in handler.messages[0]
    finally:
        logger.removeHandler(handler)
