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
from collections.abc import Iterator
from contextlib import contextmanager


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
