"""Label and field selectors as the API server parses them (``-l``/``labelSelector``, ``--field-selector``).

Labels: ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)``, ``key notin (a,b)``, comma-separated (all must hold).
Fields: ``path=value``, ``path==value``, ``path!=value`` on the paths each
resource supports; any other path is a 400, as on a real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

_SET = re.compile(r"^\s*(?P<key>[^\s!=,()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*(?P<key>[^\s!=,()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=,()]*)\s*$")
_EXISTS = re.compile(r"^\s*(?P<not>!?)\s*(?P<key>[^\s!=,()]+)\s*$")

# Field paths a real API server accepts per resource, beyond metadata.name and metadata.namespace.
FIELDS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"},
    "nodes": {"spec.unschedulable"},
    "namespaces": {"status.phase"},
    "jobs": {"status.successful"},
}


class SelectorError(ValueError):
    """The selector does not parse, or names a field the resource cannot be selected by (HTTP 400)."""


def labels(selector: str) -> Predicate:
    requirements = [_label_requirement(term) for term in _split(selector)]
    return lambda obj: all(req(obj["metadata"].get("labels") or {}) for req in requirements)


def fields(selector: str, resource: str) -> Predicate:
    allowed = {"metadata.name", "metadata.namespace"} | FIELDS.get(resource, set())
    requirements = []
    for term in filter(str.strip, selector.split(",")):
        match = _EQUALITY.match(term)
        if match is None:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{term}'")
        if match["key"] not in allowed:
            raise SelectorError(f'field label not supported: {match["key"]}')
        requirements.append((match["key"].split("."), match["op"] != "!=", match["value"]))
    return lambda obj: all((_field(obj, path) == value) == equal for path, equal, value in requirements)


def _field(obj: Obj, path: list[str]) -> str:
    value: Any = obj
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return str(value).lower()
    if path == ["source"] and isinstance(value, dict):  # an Event's source selects by its component
        return value.get("component", "")
    return "" if value is None else str(value)


def _split(selector: str) -> list[str]:
    """Terms separated by commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_requirement(term: str) -> Callable[[dict[str, str]], bool]:
    if match := _SET.match(term):
        values = {v.strip() for v in match["values"].split(",") if v.strip()}
        if match["op"] == "in":
            return lambda labels, key=match["key"]: labels.get(key) in values
        return lambda labels, key=match["key"]: labels.get(key) not in values
    if match := _EQUALITY.match(term):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    if match := _EXISTS.match(term):
        key = match["key"]
        return (lambda labels: key not in labels) if match["not"] else (lambda labels: key in labels)
    raise SelectorError(f"unable to parse requirement: found '{term.strip()}', expected: identifier")
