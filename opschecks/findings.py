"""Findings: what a check found wrong, each with a stable code (as Popeye does).

A check collects every finding and fails once listing all of them, so the
person on call sees every unhealthy pod or broken backup, not just the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    code: str  # stable, e.g. "BKP001"; documented where the rule is defined
    where: str  # env and location, e.g. "prod s3://ingest-db-backup/prod/"
    message: str  # what was expected and what was found

    def __str__(self) -> str:
        return f"[{self.code}] {self.where}: {self.message}"


class ChecksFailed(AssertionError):
    """Raised by ``fail_on`` with every finding, one per line; ``findings`` keeps them for the report, the ledger
    and the machine outputs."""

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


def fail_on(findings: Iterable[Finding]) -> None:
    findings = list(findings)
    if findings:
        count = f"{len(findings)} finding{'s' if len(findings) > 1 else ''}"
        raise ChecksFailed(f"{count}:\n" + "\n".join(f"  {f}" for f in findings), findings)
