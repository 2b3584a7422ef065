"""Every stop is obeyed: a SIGTERM whose raise CPython swallows (it landed in a finaliser) is raised again, and a
SIGTERM during the sandbox's teardown is one line and exit 2 (fixtures/signals.py, opschecks/interrupts.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
ROUNDS = 300


def test_no_sigterm_is_lost_while_http_responses_are_freed() -> None:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "stop_storm.py"), str(ROUNDS)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    outcomes: dict[str, int] = {}
    try:
        for n in range(ROUNDS):
            assert proc.stdout.readline() == f"ready {n}\n", proc.stderr.read()
            time.sleep(random.uniform(0.002, 0.02))  # a few calls in: anywhere in one
            proc.send_signal(signal.SIGTERM)
            outcome, _ = proc.stdout.readline().split()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert outcomes == {"stopped": ROUNDS}, f"of {ROUNDS} SIGTERMs: {outcomes}"
