"""A production install (``pip install .``, no ``sandbox`` extra) lists and runs the checklist without moto or
SecantusDB; ``--sandbox`` there is one line naming the extra.

The interpreter runs with moto and SecantusDB made unimportable (a meta-path finder installed before anything
else is imported), which is what a venv without the extra looks like to the suite: every other dependency is the
same as the image's.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WITHOUT_EXTRA = textwrap.dedent("""
    import sys

    class _NoSandboxExtra:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("moto", "secantus"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoSandboxExtra())
    sys.argv = sys.argv[1:]
    import runpy
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
""")


def _run_without_extra(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _WITHOUT_EXTRA, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_the_blocker_really_hides_the_sandbox_extra() -> None:
    result = _run_without_extra("opschecks.sandbox.stack")
    assert result.returncode != 0 and "No module named 'moto'" in result.stderr


def test_the_checklist_collects_without_the_sandbox_extra() -> None:
    result = _run_without_extra("pytest", "--collect-only", "-q", "-m", "daily")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if line.startswith("checks/")]
    assert any("test_backups.py" in line for line in collected) and any("test_pods.py" in line for line in collected)


def test_due_works_without_the_sandbox_extra(tmp_path: Path) -> None:
    config = tmp_path / "opschecks.toml"
    config.write_text(f'[env.dev]\n[ledger]\npath = "{tmp_path / "ledger.sqlite"}"\n')
    result = _run_without_extra("opschecks", "due", f"--config={config}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_backups" in result.stdout


def test_sandbox_without_the_extra_is_one_line_naming_it() -> None:
    result = _run_without_extra("pytest", "--sandbox", "--collect-only", "-q")
    assert result.returncode == 4, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["ERROR: --sandbox: the sandbox needs the sandbox extra (No module named 'moto'): "
                     "pip install 'opschecks[sandbox]'"], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_due_sandbox_without_the_extra_is_one_line_naming_it() -> None:
    result = _run_without_extra("opschecks", "due", "--sandbox")
    assert result.returncode == 2
    assert result.stderr.strip() == ("opschecks: the sandbox needs the sandbox extra (No module named 'moto'): "
                                     "pip install 'opschecks[sandbox]'")
