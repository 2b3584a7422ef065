"""An installed pytest plugin (entry point ``pytest11``) that catches ``--config PATH`` written with a space.

``--config`` is the suite's option, added by its conftest plugins (fixtures/config.py).
pytest finds the project (rootdir, pyproject.toml, conftest.py) from the command
line *before* any plugin can add options, so it takes a PATH after a space for a
test path: outside the project it looks for the project there, never loads the
suite, and ends with a misleading "unrecognized arguments: --config". An installed
plugin is loaded early enough to see that and say, in one line, what to write.
Inside the project the space form works, and is left alone.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    for flag, value in zip(args, args[1:]):
        if flag != "--config":
            continue
        invoked = early_config.invocation_params.dir
        found = early_config.rootpath
        if early_config.inipath is None or (found != invoked and found not in invoked.parents):
            raise pytest.UsageError(
                f"--config {value}: write --config={value} (with '='): pytest reads a path after a space as a "
                f"test path, and looked for the project in {found} instead of {invoked}")
        return
