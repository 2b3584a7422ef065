"""What a killed run leaves behind is removed by the next run, and nothing a live run or another host owns."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from opschecks.areas.restore import orphans


def _dead_owner() -> str:
    """The owner label of a process that ran on this host and has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    label = orphans.owner(proc.pid)
    proc.kill()
    proc.wait()
    assert label is not None
    return label


def test_an_owner_is_orphaned_only_when_its_process_on_this_host_is_gone() -> None:
    live = orphans.this_run()
    dead = _dead_owner()
    host, pid, started = live.split(":")
    assert host == socket.gethostname() and pid == str(os.getpid())
    assert not orphans.orphaned(live)
    assert orphans.orphaned(dead)
    assert orphans.orphaned(f"{host}:{pid}:{int(started) + 1}"), "a reused PID is another process: its owner is gone"
    assert not orphans.orphaned(f"another-host:{dead.split(':', 1)[1]}"), "another host's processes cannot be seen"
    assert not any(orphans.orphaned(label) for label in ("", "garbage", f"{host}:x:1"))


def test_sweep_removes_a_killed_runs_temp_dir_and_nothing_else(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    owners = {"killed": _dead_owner(), "live": orphans.this_run(),
              "elsewhere": f"another-host:{os.getpid()}:1", "unowned": None}
    for name, label in owners.items():
        folder = tmp_path / f"opschecks-restore-{name}"
        (folder / "extracted").mkdir(parents=True)
        if label is not None:
            (folder / orphans.OWNER_FILE).write_text(label)
    (tmp_path / "unrelated-killed").mkdir()
    (tmp_path / "unrelated-killed" / orphans.OWNER_FILE).write_text(owners["killed"])

    removed = orphans.sweep_temp_dirs("opschecks-restore-")

    assert removed == [f"temp dir {tmp_path / 'opschecks-restore-killed'} ({owners['killed']})"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "opschecks-restore-elsewhere", "opschecks-restore-live", "opschecks-restore-unowned", "unrelated-killed"]


def test_an_owned_temp_dir_names_this_run_and_is_removed_after(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with orphans.owned_temp_dir("opschecks-restore-") as work:
        assert (work / orphans.OWNER_FILE).read_text() == orphans.this_run()
        assert orphans.sweep_temp_dirs("opschecks-restore-") == [], "a live run's dir stays"
    assert list(tmp_path.iterdir()) == []
