"""Fixtures for the suite's own tests: one sandbox stack (unseeded) shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opschecks.sandbox import stack


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # The suite's own tests report beside, not over, the checklist's report.
    if config.option.htmlpath is None:
        config.option.htmlpath = "reports/tests.html"
        config.option.self_contained_html = True
    if config.option.xmlpath is None:
        config.option.xmlpath = "reports/tests-junit.xml"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[stack.Sandbox]:
    """Loopback moto, SecantusDB and fake Kubernetes API, with no data: each test seeds what it needs."""
    with stack.running(seed=False) as sb:
        yield sb
