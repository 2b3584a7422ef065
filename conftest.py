"""The checklist's pytest plugins (fixtures/) and report defaults."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
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
    "fixtures.interrupted",
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
    _refuse_unwritable_outputs(config)


def _refuse_unwritable_outputs(config: pytest.Config) -> None:
    """A report folder that cannot be written (read-only, or a file in its place) is one line and exit 2 before
    any check runs, not a traceback from the report writers at the end."""
    paths = [config.option.htmlpath, config.option.xmlpath, getattr(config.option, "opschecks_json", None),
             getattr(config.option, "metrics_file", None)]
    for folder in dict.fromkeys(Path(config.invocation_params.dir, p).parent for p in paths if p):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".opschecks-write-test-"):
                pass
        except OSError as exc:
            why = "not a folder" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror or exc
            pytest.exit(f"opschecks: cannot write the run's reports in {folder}: {why}; "
                        "make it writable or give other paths (--html, --junitxml, --json, --metrics-file)",
                        returncode=pytest.ExitCode.INTERRUPTED)


def _runs_only_checks(config: pytest.Config) -> bool:
    checks = config.rootpath / "checks"
    paths = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    return all(path == checks or checks in path.parents for path in paths)



@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """A run that selects nothing (a mistyped ``-m daly``, which pytest refuses as a usage error, or a ``-k``
    matching no check) writes no report: the last real run's HTML report and JUnit XML stay as they were, instead
    of an empty "0 failed" one over them. (Under pytest-xdist the controller collects nothing itself: there only
    the usage error is covered.)"""
    try:
        result = yield
    except pytest.UsageError:
        _keep_last_reports(session.config)
        raise
    config = session.config
    if not session.items and not config.option.collectonly and not config.pluginmanager.has_plugin("dsession"):
        _keep_last_reports(config)
    return result


def _keep_last_reports(config: pytest.Config) -> None:
    """Unregister the HTML and JUnit writers before the session ends (they write at its finish)."""
    from _pytest.junitxml import xml_key
    from pytest_html.basereport import BaseReport

    kept = []
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport):
            config.pluginmanager.unregister(plugin)
            kept.append(config.option.htmlpath)
    junit = config.stash.get(xml_key, None)
    if junit is not None:
        config.pluginmanager.unregister(junit)
        del config.stash[xml_key]
        kept.append(config.option.xmlpath)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if kept and reporter is not None:
        reporter.write_line(f"opschecks: no check selected: {' and '.join(map(str, kept))} left as the last run "
                            "wrote them", yellow=True)
