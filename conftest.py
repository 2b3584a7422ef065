"""The checklist's pytest plugins (fixtures/) and report defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "fixtures.signals",
    "fixtures.sandbox",
    "fixtures.config",
    "fixtures.outcomes",
    "fixtures.clients",
    "fixtures.redaction",
    "fixtures.results",
    "fixtures.run_info",
    "fixtures.report",
    "fixtures.ledger",
    "fixtures.mongo",
    "fixtures.restore",
    "fixtures.usage",
    "fixtures.alerts",
]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Default report paths, unless given on the command line: the checklist's report is the one
    # for the sprint review, so a run of the suite's own tests writes beside it, not over it.
    if config.option.collectonly:  # listing the checks must not overwrite the last run's report
        return
    name = "report" if _runs_only_checks(config) else "tests"
    if config.option.htmlpath is None:
        config.option.htmlpath = f"reports/{name}.html"
        config.option.self_contained_html = True
    if config.option.xmlpath is None:
        config.option.xmlpath = f"reports/{'junit' if name == 'report' else 'tests-junit'}.xml"


def _runs_only_checks(config: pytest.Config) -> bool:
    checks = config.rootpath / "checks"
    paths = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    return all(path == checks or checks in path.parents for path in paths)
