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
    "fixtures.record",
    "fixtures.report",
    "fixtures.ledger",
    "fixtures.mongo",
    "fixtures.restore",
    "fixtures.usage",
    "fixtures.alerts",
    "fixtures.outputs",
]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # pytest-benchmark creates its storage directory on every run: the project's, not the working directory's.
    if getattr(config.option, "benchmark_storage", None) == "file://./.benchmarks":
        config.option.benchmark_storage = f"file://{config.rootpath / '.benchmarks'}"
    if config.option.collectonly:  # listing the checks must not overwrite the last run's report
        return
    # Default report paths, unless given on the command line: the checklist's report is the one
    # for the sprint review, so a run of the suite's own tests writes beside it, not over it; under
    # the project root whatever the working directory (`cd checks && pytest` too).
    name = "report" if _runs_only_checks(config) else "tests"
    reports = Path("reports") if config.invocation_params.dir == config.rootpath else config.rootpath / "reports"
    if config.option.htmlpath is None:
        config.option.htmlpath = str(reports / f"{name}.html")
        config.option.self_contained_html = True
    if config.option.xmlpath is None:
        config.option.xmlpath = str(reports / f"{'junit' if name == 'report' else 'tests-junit'}.xml")


def _runs_only_checks(config: pytest.Config) -> bool:
    checks = config.rootpath / "checks"
    paths = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    return all(path == checks or checks in path.parents for path in paths)
