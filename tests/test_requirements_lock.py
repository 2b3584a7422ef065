"""The image's locks (Dockerfile) against pyproject.toml: requirements.lock, the production target's, pins every
production dependency and nothing of the sandbox extra; requirements-sandbox.lock, the sandbox target's
additions, pins the extra.

Their completeness (every transitive dependency) is proven where they are installed: the image build in .ci/run
installs each with --no-deps, then `pip check` fails it when a dependency is missing.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned with =="
            assert canonicalize_name(package) not in found, f"{name}: {package} is pinned twice"
            found[canonicalize_name(package)] = version
    return found


def unpinned(requirements: list[str], locked: dict[str, str], lock: str) -> list[str]:
    problems = []
    for req in map(Requirement, requirements):
        version = locked.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in {lock}")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} does not satisfy {req}")
    return problems


def test_every_production_dependency_is_pinned_within_its_range():
    assert unpinned(PROJECT["dependencies"], pins("requirements.lock"), "requirements.lock") == []


def test_the_sandbox_extra_is_pinned_within_its_range_in_the_sandbox_lock():
    sandbox = PROJECT["optional-dependencies"]["sandbox"]
    assert unpinned(sandbox, pins("requirements-sandbox.lock"), "requirements-sandbox.lock") == []


def test_requirements_lock_has_none_of_the_sandbox_extras_packages():
    """The sandbox extra's packages: what it names, and all the sandbox lock adds for them."""
    extra = {canonicalize_name(Requirement(r).name) for r in PROJECT["optional-dependencies"]["sandbox"]}
    sandbox_only = extra | set(pins("requirements-sandbox.lock"))
    assert {"moto", "secantusdb"} <= sandbox_only
    assert sorted(sandbox_only & set(pins("requirements.lock"))) == []


# What the production image deletes from installed packages (Dockerfile, `rm -r`), as the modules it held.
PRUNED = {"kubernetes/aio": "kubernetes.aio"}


def test_nothing_imports_what_the_image_prunes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert all(f"rm -r {path}" in dockerfile for path in PRUNED), "PRUNED is out of step with the Dockerfile"
    pruned = tuple(PRUNED.values())
    sources = [ROOT / "conftest.py", *sorted((ROOT / "opschecks").rglob("*.py")),
               *sorted((ROOT / "checks").rglob("*.py")), *sorted((ROOT / "examples").rglob("*.py"))]
    found = []
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            found += [f"{source.relative_to(ROOT)}:{node.lineno}: {name}" for name in names
                      if any(name == p or name.startswith(p + ".") for p in pruned)]
    assert found == [], "the production image has no " + ", ".join(pruned)
