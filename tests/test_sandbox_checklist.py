"""The README's first command: the whole checklist on the sandbox, in a subprocess, as a newcomer runs it."""

from __future__ import annotations

import glob
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).parent.parent
AREAS = sorted(p.stem.removeprefix("test_") for p in (ROOT / "checks").glob("test_*.py"))


@pytest.mark.e2e
def test_whole_checklist_passes_on_the_sandbox_under_xdist(tmp_path: Path) -> None:
    sandboxes_before = set(glob.glob(str(Path(tempfile.gettempdir()) / "opschecks-sandbox-*")))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--sandbox", "-n", "2", "-q",
         f"--html={tmp_path}/report.html", f"--junitxml={tmp_path}/junit.xml"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
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
    assert set(glob.glob(str(Path(tempfile.gettempdir()) / "opschecks-sandbox-*"))) <= sandboxes_before, \
        "the sandbox removed its temp dir"
