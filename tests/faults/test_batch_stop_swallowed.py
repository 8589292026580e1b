"""A batch's stop raised in a task's thread at a moment Python swallows it (a `__del__`, a gc callback).

The stop watcher raises `runner.BatchStopped` in the task's thread with `PyThreadState_SetAsyncExc`, at whatever
bytecode that thread runs next. CI once met the case where that was distributed's gc callback: Python printed
"Exception ignored in ..." with a traceback and the notebook went on. Here the first raise is made to land in a
`__del__` for certain; the stop must still reach the notebook's execution, and nothing be printed.
"""

from __future__ import annotations

import sys
import threading
import time

import papermill.execute

from runbook import batch, runner


def test_a_stop_python_swallowed_is_raised_again_and_not_printed(monkeypatch, capsys):
    in_del, outcome = threading.Event(), {}

    class SpinsWhenCollected:
        def __del__(self) -> None:
            in_del.set()
            while True:  # only an exception ends this, and Python swallows any raised here
                pass

    def execute_notebook(*args: object, **kwargs: object) -> None:  # stands in for papermill's: the watcher's mark
        obj = SpinsWhenCollected()
        del obj
        outcome["left_del"] = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.01)

    monkeypatch.setattr(papermill.execute, "execute_notebook", execute_notebook)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # restored after the test

    def task() -> None:
        try:
            papermill.execute.execute_notebook()
            outcome["ended"] = "ran to its end"
        except runner.BatchStopped:
            outcome["ended"] = "stopped"

    stop = threading.Event()
    thread = threading.Thread(target=task, daemon=True)
    thread.start()
    assert thread.ident is not None
    batch._unraisable_stop_quiet()
    watcher = batch._Watcher(stop, thread.ident)
    watcher.start()
    assert in_del.wait(5)
    stop.set()  # the batch is stopped while the thread is inside __del__: the first raise is swallowed there
    thread.join(15)
    watcher.done.set()
    watcher.join(5)
    assert outcome == {"left_del": True, "ended": "stopped"}
    captured = capsys.readouterr()
    assert "Exception ignored" not in captured.err and "Traceback" not in captured.err, captured.err


def test_other_unraisable_exceptions_still_reach_the_hook_that_was_there(monkeypatch):
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(type(u.exc_value)))
    batch._unraisable_stop_quiet()
    batch._unraisable_stop_quiet()  # a second task in the same worker does not wrap it twice

    class Fails:
        def __del__(self) -> None:
            raise ValueError("in __del__")

    class Stops:
        def __del__(self) -> None:
            raise runner.BatchStopped("in __del__")

    Fails()
    Stops()
    assert seen == [ValueError]


class SchedulerEvent:
    """A stop event as the scheduler serves it: `is_set` answers at once; `wait(timeout)` is a call to the scheduler
    that nothing on this side can cut short (here: one that does not come back for a minute)."""

    def __init__(self) -> None:
        self.questions = 0

    def is_set(self) -> bool:
        self.questions += 1
        return False

    def wait(self, timeout: float | None = None) -> bool:
        time.sleep(60)
        return False


def test_a_finished_tasks_watcher_ends_with_it_not_with_its_call_to_the_scheduler():
    # the task's `finally` joins its watcher: a watcher inside the event's `wait(timeout)` held every task's end for
    # that timeout (0.2 s a customer on average with 0.5 s, a fifth of a small customer's run on two workers)
    event = SchedulerEvent()
    watcher = batch._Watcher(event, threading.get_ident())
    watcher.start()
    deadline = time.monotonic() + 5
    while event.questions == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert event.questions >= 1  # it does ask the scheduler
    watcher.done.set()
    watcher.join(5)
    assert not watcher.is_alive()
