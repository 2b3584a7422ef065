"""The README's first command: the whole checklist on the sandbox, in a subprocess, as a newcomer runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).parent.parent
AREAS = sorted(p.stem.removeprefix("test_") for p in (ROOT / "checks").glob("test_*.py"))


@pytest.mark.whole_stack
def test_whole_checklist_passes_on_the_sandbox_under_xdist(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"  # its own TMPDIR: other runs on the machine start and stop sandboxes meanwhile
    temp.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--sandbox", "-n", "2", "-q",
         f"--html={tmp_path}/report.html", f"--junitxml={tmp_path}/junit.xml"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env={**os.environ, "TMPDIR": str(temp)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    cases = ElementTree.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    by_area: dict[str, set[str]] = {}
    for case in cases:
        area = case.get("classname", "").split(".")[-1].removeprefix("test_")
        by_area.setdefault(area, set()).add(case.get("name", ""))
    assert sorted(by_area) == AREAS, "every checklist area ran"
    for area, names in by_area.items():
        envs = {n.split("[")[-1].rstrip("]") for n in names if "[" in n}
        assert envs & {"dev", "staging", "prod"}, f"{area} ran per environment: {names}"

    report = (tmp_path / "report.html").read_text()
    assert all(f"test_{area}.py" in report for area in AREAS)
    # Every worker drills in the sandbox's SecantusDB, even where a container engine answers (CI has one).
    assert report.count("into MongoDB 127.0.0.1:") >= 3 and "into container " not in report
    assert not list(temp.glob("opschecks-sandbox-*")), "the sandbox removed its temp dir"


@pytest.mark.whole_stack
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("moment", ["while seeding", "while checking"])
def test_ctrl_c_stops_the_sandbox_leaving_no_process_and_no_temp_dir(tmp_path: Path, moment: str,
                                                                     sig: signal.Signals) -> None:
    """SIGINT or SIGTERM (what Kubernetes and CI cancellation send) to `pytest --sandbox`: during set-up or
    mid-run, every server stops (SecantusDB's process too) and the temp dir is removed."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--sandbox", "-q", "checks/test_upload_service.py",
         f"--html={tmp_path}/report.html", f"--junitxml={tmp_path}/junit.xml"],
        cwd=ROOT, env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        root = _wait_for(lambda: next(temp.glob("opschecks-sandbox-*/secantusdb.log"), None), proc).parent
        if moment == "while checking":  # the upload drill's set-up is a subprocess, in flight for a while
            _wait_for(lambda: "upload_infra.py" in _descendants_cmdlines(proc.pid), proc)
        os.kill(proc.pid, sig)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert not root.exists(), "the sandbox's temp dir is gone"
    assert not [cmd for cmd in _all_cmdlines() if str(root) in cmd], "no sandbox process is left"


def _wait_for(probe, proc: subprocess.Popen, timeout: float = 120):  # noqa: ANN001, ANN202 (any probe)
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def _cmdline(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # the process ended while we looked
        return ""


def _all_cmdlines() -> list[str]:
    return [_cmdline(path.name) for path in Path("/proc").glob("[0-9]*")]


def _descendants_cmdlines(pid: int) -> str:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return ""
    return " ".join(_cmdline(child) + " " + _descendants_cmdlines(int(child)) for child in children)
