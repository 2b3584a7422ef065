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

from tests.signalled_run import run_and_signal

ROOT = Path(__file__).parent.parent
ROUNDS = 300


def test_no_sigterm_is_lost_while_http_responses_are_freed(tmp_path: Path) -> None:
    errors = (tmp_path / "stderr").open("w+")  # a file, not a pipe: the child can never block writing to it
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "stop_storm.py"), str(ROUNDS)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=errors, text=True)
    outcomes: dict[str, int] = {}
    try:
        for n in range(ROUNDS):
            assert proc.stdout.readline() == f"ready {n}\n", (tmp_path / "stderr").read_text()[-3000:]
            time.sleep(random.uniform(0.002, 0.02))  # a few calls in: anywhere in one
            proc.send_signal(signal.SIGTERM)
            outcome, _ = proc.stdout.readline().split()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errors.close()
    assert outcomes == {"stopped": ROUNDS}, f"of {ROUNDS} SIGTERMs: {outcomes}"


SELF_TERM = """
import os, signal, time

def {hook}():
    os.kill(os.getpid(), signal.SIGTERM)  # a real SIGTERM, at this moment of the teardown
    time.sleep(0.2)
"""


@pytest.mark.whole_stack
@pytest.mark.parametrize("hook", ["pytest_sessionfinish", "pytest_unconfigure"])
def test_sigterm_in_the_sandbox_teardown_is_one_line_and_exit_2(tmp_path: Path, hook: str) -> None:
    """The session is over, its reports or the sandbox's teardown running: the SIGTERM lets them finish."""
    (tmp_path / "selfterm.py").write_text(SELF_TERM.format(hook=hook))
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--sandbox", "--collect-only", "-q", "-p", "selfterm",
         "checks/test_upload_service.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", "TMPDIR": str(temp)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output and "Terminated" not in output, output
    assert "opschecks: SIGTERM: stopping once the clean-up under way is done" in output
    assert not list(temp.glob("opschecks-sandbox-*")), "the sandbox's teardown finished"


@pytest.mark.whole_stack
def test_sigterm_a_second_into_the_daily_checks_stops_the_run_with_exit_2(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    status, output = run_and_signal(["-m", "daily", "--sandbox", "-v", f"--html={tmp_path}/report.html",
                                     f"--junitxml={tmp_path}/junit.xml"], temp,
                                    lambda line: line.startswith("checks/") and "::" in line,  # -v: a check started
                                    after_s=1)
    assert status == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output, output
    assert "opschecks: PASSED" not in output, output  # the checks after the stop never ran
    assert not list(temp.glob("opschecks-sandbox-*")), "the sandbox removed its temp dir"


CAUGHT = """
import os, signal, time

def test_catches_the_stop():
    try:
        os.kill(os.getpid(), signal.SIG{name})
        time.sleep(1)
    except KeyboardInterrupt:
        pass  # as a finaliser swallows it, or a library's over-broad except

def test_next():
    pass
"""


@pytest.mark.parametrize("name", ["TERM", "INT"])
def test_a_stop_caught_by_the_check_is_raised_again_before_the_next(tmp_path: Path, name: str) -> None:
    (tmp_path / "test_caught.py").write_text(CAUGHT.format(name=name))
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "fixtures.signals", "-v", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), str(tmp_path / "test_caught.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == pytest.ExitCode.INTERRUPTED, result.stdout + result.stderr
    assert "test_next" not in result.stdout, result.stdout


FINALISER = """
import os, signal, time, weakref


class Response:
    def __del__(self):
        {finaliser}


def _close():
    os.kill(os.getpid(), signal.SIGTERM)  # a real SIGTERM, landing while the finaliser runs
    time.sleep(0.01)


def test_frees_a_response():
    response = Response()
    {register}
    del response  # freed here: its finaliser runs, and the SIGTERM lands in it
    time.sleep(5)  # the stop interrupts the check it arrived in, here
    open("slept-on", "w").close()


def test_next():
    pass
"""


@pytest.mark.parametrize("finaliser, register", [("_close()", "pass"), ("pass", "weakref.finalize(response, _close)")],
                         ids=["__del__", "weakref.finalize"])
def test_a_stop_landing_in_a_finaliser_interrupts_its_check_without_a_traceback(
        tmp_path: Path, finaliser: str, register: str) -> None:
    """Raised inside the finaliser, CPython would drop it ("Exception ignored in ...", a traceback on stderr) and
    the check would run on to its end; the stop is sent again once the finaliser has returned."""
    source = FINALISER.format(finaliser=finaliser, register=register)
    (tmp_path / "test_freed.py").write_text(source)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "fixtures.signals", "-v", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), str(tmp_path / "test_freed.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Exception ignored" not in output and "Traceback" not in output, output
    assert not (tmp_path / "slept-on").exists(), "the check ran on to its end: the stop took effect only after it"
    assert "test_next" not in output, output


IN_ENTER = """
import os, signal, threading, time


class Guarded:
    \"\"\"As threading.Condition (queue.Queue, urllib3's pool): __enter__ takes a lock, __exit__ gives it back.\"\"\"

    def __init__(self):
        self.lock = threading.Lock()

    def __enter__(self):
        self.lock.acquire()
        os.kill(os.getpid(), signal.SIGTERM)  # a real SIGTERM, landing after the acquire, before __enter__ returns
        return self

    def __exit__(self, *exc):
        self.lock.release()


def test_takes_a_lock():
    guarded = Guarded()
    try:
        with guarded:
            time.sleep(5)  # the stop interrupts the check here, inside the with
    finally:
        open("released" if guarded.lock.acquire(timeout=1) else "leaked", "w").close()
"""


def test_a_stop_landing_in_a_context_managers_enter_leaves_no_lock_taken(tmp_path: Path) -> None:
    """Raised inside ``__enter__`` after its acquire, the ``with`` never starts and the lock is never released:
    the clean-up the stop starts then hangs on it (a sandbox run hung so, in urllib3's connection pool)."""
    (tmp_path / "test_lock.py").write_text(IN_ENTER)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "fixtures.signals", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), str(tmp_path / "test_lock.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == pytest.ExitCode.INTERRUPTED, result.stdout + result.stderr
    assert (tmp_path / "released").exists() and not (tmp_path / "leaked").exists()
