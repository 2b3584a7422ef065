"""No import circle among the suite's modules, counting imports under TYPE_CHECKING and inside functions: each
area's settings are a leaf the config reads, so the config never imports an area's logic (issue 28)."""

from __future__ import annotations

import ast
from pathlib import Path

from opschecks import areas

ROOT = Path(__file__).parent.parent


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in (ROOT / "opschecks").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("opschecks"):
                for alias in node.names:  # `from opschecks.x import y`: the module y when it is one, else x
                    edges.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.startswith("opschecks")}
        graph[name] = {e for e in edges if e in modules and e != name}
    graph["opschecks.areas"] |= {f"opschecks.areas.{area}" for area in areas.NAMES}  # imported by name, in a loop
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_module_of_the_suite_imports_itself_back() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def test_the_config_reads_the_areas_list_and_no_areas_logic() -> None:
    """The config names no area: it imports the areas list, which reaches each area's record, codes and settings
    leaf and nothing else of it (so the config, which every area imports, never imports an area's logic)."""
    graph = _graph()
    direct = {m for m in graph["opschecks.config"] if m.startswith(("opschecks.areas.", "opschecks.record."))}
    assert direct <= {"opschecks.areas", "opschecks.areas.area", "opschecks.record.settings"}, sorted(direct)
    reached = {m for m in _reached(graph, "opschecks.config") if m.startswith(("opschecks.areas.", "opschecks.record."))}
    records = {"opschecks.areas.area", *(f"opschecks.areas.{name}" for name in areas.NAMES)}
    logic = {m for m in reached if m not in records and not m.endswith((".settings", ".codes"))}
    assert not logic, f"the config must reach only the areas' records, codes and settings leaves: {sorted(logic)}"
