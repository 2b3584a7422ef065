"""What a killed run leaves behind, and how the next run tells it is orphaned.

SIGKILL (the OOM killer, ``kill -9``, a lost node) runs no cleanup. So what a
drill makes outside its own process (a container, a temp dir of extracted
dumps) carries its owner: the host, the PID and that PID's start time. The next
run on the same host removes what belongs to an owner that is gone: never what
another host made (it cannot see that host's processes), never what a live run
owns (another environment's drill, another xdist worker), and never what names
no owner (an older version's, or one being created this instant).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWNER_FILE = ".opschecks-owner"  # in an owned temp dir: its owner


def owner(pid: int) -> str | None:
    """``<host>:<pid>:<start time>`` of a process of this host, None once it is gone.

    The start time (field 22 of /proc/<pid>/stat) tells a reused PID from the
    original; without /proc (not Linux) a PID that exists counts as the owner.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        started = stat.rsplit(")", 1)[1].split()[19]  # fields after the parenthesised name, which may hold spaces
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists, run by someone else
        started = "?"
    return f"{socket.gethostname()}:{pid}:{started}"


def this_run() -> str:
    label = owner(os.getpid())
    assert label is not None  # this process exists
    return label


def orphaned(label: str) -> bool:
    """Whether ``label`` names an owner of this host that is gone."""
    host, _, rest = label.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and owner(int(pid)) != label


def sweep_temp_dirs(prefix: str) -> list[str]:
    """Remove temp dirs named ``<prefix>*`` whose owner is gone; returns what was removed, for the report."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            label = (path / OWNER_FILE).read_text().strip()
        except OSError:
            continue  # no owner named: not ours to judge
        if orphaned(label):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"temp dir {path} ({label})")
    return removed


@contextmanager
def owned_temp_dir(prefix: str) -> Iterator[Path]:
    """A temp dir removed at the end, naming its owner so the next run removes it should this one be killed."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        (Path(tmp) / OWNER_FILE).write_text(this_run())
        yield Path(tmp)
