"""The checklist's pytest plugins (fixtures/) and report defaults."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "fixtures.sandbox",
    "fixtures.config",
    "fixtures.outcomes",
    "fixtures.clients",
    "fixtures.report",
    "fixtures.ledger",
    "fixtures.mongo",
    "fixtures.restore",
]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Default report paths, unless given on the command line (tests/conftest.py picks its own).
    if config.option.htmlpath is None:
        config.option.htmlpath = "reports/report.html"
        config.option.self_contained_html = True
    if config.option.xmlpath is None:
        config.option.xmlpath = "reports/junit.xml"
