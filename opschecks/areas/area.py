"""An area's record: the one spelling of its name, its settings class and the finding codes it declares
(opschecks/areas/__init__.py lists them)."""

from __future__ import annotations

from dataclasses import dataclass

from opschecks.code import Code


@dataclass(frozen=True)
class Area:
    # The one spelling: the config table [env.<env>.<name>], `skip = [...]`, checks/test_<name>.py,
    # docs/<name>.md, the package's name.
    name: str
    settings: type  # its settings dataclass (the package's settings.py); EnvConfig.settings(cls) gives them
    codes: tuple[Code, ...]  # every code the area's logic can emit (tests/test_codes.py)
    # An opt-in drill runs only where its table is written (its settings have required keys); any other area
    # runs everywhere, with its defaults where the table is absent.
    opt_in: bool = False
    old_table: str | None = None  # the table's earlier name: still read, with a one-line note

    @property
    def check_file(self) -> str:
        return f"checks/test_{self.name}.py"

    @property
    def docs_page(self) -> str:
        return f"docs/{self.name}.md"
