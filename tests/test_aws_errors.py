"""Every documented error code an AWS call can answer ends as one line naming the call, never a traceback.

A loopback endpoint answers each request with an error in the service's own wire protocol (rest-json for EKS,
JSON 1.1 for Cost Explorer, REST-XML for S3), to a real boto3 client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opschecks.errors import describe


class ErrorEndpoint:
    """Answers every request with ``status``, ``headers`` and ``body`` (set per test)."""

    def __init__(self) -> None:
        self.status, self.headers, self.body = 400, {}, b""
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(endpoint.status)
                for name, value in endpoint.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            do_GET = do_POST = do_PUT = do_HEAD = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[ErrorEndpoint]:
    served = ErrorEndpoint()
    yield served
    served.server.shutdown()


def _client(service: str, endpoint: ErrorEndpoint) -> Any:
    return boto3.client(service, endpoint_url=endpoint.url, region_name="us-east-1", aws_access_key_id="k",
                        aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}))


# (service, call, kwargs, status, protocol, code, message): codes from each operation's documented errors.
CASES = [
    ("eks", "describe_cluster", {"name": "ingest-eks-prod"}, 400, "rest-json", "InvalidParameterException",
     "The specified parameter is invalid"),
    ("eks", "describe_cluster", {"name": "ingest-eks-prod"}, 500, "rest-json", "ServerException",
     "These errors are usually caused by a server-side issue."),
    ("eks", "describe_cluster", {"name": "ingest-eks-prod"}, 503, "rest-json", "ServiceUnavailableException",
     "The service is unavailable. Back off and retry the operation."),
    ("ce", "get_cost_forecast", {"TimePeriod": {"Start": "2026-12-04", "End": "2027-01-01"},
                                 "Metric": "UNBLENDED_COST", "Granularity": "MONTHLY"}, 400, "json",
     "LimitExceededException", "You made too many calls in a short period of time."),
    ("ce", "get_cost_and_usage", {"TimePeriod": {"Start": "2026-10-01", "End": "2026-12-01"},
                                  "Granularity": "MONTHLY", "Metrics": ["UnblendedCost"]}, 400, "json",
     "BillExpirationException", "The requested report expired. Update the date interval and try again."),
    ("s3", "list_objects_v2", {"Bucket": "ingest-db-backup"}, 500, "xml", "InternalError",
     "We encountered an internal error. Please try again."),
]


@pytest.mark.parametrize("service,call,kwargs,status,protocol,code,message", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[5]}" for c in CASES])
def test_an_aws_error_code_is_one_line_naming_the_call(endpoint: ErrorEndpoint, service: str, call: str,
                                                       kwargs: dict, status: int, protocol: str, code: str,
                                                       message: str) -> None:
    endpoint.status = status
    if protocol == "rest-json":  # the code in x-amzn-ErrorType, the message in the body's "message"
        endpoint.headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.eks/",
                            "Content-Type": "application/json"}
        endpoint.body = json.dumps({"message": message}).encode()
    elif protocol == "json":
        endpoint.headers = {"Content-Type": "application/x-amz-json-1.1"}
        endpoint.body = json.dumps({"__type": code, "Message": message}).encode()
    else:
        endpoint.headers = {"Content-Type": "application/xml"}
        endpoint.body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}"
                         "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>").encode()
    with pytest.raises(ClientError) as caught:
        getattr(_client(service, endpoint), call)(**kwargs)
    operation = caught.value.operation_name
    assert describe(caught.value) == f"AWS {operation} failed: {code}: {message}"


def _documented_errors() -> list[tuple[str, str, str]]:
    """(call site, operation, error code) for every documented error of every AWS call the suite's code makes
    (the static inventory of call sites, and botocore's model of each operation's errors)."""
    import botocore.session

    from tests.iam_static import PATHS, inventory

    model = botocore.session.get_session()
    cases = set()
    for policy in ("checks-readonly", *PATHS):
        for site in inventory(policy)[0]:
            operation = model.get_service_model(site.service).operation_model(site.operation)
            for shape in operation.error_shapes:
                code = (shape.metadata.get("error") or {}).get("code") or shape.name
                cases.add((f"{site.path}:{site.line}", site.operation, code))
    return sorted(cases)


DOCUMENTED = _documented_errors()


def test_the_inventory_finds_documented_errors() -> None:
    assert len(DOCUMENTED) > 50 and ("InvalidParameterException" in {code for _, _, code in DOCUMENTED})


@pytest.mark.parametrize("site,operation,code", DOCUMENTED, ids=[f"{s}-{c}" for s, _, c in DOCUMENTED])
def test_every_documented_error_of_every_call_site_is_one_line(site: str, operation: str, code: str) -> None:
    error = ClientError({"Error": {"Code": code, "Message": f"documented {code}"}}, operation)
    line = describe(error)
    assert line is not None and "\n" not in line, site
    assert line.startswith(f"AWS {operation} ") and code in line, (site, line)


def test_a_client_of_the_suite_names_the_region_of_the_failed_call(endpoint: ErrorEndpoint,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from opschecks import aws

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    endpoint.status = 400
    endpoint.headers = {"x-amzn-ErrorType": "InvalidParameterException", "Content-Type": "application/json"}
    endpoint.body = json.dumps({"message": "The specified parameter is invalid"}).encode()
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-2")
    with pytest.raises(ClientError) as caught:
        aws.client(session, "eks").describe_cluster(name="ingest-eks-prod")
    assert describe(caught.value) == ("AWS DescribeCluster (eu-west-2) failed: InvalidParameterException: "
                                      "The specified parameter is invalid")
