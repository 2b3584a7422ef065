"""Child of tests/test_stops.py: real urllib3 calls to a loopback server, round after round, each stopped by a
SIGTERM that the parent sends at a random moment (often while a response is being freed, in its finaliser).

Prints "ready N" when round N starts, then "stopped N" when the stop took effect, or "lost N" when nothing
came of it for a second.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

from fixtures.signals import stops
from opschecks import interrupts

LOST_AFTER_S = 1.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"x" * 2048
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # The client frees responses unread: a reset mid-answer is the point, not an error to print (a traceback
        # per reset on stderr fills the pipe nobody reads until the end, and every handler thread then blocks).
        pass


def main(rounds: int) -> None:
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pool = urllib3.HTTPConnectionPool("127.0.0.1", server.server_address[1], maxsize=1)
    for n in range(rounds):
        outcome = "lost"
        with stops():
            try:
                print(f"ready {n}", flush=True)
                deadline = time.monotonic() + LOST_AFTER_S
                while time.monotonic() < deadline:
                    interrupts.check_stop()  # a safe point, as between two checks
                    response = pool.request("GET", "/", preload_content=False)
                    del response  # freed unread: its finaliser closes it and its connection, in Python code
            except KeyboardInterrupt:
                interrupts.seen()
                outcome = "stopped"
        print(f"{outcome} {n}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
