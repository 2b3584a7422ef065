"""Fixtures for the suite's own tests: the sandbox stack, and throwaway checklist projects to run checks in."""

from __future__ import annotations

import importlib
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opschecks.sandbox import stack
from opschecks.sandbox.ingest import Certificates, FakeIngest, make_certificates

# The report's plots import matplotlib, hence numpy, whose C extension loads once per process: pytester's
# in-process runs forget the modules imported inside them, so the second run's import would fail. Imported here,
# outside every run, it stays (``pytest tests/test_restore_drill.py`` alone failed from its second drill on).
importlib.import_module("opschecks.record.trends")

ROOT = Path(__file__).resolve().parent.parent
INGEST_TOKEN = "t0ken-for-tests"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[stack.Sandbox]:
    """Loopback moto, SecantusDB and fake Kubernetes API, with no data: each test seeds what it needs."""
    with stack.running(seed=False) as sb:
        yield sb


@pytest.fixture
def sandbox_env(sandbox: stack.Sandbox, monkeypatch: pytest.MonkeyPatch) -> stack.Sandbox:
    """The sandbox, with AWS, Kubernetes and MongoDB variables pointing at it (as ``--sandbox`` sets them),
    for this test and the pytest runs it starts; the config stays the test's own."""
    for name, value in sandbox.env_vars.items():
        if name == "OPSCHECKS_CONFIG":
            continue
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return sandbox


@dataclass
class Checklist:
    """A throwaway project laid out like this one (our conftest.py and pyproject.toml, a checks/ folder),
    for running real or test-made check modules through pytester, in process or in a subprocess."""

    pytester: pytest.Pytester
    monkeypatch: pytest.MonkeyPatch

    @property
    def path(self) -> Path:
        return self.pytester.path

    def config(self, text: str) -> Path:
        """Write opschecks.toml (dedented) and return its path."""
        path = self.path / "opschecks.toml"
        path.write_text(textwrap.dedent(text))
        return path

    def check(self, area: str, source: str | None = None) -> Path:
        """Add checks/test_<area>.py: ``source``, or else this project's real check module of that area."""
        path = self.path / "checks" / f"test_{area}.py"
        if source is None:
            shutil.copy(ROOT / "checks" / path.name, path)
        else:
            path.write_text(textwrap.dedent(source))
        return path

    def lay_out(self, config: str, checks: dict[str, str]) -> Path:
        """Write the config and check modules (area -> source); returns the project's path."""
        self.config(config)
        for area, source in checks.items():
            self.check(area, source)
        return self.path

    def run(self, *args: str, subprocess: bool = False) -> pytest.RunResult:
        if subprocess:
            return self.pytester.runpytest_subprocess(*args, timeout=300)
        return self.pytester.runpytest(*args)

    def report_html(self) -> str:
        return (self.path / "reports" / "report.html").read_text()


@pytest.fixture
def checklist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Checklist:
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, pytester.path / name)
    (pytester.path / "checks").mkdir()
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # for subprocess runs; in process, pytest already put ROOT first
    for name in ("OPSCHECKS_CONFIG", "OPSCHECKS_MONGO_URI", "OPSCHECKS_WEBHOOK_URL", "OPSCHECKS_REPORT_URL"):
        monkeypatch.delenv(name, raising=False)
    return Checklist(pytester, monkeypatch)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA and the loopback Ingest hosts' certificates it signed."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def ingest(certs: Certificates) -> Iterator[FakeIngest]:
    """The loopback Ingest UI, broker and API over TLS, answering writes that carry INGEST_TOKEN."""
    fake = FakeIngest(certs, INGEST_TOKEN, time_scale=0.2)
    fake.start()
    yield fake
    fake.stop()
