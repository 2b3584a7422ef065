"""Throttling slows a check down, it does not fail it: real AWS throttling responses over real HTTP.

A small proxy in front of the sandbox's moto answers the first requests with the
error AWS sends when it throttles (S3's 503 SlowDown, EC2's RequestLimitExceeded),
then forwards everything; the checks' clients (opschecks.aws) must retry through it.
An endpoint that cannot be connected to at all is down, not busy: it fails after a few attempts.
"""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, EndpointConnectionError

from opschecks import aws
from opschecks.areas.backups import backups
from opschecks.areas.aws_usage import unused
from opschecks.config import EnvConfig
from opschecks.errors import describe
from opschecks.areas.backups.backups import stamp
from opschecks.areas.aws_usage.settings import UsageSettings

S3_SLOWDOWN = (503, "application/xml", b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                                        b"<Message>Please reduce your request rate.</Message></Error>")
EC2_LIMIT = (503, "text/xml", b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                              b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
                              b"</Error></Errors><RequestID>1</RequestID></Response>")


@dataclass
class ThrottlingProxy:
    upstream: str
    throttle: int  # how many requests to refuse before forwarding
    response: tuple[int, str, bytes]
    refused: int = 0
    forwarded: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take_turn(self) -> bool:
        """Whether this request is refused."""
        with self._lock:
            if self.refused < self.throttle:
                self.refused += 1
                return True
            self.forwarded += 1
            return False


@pytest.fixture
def proxy(sandbox_env: Any) -> Iterator[tuple[str, ThrottlingProxy]]:
    state = ThrottlingProxy(sandbox_env.aws_endpoint, 0, S3_SLOWDOWN)
    upstream = urlsplit(sandbox_env.aws_endpoint)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if state.take_turn():
                status, content_type, payload = state.response
                headers = {"Content-Type": content_type}
            else:
                conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                reply = conn.getresponse()
                status, payload = reply.status, reply.read()
                headers = {k: v for k, v in reply.getheaders() if k.lower() not in ("transfer-encoding", "connection",
                                                                                     "content-length")}
                conn.close()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle  # noqa: N815 (http.server's names)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_throttled_s3_listing_is_retried_and_the_check_passes(sandbox_env: Any, proxy: tuple[str, ThrottlingProxy],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = f"throttled-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.timezone.utc)
    s3 = sandbox_env.s3()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"dev/{stamp(now - dt.timedelta(hours=3))}.tar.gz", Body=b"x" * 100)
    url, state = proxy
    # Five refusals: more than botocore's default retry modes would take (legacy: 5 attempts, standard: 3).
    state.throttle, state.response = 5, S3_SLOWDOWN
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)

    verdict = backups.check_fresh(aws.client(aws.session(EnvConfig(name="dev", backup_bucket=bucket,
                                                                   backup_prefix="dev")), "s3"),
                                  EnvConfig(name="dev", backup_bucket=bucket, backup_prefix="dev"), now)

    assert verdict.findings == []
    assert state.refused == 5 and state.forwarded >= 1


def test_throttled_ec2_scan_is_retried_and_finds_what_it_should(sandbox_env: Any, proxy: tuple[str, ThrottlingProxy],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    region = "eu-north-1"  # a region of this test's own in the shared moto
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=sandbox_env.aws_endpoint)
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    url, state = proxy
    state.throttle, state.response = 3, EC2_LIMIT
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        verdicts = unused.scan(aws.session(EnvConfig(name="dev", aws_region=region)), UsageSettings(),
                               dt.datetime.now(dt.timezone.utc), [])
    finally:
        ec2.release_address(AllocationId=address)

    assert [v.resource.id for v in verdicts["USG102"]] == [address]
    assert state.refused == 3


def test_throttling_that_never_ends_fails_with_one_line(sandbox_env: Any, proxy: tuple[str, ThrottlingProxy]) -> None:
    """What the suite says once the retries are spent (with few retries here, to keep the test short)."""
    url, state = proxy
    state.throttle, state.response = 10**6, S3_SLOWDOWN
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      config=BotoConfig(retries={"mode": "standard", "max_attempts": 2}))
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket="never-answers", Prefix="dev/")
    assert state.refused == 3  # botocore counts max_attempts as retries after the first try
    assert describe(caught.value) == ("AWS ListObjectsV2 still throttled (SlowDown) after 3 attempts: the account's "
                                      "API rate is exhausted; run again later or with fewer xdist workers")


def test_unreachable_endpoint_gives_up_after_a_few_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = aws.client(aws.session(EnvConfig(name="dev")), "s3")
    sent: list[str] = []
    s3.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))

    with pytest.raises(EndpointConnectionError) as caught:
        s3.list_objects_v2(Bucket="ingest-db-backup", Prefix="dev/")

    assert len(sent) == aws.CONNECT_ATTEMPTS < 11  # the throttling tests above show throttling still gets 11
    assert describe(caught.value) == f"cannot reach AWS endpoint http://127.0.0.1:{port}/ingest-db-backup" \
                                     "?list-type=2&prefix=dev%2F&encoding-type=url"
