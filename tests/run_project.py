"""A throwaway checklist project for pytester: the suite's real plugins, a config and check modules you give.

Runs pytest in a subprocess (so pytest-xdist workers and environment
variables behave as in CI) with this worktree on PYTHONPATH.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INI = """[pytest]
addopts = -p no:cacheprovider --strict-markers
markers =
    daily: runs every day
    fortnightly: runs every two weeks
    monthly: runs once a month
    sprint: runs once per sprint
"""


def make(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, config: str, checks: dict[str, str]) -> Path:
    """Lay out conftest.py, pytest.ini, opschecks.toml and checks/test_<area>.py; returns the project dir."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name in ("OPSCHECKS_CONFIG", "OPSCHECKS_WEBHOOK_URL", "OPSCHECKS_REPORT_URL"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "pytest.ini").write_text(INI)
    (pytester.path / "opschecks.toml").write_text(config)
    (pytester.path / "checks").mkdir()
    for area, source in checks.items():
        (pytester.path / "checks" / f"test_{area}.py").write_text(source)
    return pytester.path


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=120)


def report_html(project: Path) -> str:
    return (project / "reports" / "report.html").read_text()
