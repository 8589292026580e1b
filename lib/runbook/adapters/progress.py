"""Progress for long steps: a tqdm bar in notebooks, a plain line every 10% elsewhere (logs stay readable)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BATCH_ENV = "RUNBOOK_BATCH"  # set by the runner: the notebook runs under papermill, lines beat widgets
ONLY_ITEM_ENV = "RUNBOOK_ONLY_ITEM"  # set by `runbook run --item`: the stage notebook runs that one item only


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel (interactive or papermill)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _Lines:
    """A text progress bar, one line per 10% step on stdout (not stderr: it is not an error in the evidence)."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.n, self.next_mark, self.start = total, desc, 0, 0.1, time.monotonic()

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.total and (self.n / self.total >= self.next_mark or self.n == self.total):
            while self.next_mark <= self.n / self.total:
                self.next_mark += 0.1
            done = int(20 * self.n / self.total)
            print(
                f"{self.desc} [{'#' * done}{'.' * (20 - done)}] {self.n}/{self.total} ({time.monotonic() - self.start:.1f} s)",
                flush=True,
            )


@contextmanager
def progress(total: int, desc: str) -> Iterator[Any]:
    """A progress reporter with `.update(n)`, suited to where the code runs."""
    if total == 0:
        yield _Lines(0, desc)
        return
    if in_notebook() and not os.environ.get(BATCH_ENV):
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=desc, mininterval=1.0) as bar:
            yield bar
    else:
        yield _Lines(total, desc)
