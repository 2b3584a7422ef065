"""The glossary (opschecks/codes.py, each area's codes.py) is the whole truth about finding codes: every code the
suite can emit is declared once with a severity, every declared one can be emitted, each area's docs page lists
its codes, docs/codes.md is current, and the areas list agrees with the check files and docs pages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from opschecks import areas, codes, config

ROOT = Path(__file__).parent.parent
CODE = re.compile(r'"([A-Z][A-Z0-9]{2}\d{3})"')  # a code as the logic writes it: a string literal


def _sources() -> list[Path]:
    """Every module that can emit a finding: the package (but the glossary itself), the plugins, the checks."""
    found = [p for d in ("opschecks", "fixtures", "checks") for p in (ROOT / d).rglob("*.py")]
    return [p for p in found if p.name != "codes.py" and "sandbox" not in p.parts]


def _emitted() -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for path in _sources():
        for code in CODE.findall(path.read_text()):
            seen.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return seen


def test_every_code_the_suite_can_emit_is_declared() -> None:
    undeclared = {code: where for code, where in _emitted().items() if code not in codes.glossary()}
    assert not undeclared, f"declare these in their area's codes.py: {undeclared}"


def test_every_declared_code_can_be_emitted() -> None:
    unreachable = sorted(set(codes.glossary()) - set(_emitted()))
    assert not unreachable, f"declared but written nowhere in the logic: {unreachable}"


def test_every_code_is_declared_once() -> None:
    declared = [c.code for c in codes.CORE] + [c.code for a in areas.ALL for c in a.codes]
    assert len(declared) == len(set(declared)), sorted(c for c in declared if declared.count(c) > 1)


@pytest.mark.parametrize("area", areas.ALL, ids=lambda a: a.name)
def test_each_area_page_documents_its_codes(area) -> None:
    page = (ROOT / area.docs_page).read_text()
    missing = [c.code for c in area.codes if not re.search(rf"^\| `?{c.code}`? \|", page, re.MULTILINE)]
    assert not missing, f"{area.docs_page} has no table row for {missing}"


def test_docs_codes_md_is_generated_from_the_glossary() -> None:
    printed = subprocess.run([sys.executable, "-m", "opschecks", "codes"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert printed == codes.markdown()
    assert (ROOT / "docs" / "codes.md").read_text() == printed, "run: python -m opschecks codes > docs/codes.md"


def test_the_areas_list_agrees_with_the_check_files_packages_and_docs() -> None:
    check_files = sorted(p.stem.removeprefix("test_") for p in (ROOT / "checks").glob("test_*.py"))
    packages = sorted(p.parent.name for p in (ROOT / "opschecks" / "areas").glob("*/__init__.py"))
    assert sorted(areas.NAMES) == check_files == packages
    assert [a.name for a in areas.ALL] == list(areas.NAMES)
    assert all((ROOT / a.docs_page).is_file() and (ROOT / a.check_file).is_file() for a in areas.ALL)


@pytest.mark.parametrize("area", areas.ALL, ids=lambda a: a.name)
def test_each_area_config_table_is_its_name_and_its_docs_page_says_so(area, tmp_path) -> None:
    """The loader reads [env.<env>.<area>] into the area's settings class, and the docs page names that table."""
    assert re.search(rf"\[(env\.<?[a-z]+>?|defaults)\.{area.name}\]", (ROOT / area.docs_page).read_text()), \
        f"{area.docs_page} does not name its config table [env.<name>.{area.name}]"
    required = {"upload_service": {"setup_command": ["true"], "teardown_command": ["true"]}}.get(area.name, {})
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in required.items())
    path = tmp_path / "opschecks.toml"
    path.write_text(f"[env.dev]\n[env.dev.{area.name}]\n{table}\n")
    env = config.load(path).envs["dev"]
    assert env.configured(area.settings) and isinstance(env.settings(area.settings), area.settings)


def test_an_undeclared_code_weighs_as_critical_and_severities_order_heaviest_first() -> None:
    assert codes.severity("ZZZ999") == "critical"  # never lighter than it may be
    assert codes.rank("BKP001") < codes.rank("POD003") < codes.rank("CPU002")
    with pytest.raises(ValueError, match="severity 'urgent'"):
        codes.Code("XXX001", "urgent", "t", "f")
