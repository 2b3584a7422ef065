"""A finding code's declaration (a leaf: each area's codes.py and the areas' records import it; the glossary
that gathers them all is opschecks/codes.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SEVERITIES = ("critical", "warning", "info")  # heaviest first


@dataclass(frozen=True)
class Code:
    code: str  # e.g. "BKP001"
    severity: str  # one of SEVERITIES
    title: str  # what it means, in a few words
    first: str  # what the person on call does first

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")


def codes(rows: Iterable[tuple[str, str, str, str]]) -> tuple[Code, ...]:
    """An area's codes from (code, severity, title, first) rows."""
    return tuple(Code(*row) for row in rows)
