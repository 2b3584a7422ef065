"""Answers that go wrong part way, caused for real by loopback servers: a Kubernetes API that throttles with a
long Retry-After, resets the connection or cuts a body short, and an S3 endpoint that resets every download.
Each ends as one line naming the endpoint, within the request's own time budget."""

from __future__ import annotations

import fnmatch
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from opschecks import aws, kube, silent
from opschecks.areas.restore import archive
from opschecks.config import EnvConfig
from opschecks.errors import describe, from_kubernetes


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[bytes], int]]:
    """``serve(answer)``: a port whose every connection gets the raw bytes ``answer`` after the request, then is
    closed (reset when the answer is empty); KUBECONFIG's context ``dev`` points at it."""
    listeners: list[socket.socket] = []
    silent.forget()

    def serve(answer: bytes) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def loop() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.recv(65536)
                if answer:
                    conn.sendall(answer)
                    conn.close()
                else:  # SO_LINGER 0: close sends a reset
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                    conn.close()

        threading.Thread(target=loop, daemon=True).start()
        port = listener.getsockname()[1]
        (tmp_path / "kubeconfig").write_text(
            f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n")
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
        return port

    yield serve
    for listener in listeners:
        listener.close()


@pytest.mark.timeout(60)  # without the cap urllib3 sleeps the whole 600 s
def test_a_429_with_a_long_retry_after_costs_at_most_one_read_timeout(answering: Callable[[bytes], int]) -> None:
    answering(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 600\r\nContent-Type: application/json\r\n"
              b"Content-Length: 51\r\nConnection: close\r\n\r\n"
              b'{"kind":"Status","message":"too many requests, 1"}\n')
    pods = client.CoreV1Api(kube.api_client("dev", 1.0))
    started = time.monotonic()
    with pytest.raises(client.ApiException) as caught:
        pods.list_namespaced_pod("default")
    assert time.monotonic() - started < 1 + 1.5  # one capped wait of 1 s, then the second 429 is the answer
    assert describe(caught.value) == "Kubernetes API HTTP 429 Too Many Requests: too many requests, 1"


@pytest.mark.parametrize(("answer", "expected"), [
    (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"kind\": \"PodList\", ",
     "broke off its answer part way through: IncompleteRead: IncompleteRead(20 bytes read, 4980 more expected)"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n{\"kind\": \"PodList\", ",
     "broke off its answer part way through: IncompleteRead: IncompleteRead(20 bytes read)"),
], ids=["cut-short", "chunk-cut-short"])
def test_a_body_cut_short_is_one_line_naming_the_api_server(answering: Callable[[bytes], int], answer: bytes,
                                                            expected: str) -> None:
    port = answering(answer)
    with pytest.raises(Exception) as caught:
        client.CoreV1Api(kube.api_client("dev", 1.0)).list_namespaced_pod("default")
    line = describe(caught.value)
    assert line is not None and fnmatch.fnmatch(line, f"Kubernetes API http://127.0.0.1:{port} {expected}"), line
    assert from_kubernetes(caught.value)


def test_a_reset_connection_is_one_line_naming_the_api_server(answering: Callable[[bytes], int]) -> None:
    port = answering(b"")
    with pytest.raises(Exception) as caught:
        client.CoreV1Api(kube.api_client("dev", 1.0)).list_namespaced_pod("default")
    assert describe(caught.value) == f"cannot reach http://127.0.0.1:{port}: ProtocolError"


@pytest.fixture
def resetting_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """An S3 endpoint whose HEAD answers a 5000-byte object and whose every GET sends 100 bytes, then a reset."""
    listener = socket.create_server(("127.0.0.1", 0))
    headers = (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: application/octet-stream\r\n"
               b"ETag: \"e\"\r\nLast-Modified: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n")

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            request = conn.recv(65536)
            conn.sendall(headers if request.startswith(b"HEAD") else headers + b"x" * 100)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            conn.close()

    threading.Thread(target=loop, daemon=True).start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    yield listener.getsockname()[1]
    listener.close()


def _s3() -> Any:
    return aws.client(aws.session(EnvConfig(name="dev", api_timeout_s=1)), "s3")


def test_a_download_that_resets_every_time_is_one_line_naming_the_object_and_endpoint(
        resetting_s3: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{resetting_s3}")
    with pytest.raises(Exception) as caught:
        archive.download(_s3(), "ingest-db-backup", "dev/x.tar.gz", tmp_path / "x.tar.gz")
    line = describe(caught.value)
    assert line is not None and line.startswith(
        f"S3 download of s3://ingest-db-backup/dev/x.tar.gz from http://127.0.0.1:{resetting_s3} broke off part "
        "way, every attempt: "), (line, caught.value)


def test_a_body_read_that_breaks_off_is_one_line(resetting_s3: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{resetting_s3}")
    body = _s3().get_object(Bucket="ingest-ops-ledger", Key="k")["Body"]
    with pytest.raises(Exception) as caught:
        body.read()
    line = describe(caught.value)
    assert line is not None and line.startswith("an AWS answer broke off part way through: "), (line, caught.value)
