"""Run a command that dies with the process that started it: ``python -m opschecks.sandbox.child PID -- ARGV...``.

The sandbox's SecantusDB runs in its own process. ``Sandbox.stop`` ends it on
success, failure, Ctrl-C and SIGTERM; this covers the rest (the parent killed
with SIGKILL, or crashing): on Linux the kernel sends the command SIGKILL when
its parent goes (prctl PR_SET_PDEATHSIG, kept across exec), so no server is left
running re-parented to init. SIGKILL, not SIGTERM: the parent did not stop it
gracefully, so its data (in the parent's temp dir) is of no use to anyone, and
a graceful shutdown of a server with no one waiting for it can take long.
PID is the parent's, to catch a parent that died before the prctl. The signal
comes when the parent's *thread* that started the command ends: start servers
from the main thread. Elsewhere than Linux the command simply runs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main(argv: list[str]) -> None:
    parent, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: python -m opschecks.sandbox.child PARENT_PID -- COMMAND [ARG...]")
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            sys.exit(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != int(parent):
        sys.exit(0)  # the parent is already gone: nobody wants this server
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
