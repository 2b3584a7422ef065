"""Record every AWS API call that processes make, through botocore's client-side monitoring (CSM).

botocore sends one UDP datagram per API call (``{"Type": "ApiCall", "Service":
"S3", "Api": "ListObjectsV2", ...}``) to AWS_CSM_HOST:AWS_CSM_PORT when
AWS_CSM_ENABLED is true. Every client of every process that inherits those
variables reports, however it was made: the checks' clients, pytest-xdist
workers, the upload drill's set-up and teardown scripts. The recorder listens
on 127.0.0.1 at a free port and ``env_vars`` are what a subprocess needs.

One blind spot: botocore drops the datagram of a call whose error response it
cannot serialize (an error without a message, which only moto sends, e.g. for
a missing EBS snapshot). The healthy sandbox runs answer without errors.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from types import TracebackType

_RECEIVE_BUFFER = 4 * 2**20  # bytes: a burst of datagrams must not overflow the socket while the thread drains it


class CallRecorder:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()  # (service id, operation) -> calls
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="aws-call-recorder", daemon=True)

    @property
    def env_vars(self) -> dict[str, str]:
        return {"AWS_CSM_ENABLED": "true", "AWS_CSM_HOST": "127.0.0.1",
                "AWS_CSM_PORT": str(self._sock.getsockname()[1]), "AWS_CSM_CLIENT_ID": "opschecks"}

    def __enter__(self) -> CallRecorder:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        time.sleep(0.5)  # the last datagrams of a process that just exited are still in flight
        self._stopping.set()
        self._thread.join()
        self._sock.close()

    def _receive(self) -> None:
        while True:
            try:
                datagram = self._sock.recv(65536)
            except TimeoutError:
                if self._stopping.is_set():
                    return
                continue
            event = json.loads(datagram)
            if event.get("Type") == "ApiCall":
                self.calls[(event["Service"], event["Api"])] += 1
