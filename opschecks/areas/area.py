"""An area's record: the one spelling of its name, and the finding codes it declares (opschecks/areas/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass

from opschecks.codes import Code


@dataclass(frozen=True)
class Area:
    name: str  # the one spelling: `skip = [...]`, checks/test_<name>.py, docs/<name>.md, the package's name
    codes: tuple[Code, ...]  # every code the area's logic can emit (tests/test_codes.py)

    @property
    def check_file(self) -> str:
        return f"checks/test_{self.name}.py"

    @property
    def docs_page(self) -> str:
        return f"docs/{self.name}.md"
