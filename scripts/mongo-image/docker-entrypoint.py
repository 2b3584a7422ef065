"""Entrypoint of the local Mongo-compatible image (SecantusDB), behaving like the official mongo image's.

What the restore drill and testcontainers rely on, as the official image does it:

- ``MONGO_INITDB_ROOT_USERNAME``/``MONGO_INITDB_ROOT_PASSWORD``: on the first start
  (empty ``/data/db``) a root user is created in ``admin`` by a server bound to
  loopback only, and the real server then requires authentication;
- the server listens on 0.0.0.0:27017 and prints a line containing
  ``Waiting for connections`` once it accepts them (testcontainers waits for it);
- SIGTERM/SIGINT stop the server cleanly; the exit status is the server's.

SecantusDB runs with ``--standalone``: otherwise it advertises a one-node
replica set whose member is 0.0.0.0:27017, which a client outside the container
cannot reach.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from pymongo import MongoClient

DATA = Path("/data/db")
PORT = 27017
LISTENING = re.compile(r"listening on [\d.]+:(\d+)")


def start(host: str, port: int, auth: bool, extra: list[str]) -> tuple[subprocess.Popen, int]:
    """Start SecantusDB and echo its log until it listens; returns the process and its port."""
    args = [sys.executable, "-m", "secantus", "--host", host, "--port", str(port), "--storage-path", str(DATA),
            "--standalone", *(["--auth"] if auth else []), *extra]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in proc.stdout:
        print(line, end="", flush=True)
        if match := LISTENING.search(line):
            return proc, int(match[1])
    sys.exit(f"docker-entrypoint: SecantusDB exited with {proc.wait()} before listening")


def create_root_user(user: str, password: str) -> None:
    """Like the official image's initdb step: a loopback-only server without auth creates the root user."""
    proc, port = start("127.0.0.1", 0, auth=False, extra=[])
    with MongoClient(port=port) as client:
        client.admin.command("createUser", user, pwd=password, roles=[{"role": "root", "db": "admin"}])
    proc.terminate()
    proc.wait()
    print(f"docker-entrypoint: created root user {user!r} in admin", flush=True)


def main() -> None:
    user = os.environ.get("MONGO_INITDB_ROOT_USERNAME")
    password = os.environ.get("MONGO_INITDB_ROOT_PASSWORD")
    if bool(user) != bool(password):
        sys.exit("docker-entrypoint: set both MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD, or neither")
    DATA.mkdir(parents=True, exist_ok=True)
    if user and not any(DATA.iterdir()):
        create_root_user(user, password)
    proc, port = start("0.0.0.0", PORT, auth=bool(user), extra=sys.argv[1:])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    print(f"docker-entrypoint: Waiting for connections on port {port}", flush=True)
    for line in proc.stdout:
        print(line, end="", flush=True)
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
