"""What a check's judgement returns, one shape for every area: its findings, the report's table, and what the
ledger remembers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opschecks.findings import Finding


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    columns: tuple[str, ...] = ()  # the table's header, where the area has one table (else the check names it)
    details: dict[str, Any] = field(default_factory=dict)  # the ledger's facts of the run
    subject: str = ""  # what was judged, where one verdict is of one thing (an EKS cluster's name)
