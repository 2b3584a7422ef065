"""A small IAM policy evaluator, enough for deploy/iam/*.json: what the tests need to judge Resource and Condition.

Identity policies only: an explicit Deny wins, else an Allow whose Action, Resource and every Condition match,
else denied. Actions match case-insensitively, resources case-sensitively, both with IAM's wildcards (``*``,
``?``, which fnmatch also means; ``[`` is not special in IAM, so policies using it are refused). An operator or
element this evaluator does not know is an error, never a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path


@dataclass(frozen=True)
class Request:
    action: str  # "sqs:DeleteQueue"
    resource: str  # an ARN, or "*" for actions without resource types
    context: dict[str, str | list[str]] = field(default_factory=dict)  # "aws:ResourceTag/Name" -> "upload"


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(pattern: str, value: str, case: bool = True) -> bool:
    if "[" in pattern:
        raise ValueError(f"'[' in {pattern!r}: IAM treats it literally, fnmatch would not")
    return fnmatchcase(value, pattern) if case else fnmatchcase(value.lower(), pattern.lower())


def _string_test(operator: str):  # noqa: ANN202
    if operator == "StringEquals":
        return lambda pattern, value: pattern == value
    if operator == "StringLike":
        return _matches
    raise ValueError(f"condition operator {operator!r} is not known to this evaluator")


def _condition(operator: str, key: str, wanted: list[str], context: dict[str, str | list[str]]) -> bool:
    present = key in context
    if operator == "Null":  # "true": the key must be absent; "false": present
        return all((w == "true") != present for w in wanted)
    if operator.startswith("ForAllValues:"):
        test = _string_test(operator.removeprefix("ForAllValues:"))
        return all(any(test(w, v) for w in wanted) for v in _listed(context.get(key, [])))
    test = _string_test(operator)
    # A single-valued operator on a key the request does not carry does not match (IAM: no value, no match).
    return present and any(test(w, v) for w in wanted for v in _listed(context[key]))


def _statement_matches(statement: dict, request: Request) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
    if unknown:
        raise ValueError(f"statement elements this evaluator does not know: {sorted(unknown)}")
    return (any(_matches(a, request.action, case=False) for a in _listed(statement["Action"]))
            and any(_matches(r, request.resource) for r in _listed(statement["Resource"]))
            and all(_condition(op, key, _listed(wanted), request.context)
                    for op, keys in statement.get("Condition", {}).items() for key, wanted in keys.items()))


def allowed(policies: list[Path], request: Request) -> bool:
    statements = [s for p in policies for s in json.loads(p.read_text())["Statement"]]
    matching = [s for s in statements if _statement_matches(s, request)]
    return not any(s["Effect"] == "Deny" for s in matching) and any(s["Effect"] == "Allow" for s in matching)
