"""The local sandbox stack: loopback servers seeded with realistic data.

Its modules import moto and SecantusDB, the ``sandbox`` extra, which a production install (the image, a CI job
that checks real infrastructure) does not have: nothing outside this package imports them at load time. Entry
points reach the stack through :func:`load_stack`, which says in one line which extra is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from opschecks.schema import ConfigError


def load_stack() -> ModuleType:
    """``opschecks.sandbox.stack``, or a ConfigError naming the extra when one of its packages is missing."""
    try:
        return importlib.import_module("opschecks.sandbox.stack")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "opschecks":  # our own import error: a bug, not a missing extra
            raise
        raise ConfigError(f"the sandbox needs the sandbox extra (No module named {exc.name!r}): "
                          "pip install 'opschecks[sandbox]'") from None
