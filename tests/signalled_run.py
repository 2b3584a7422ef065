"""A whole `pytest` run in a child process, stopped by a real signal once its output shows a given line
(tests/test_stops.py, tests/test_interrupted_outputs.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run_and_signal(args: list[str], temp: Path, when: Callable[[str], bool], after_s: float = 0.0,
                   sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
    """Run ``pytest args`` from the project root with TMPDIR=``temp``; send ``sig`` ``after_s`` seconds after the
    first output line for which ``when`` is true. Returns the exit status and the whole output."""
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT, env={**os.environ, "TMPDIR": str(temp)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if when(line):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(timeout=300), "".join(lines)
        time.sleep(after_s)
        proc.send_signal(sig)
        proc.wait(timeout=300)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines)
