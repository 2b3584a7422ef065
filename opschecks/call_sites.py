"""Every AWS API call the code CAN make, found by reading it: a static inventory of boto3 call sites.

A sandbox run records only the calls its data leads to (a load balancer younger
than 7 days is never asked for its target groups), so tests/test_iam_call_sites.py
also proves the shipped policies from this inventory. A call site is a method
called on a boto3 client, the client found as best a reading can:

- ``aws.client(sess, "ec2")``, ``sess.client("ec2")``, ``client(sess, "ec2")``, directly or through a variable
  assigned from one;
- an attribute or variable named like a service (``c.elbv2``, ``self.s3``, a parameter ``sqs``), as
  unused.Clients and the ledger name theirs;
- ``get_paginator("op")`` / ``get_waiter("w")`` on a receiver it cannot name: the one service the suite
  uses that has that paginator (paginator and waiter names are boto3's own, never another library's).

Methods map to API operations through botocore's service model (``xform_name``);
S3's transfer helpers (``upload_file``, ...) to the operations they make. What it
cannot read is reported, not skipped: a client whose service is not a string, a
method of a known client that is no operation, a boto3 ``resource()``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

from opschecks.permissions import SERVICES

# botocore service name -> service id (what permissions.actions_for takes)
SERVICE_IDS = {name: service_id for service_id, (name, _) in SERVICES.items()}
# Client methods that are no API call of their own.
HELPERS = {"get_paginator", "get_waiter", "can_paginate", "close", "generate_presigned_url", "generate_presigned_post"}
# s3transfer's helpers, injected into S3 clients: the operations they can make (multipart above the threshold).
TRANSFERS = {
    "upload_file": ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"),
    "upload_fileobj": ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"),
    "download_file": ("HeadObject", "GetObject"),
    "download_fileobj": ("HeadObject", "GetObject"),
}


@dataclass(frozen=True)
class CallSite:
    path: str  # relative to the root given to scan()
    line: int
    service: str  # botocore service name, e.g. "elbv2"
    operation: str  # API operation name, e.g. "DescribeTargetGroups"

    @property
    def service_id(self) -> str:
        return SERVICE_IDS[self.service]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.service}.{self.operation}"


@dataclass(frozen=True)
class Unreadable:
    path: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.why}"


@cache
def _model(service: str):  # noqa: ANN202 (botocore's ServiceModel)
    return botocore.session.get_session().get_service_model(service)


@cache
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, e.g. "describe_target_groups" -> "DescribeTargetGroups"."""
    return {xform_name(op): op for op in _model(service).operation_names}


