"""An endpoint that did not answer once in a run is not waited for again: real clients against a loopback server
that accepts every connection and never sends a byte."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ReadTimeoutError
from kubernetes import client
from urllib3.exceptions import MaxRetryError

from opschecks import aws, kube, silent
from opschecks.config import EnvConfig
from opschecks.errors import NotTriedAgain, describe, from_kubernetes

NOT_TRIED_AGAIN = re.compile(r" \(did not answer at \d\d:\d\d:\d\d UTC, not tried again\)$")


@pytest.fixture
def mute_port() -> Iterator[int]:
    """A port that accepts connections and never answers; the registry starts empty, as a run's does."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept, daemon=True).start()
    silent.forget()
    yield listener.getsockname()[1]
    silent.forget()
    listener.close()
    for conn in held:
        conn.close()


def _timed(call: object) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        call()  # type: ignore[operator]
    return caught.value, time.monotonic() - started


def test_a_silent_aws_endpoint_is_waited_for_once_per_run(mute_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{mute_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    sess = aws.session(EnvConfig(name="dev", api_timeout_s=1))

    # Another client, another service, same endpoint: one verdict per endpoint, whoever asks.
    s3, ec2 = aws.client(sess, "s3"), aws.client(sess, "ec2")
    first, first_s = _timed(lambda: s3.list_objects_v2(Bucket="b", Prefix="dev/"))
    second, second_s = _timed(ec2.describe_volumes)

    assert isinstance(first, ReadTimeoutError) and 1.8 < first_s < 5
    assert isinstance(second, NotTriedAgain) and second_s < 0.5
    line = describe(second)
    assert line is not None and NOT_TRIED_AGAIN.search(line)
    assert NOT_TRIED_AGAIN.sub("", line) == describe(first)
    assert not from_kubernetes(second)


def test_a_silent_kubernetes_api_is_waited_for_once_per_run(mute_port: int, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kubeconfig").write_text(
        f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{mute_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))

    one, other = client.CoreV1Api(kube.api_client("dev", 1.0)), client.CoreV1Api(kube.api_client("dev", 1.0))
    first, first_s = _timed(lambda: one.list_namespaced_pod("default"))
    second, second_s = _timed(other.list_node)

    assert isinstance(first, MaxRetryError) and 1.8 < first_s < 5
    assert isinstance(second, NotTriedAgain) and second_s < 0.5
    line = describe(second)
    assert line is not None and NOT_TRIED_AGAIN.sub("", line) == describe(first)
    assert from_kubernetes(second)  # so the check's line names the context, as the first one's did


def test_a_refused_endpoint_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection costs nothing to try: only silence is remembered (the endpoint may be restarting)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    silent.forget()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    s3 = aws.client(aws.session(EnvConfig(name="dev", api_timeout_s=1)), "s3")
    for _ in range(2):
        with pytest.raises(Exception) as caught:
            s3.list_objects_v2(Bucket="b")
        assert not isinstance(caught.value, NotTriedAgain)
