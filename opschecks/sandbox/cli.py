"""``python -m opschecks sandbox``: keep the sandbox up for the tools people already use.

Starts and seeds the stack as ``pytest --sandbox`` does, prints the variables
that point boto3/the aws CLI, kubectl, the suite and mongosh at it, and waits.
Ctrl-C or SIGTERM stops every server and removes the temp dir (exit 0); so
does any error while starting. Its ledger is ``reports/sandbox-ledger.sqlite``
under the project root, emptied at start, so ``pytest`` runs against it
and ``python -m opschecks due --sandbox`` agree.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from opschecks import clock
from opschecks.config import project_root
from opschecks.sandbox import stack
from opschecks.schema import ConfigError


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived: unwind so every server stops and the temp dir goes."""


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The signal that asked for a stop, recorded before it is raised: CPython drops an exception raised inside an
# object's finaliser (a freed HTTP response while seeding), so every step checks it again (_check_stop).
_asked: list[str] = []


def run(shift_days: float | None = None) -> int:
    if shift_days is not None:
        os.environ[clock.SHIFT_VAR] = f"{shift_days:g}"
    try:
        clock.shift()
    except ConfigError as exc:
        print(f"opschecks: {exc}", file=sys.stderr)
        return 2
    _asked.clear()
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in _SIGNALS}
    try:
        with _announce("starting moto, SecantusDB and the fake Kubernetes API"):
            sandbox = stack.start(seed=False, ledger=project_root() / stack.LEDGER)
        if sandbox.swept_line():
            print(sandbox.swept_line(), file=sys.stderr, flush=True)
        try:
            stack.seed_all(sandbox, _announce)
            _check_stop()
            print(exports(sandbox), flush=True)
            while not _asked:  # until a signal interrupts it (or its raise was lost: then the flag says so)
                time.sleep(0.2)
            _check_stop()
        finally:
            sandbox.stop()
    except Stopped as stop:
        print(f"sandbox: {stop}: stopped; every server is down and its temp dir removed", file=sys.stderr)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def exports(sandbox: stack.Sandbox) -> str:
    """Shell lines to paste in another terminal, then what to try."""
    lines = ["", "# The sandbox is up. In another shell, run:"]
    unset = [name for name, value in sandbox.env_vars.items() if value is None]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sandbox.env_vars.items() if value is not None]
    if unset:
        lines.append(f"unset {' '.join(unset)}")
    shifted = f" (its clock {clock.shift().days} days ahead)" if clock.shift() else ""
    lines += [
        "",
        f"# then try{shifted}:",
        "#   kubectl get pods -A          (contexts sandbox-dev, sandbox-staging, sandbox-prod)",
        "#   aws s3 ls s3://ingest-db-backup/prod/",
        "#   pytest -m daily              (checks against this sandbox, recorded in its ledger)",
        "#   python -m opschecks due --sandbox",
        f"# Ctrl-C or SIGTERM (pid {os.getpid()}) stops it and removes {sandbox.root}",
    ]
    return "\n".join(lines)


@contextmanager
def _announce(text: str) -> Iterator[None]:
    _check_stop()  # a safe point between steps
    print(f"sandbox: {text} ...", end="", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        yield
    except BaseException:
        print(" failed", file=sys.stderr, flush=True)
        raise
    print(f" done ({time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    for other in _SIGNALS:  # a second Ctrl-C or SIGTERM must not interrupt the clean-up this one starts
        signal.signal(other, signal.SIG_IGN)
    _asked.append(signal.Signals(signum).name)
    raise Stopped(_asked[0])


def _check_stop() -> None:
    if _asked:
        raise Stopped(_asked[0])