@cache
def _waiter_operation(service: str, waiter: str) -> str:
    return botocore.session.get_session().get_waiter_model(service).get_waiter(
        "".join(part.title() for part in waiter.split("_"))).operation


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Reader(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.sites: list[CallSite] = []
        self.unreadable: list[Unreadable] = []
        self.bound: dict[str, str] = {}  # variable -> service, by assignment from a client call (whole module)
        self.params: dict[tuple[str, str], str] = {}  # (function, parameter) -> service, from the module's calls
        self.functions: list[str] = []  # the enclosing function definitions, innermost last

    def _client_call(self, node: ast.expr, report: bool = False) -> str | None:
        """The service of ``…client(…, "svc", …)``; with ``report``, a client call whose service it cannot read is
        reported (once: the module's first pass reports, the lookups after it do not)."""
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name != "client":
            return None
        services = [s for s in map(_string, node.args) if s is not None]
        keyword = next((_string(k.value) for k in node.keywords if k.arg == "service_name"), None)
        service = keyword or (services[0] if services else None)
        if service is None or service not in SERVICE_IDS:
            if report:
                self.unreadable.append(Unreadable(self.path, node.lineno, f"client of service {service!r}: name it "
                                                  "with a string, and add it to opschecks.permissions.SERVICES"))
            return None
        return service

    def _receiver(self, node: ast.expr) -> tuple[str | None, bool]:
        """(service, whether it was read from a client call rather than guessed from a name)."""
        service = self._client_call(node)
        if service:
            return service, True
        if isinstance(node, ast.Name):
            if self.functions and (self.functions[-1], node.id) in self.params:
                return self.params[self.functions[-1], node.id], True
            if node.id in self.bound:
                return self.bound[node.id], True
            return (node.id, False) if node.id in SERVICE_IDS else (None, False)
        if isinstance(node, ast.Attribute) and node.attr in SERVICE_IDS:
            return node.attr, False
        return None, False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr == "resource" and any(_string(a) for a in node.args):
                self.unreadable.append(Unreadable(self.path, node.lineno, "boto3 resource API: its calls cannot be "
                                                  "read; use a client"))
            else:
                self._method(node, func)
        self.generic_visit(node)

    def _method(self, node: ast.Call, func: ast.Attribute) -> None:
        service, certain = self._receiver(func.value)
        method = func.attr
        if method in ("get_paginator", "get_waiter"):
            name = _string(node.args[0]) if node.args else None
            if name is None:
                self.unreadable.append(Unreadable(self.path, node.lineno, f"{method} of a name that is not a string"))
                return
            service = service or self._only_service_with(method, name, node.lineno)
            if service is None:
                return
            if method == "get_paginator":
                self._site(node, service, name)
            else:
                self.sites.append(CallSite(self.path, node.lineno, service, _waiter_operation(service, name)))
            return
        if service is None:
            return
        if method in operations(service):
            self._site(node, service, method)
        elif service == "s3" and method in TRANSFERS:
            self.sites += [CallSite(self.path, node.lineno, "s3", op) for op in TRANSFERS[method]]
        elif certain and method not in HELPERS and not method.startswith("_") and method not in ("meta", "exceptions"):
            self.unreadable.append(Unreadable(self.path, node.lineno, f"{service} client has no operation {method}"))

    def _site(self, node: ast.Call, service: str, method: str) -> None:
        ops = operations(service)
        if method not in ops:
            self.unreadable.append(Unreadable(self.path, node.lineno, f"{service} has no operation {method}"))
            return
        self.sites.append(CallSite(self.path, node.lineno, service, ops[method]))

    def _only_service_with(self, method: str, name: str, line: int) -> str | None:
        having = [s for s in SERVICE_IDS if name in operations(s)] if method == "get_paginator" else []
        if len(having) != 1:
            self.unreadable.append(Unreadable(self.path, line, f"{method}({name!r}) on a client this reading cannot "
                                              f"name (services with it: {having or 'none'})"))
            return None
        return having[0]


def read(source: str, path: str) -> tuple[list[CallSite], list[Unreadable]]:
    """The call sites in one module's source, and what of it could not be read."""
    reader = _Reader(path)
    tree = ast.parse(source, filename=path)
    # Every client call and the variables assigned from them first (module-wide: a reading, not a type checker).
    for node in ast.walk(tree):
        service = reader._client_call(node, report=True) if isinstance(node, ast.Call) else None
        if service is None and isinstance(node, ast.Assign):
            service = reader._client_call(node.value)
        if service and isinstance(node, ast.Assign):
            reader.bound.update({t.id: service for t in node.targets if isinstance(t, ast.Name)})
    # A module function called with a client: its parameter is that client, e.g. _by_tags(client(sess, "…"), …).
    defined = {n.name: [a.arg for a in n.args.args] for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
            for param, arg in zip(defined[node.func.id], node.args):
                service = reader._client_call(arg)
                if service:
                    reader.params[node.func.id, param] = service
    reader.visit(tree)
    return reader.sites, reader.unreadable


def scan(root: Path, paths: Iterable[Path]) -> tuple[list[CallSite], list[Unreadable]]:
    sites: list[CallSite] = []
    unreadable: list[Unreadable] = []
    for path in sorted(paths):
        found, problems = read(path.read_text(), str(path.relative_to(root)))
        sites += found
        unreadable += problems
    return sites, unreadable
