"""The benchmarks run first when a session also runs the suite's tests (``pytest tests benchmarks``, as CI does).

A restore drill runs in a fresh process (``pytest checks/test_restore.py``, the CronJob). Run after the suite's
~560 tests, the benchmark measured a process carrying what they left: 2.3 million GC-tracked objects, the
session's in-process sandbox servers and their threads. There the built-in restorer, the one arm that does
Python work per document, reached 0.80 of the server's ceiling (1.21x insert_many), against 0.95 (1.45x) in a
fresh session (docs/restore.md). The insert_many arms, whose documents are already in memory, did not move.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.path.is_relative_to(HERE))  # stable: each part keeps its order
