"""Fixtures for the suite's own tests: one sandbox stack (unseeded) shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opschecks.sandbox import stack


@pytest.fixture(scope="session")
def sandbox() -> Iterator[stack.Sandbox]:
    """Loopback moto, SecantusDB and fake Kubernetes API, with no data: each test seeds what it needs."""
    with stack.running(seed=False) as sb:
        yield sb
