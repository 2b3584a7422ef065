"""Holding Ctrl-C and SIGTERM over a step that must not be cut in half.

Some steps leave something behind when a signal lands in their middle: a create
whose answer (the id to delete) is lost, a container removal stopped half way.
``held()`` records SIGINT/SIGTERM while the block runs, then calls the handlers
that were in force (KeyboardInterrupt, or the suite's SIGTERM handling), so the
interrupt still happens, once the step is whole.
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def held() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # Python runs handlers in the main thread only
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), caught[0])


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled everywhere as Ctrl-C is."""


class _Stop:
    """The stop asked for (SIGINT/SIGTERM), recorded before it is raised, and whether it has taken effect.

    A raise can be lost: CPython swallows an exception raised inside an object's finaliser (an HTTP response or a
    GzipFile freed mid-call, which every AWS and Kubernetes call does) and prints "Exception ignored in ...". So a
    stop counts as delivered only once the run's own code has seen it (``seen``); until then ``check_stop`` raises
    it again at every safe point.
    """

    signum: int | None = None
    delivered: bool = False
    raises: int = 0  # how often it was raised: a raise already on its way needs no second one (ask_again)


_stop = _Stop()


@contextmanager
def run() -> Iterator[None]:
    """A run in this process: no stop asked for yet; the one around it (pytest.main called by a test) is back after."""
    global _stop
    outer, _stop = _stop, _Stop()
    try:
        yield
    finally:
        _stop = outer


def record(signum: int) -> None:
    if _stop.signum is None:
        _stop.signum = signum


def recorded() -> int | None:
    """The signal of the stop asked for, None when none was."""
    return _stop.signum


def recorded_name() -> str | None:
    """The stop's signal by name (SIGTERM, SIGINT), None when none was asked for."""
    signum = _stop.signum
    return signal.Signals(signum).name if signum is not None else None


def forget() -> None:
    """The stop was caught on purpose (the suite's own tests of Ctrl-C handling, in process): nothing to raise again."""
    _stop.signum, _stop.delivered = None, False


def seen() -> None:
    """The stop's exception reached the run's own code: it has taken effect."""
    if _stop.signum is not None:
        _stop.delivered = True


def pending() -> bool:
    """A stop was asked for and has not been seen to take effect (its raise may have been swallowed)."""
    return _stop.signum is not None and not _stop.delivered


def stop_exception(signum: int) -> KeyboardInterrupt:
    """The exception to raise for this stop (counted as raised: see ask_again)."""
    _stop.raises += 1
    if signum == signal.SIGTERM:
        return Terminated("SIGTERM: stopping as for Ctrl-C, cleaning up first")
    return KeyboardInterrupt()


def check_stop() -> None:
    """A safe point (between checks, in long waits, before a write): raise a stop whose first raise was lost."""
    if pending():
        raise stop_exception(_stop.signum)  # type: ignore[arg-type] (pending: not None)


def unsafe_to_raise(frame: FrameType | None) -> bool:
    """Where a raise would do harm rather than stop the run:

    - in a Python-level finaliser (a ``__del__``, a ``weakref.finalize`` callback), which drops the exception with an
      "Exception ignored in" traceback on stderr (a C-level finaliser, an io object's, calls no frame to see: it
      drops the exception silently, and the next safe point raises it again);
    - in a context manager's ``__enter__`` or ``__exit__``: raised there, after ``__enter__`` took a lock
      (``threading.Condition``, which ``queue.Queue`` and urllib3's connection pool use) and before it returned, the
      ``with`` never starts and the lock is never released, so the clean-up the stop starts hangs on it.
    """
    if frame is not None and frame.f_code.co_name in ("__enter__", "__exit__"):
        return True
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or (code.co_name == "__call__" and code.co_filename == weakref.__file__):
            return True
        frame = frame.f_back
    return False


def ask_again(signum: int, handler: Callable[[int, FrameType | None], None], after_s: float = 0.05) -> None:
    """Send ``signum`` to the main thread again shortly, once the finaliser has returned, so the stop is raised in
    the code it interrupts; not when it was raised meanwhile, or ``handler`` is no longer in force (the default
    action would kill the process)."""
    stop, raises = _stop, _stop.raises

    def again() -> None:
        # Not once a safe point has raised it meanwhile: a second raise would cut that raise's clean-up short.
        if stop is _stop and stop.raises == raises and pending() and signal.getsignal(signum) is handler:
            signal.pthread_kill(threading.main_thread().ident, signum)  # type: ignore[arg-type] (running: has one)

    timer = threading.Timer(after_s, again)
    timer.daemon = True
    timer.start()
