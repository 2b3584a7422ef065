"""Where a restore drill restores to: a throwaway MongoDB container, or a MongoDB the user gives by URI.

Both offer one interface: a pymongo ``client``, the ``database`` the drill
restores into, ``where`` (for messages, without credentials) and
``restore(dump, workdir)``. Both are context managers that remove what they
made (container; database) on success, failure, Ctrl-C and SIGTERM. ``restore``
returns which restorer ran: ``mongorestore`` when there is one (inside the
container, or on this host for a URI), else the built-in restorer.

SIGKILL gives no chance to clean up, so every drill container, and every
database a URI drill makes (in its OWNER_COLLECTION), also names its owner, and
the next drill on that host removes those whose owner is gone
(opschecks/areas/restore/orphans.py): containers on the engine, databases on the
MongoDB it drills into; ``notes`` says what it removed. A database is dropped
only when its name is a drill's (DRILL_DATABASE) *and* its marker names a dead
owner of this host: never a live drill's, another host's, or one without a marker.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import string
import signal
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri
from testcontainers.community.mongodb import MongoDbContainer

from opschecks import interrupts
from opschecks.areas.restore import mongorestore
from opschecks.errors import Unreachable, describe
from opschecks.areas.restore.mongorestore import Dump, Restored
from opschecks.areas.restore.orphans import orphaned, this_run

TIMEOUT_MS = 10_000


class MongoTarget(Protocol):
    client: MongoClient
    database: str
    where: str
    notes: list[str]  # what opening it did beside (e.g. removed a killed run's container), for the report

    def restore(self, dump: Dump, workdir: Path) -> Restored: ...


def docker_reachable(timeout: float = 2.0) -> bool:
    """Whether a Docker engine answers a ping (DOCKER_HOST or the default socket); never raises."""
    try:
        client = docker.from_env(timeout=timeout)
    except Exception:  # any failure to reach or configure the engine means "not reachable"
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


DRILL_DATABASE = re.compile(r"rd[0-9a-z]{3}")  # what fresh_database_name makes


def fresh_database_name() -> str:
    """A database name for one drill: ``rd`` and 3 random characters, unique enough among the few concurrent drills.

    No longer than ``admin``: the server limits ``<database>.<collection>`` to 255 bytes, so a drill database
    named longer than the dumped one refused the longest names production holds (a 247-character collection
    under a 41-character drill name). The ledger's ``target`` names it, and ``uri_target`` refuses one that
    holds data, so a clash fails closed instead of mixing two drills.
    """
    return "rd" + "".join(secrets.choice(string.digits + string.ascii_lowercase) for _ in range(3))


OWNER_COLLECTION = "opschecks_drill_owner"  # in a URI drill's database: {_id: "owner", owner: <host>:<pid>:<start>}


def sweep_databases(client: MongoClient) -> list[str]:
    """Drop the drill databases on this server whose owner (a drill of this host) is gone; returns what it dropped."""
    removed = []
    for name in client.list_database_names():
        if not DRILL_DATABASE.fullmatch(name):
            continue  # not a drill's database: never ours to judge
        try:
            marker = client[name][OWNER_COLLECTION].find_one({"_id": "owner"})
        except PyMongoError:
            continue  # dropped meanwhile, or not ours to read
        label = marker.get("owner") if marker else None
        if isinstance(label, str) and orphaned(label):
            client.drop_database(name)
            removed.append(f"database {name} ({label})")
    return removed


@dataclass
class UriTarget:
    """A MongoDB given by URI; the drill restores into a fresh database of its own."""

    client: MongoClient
    database: str
    where: str
    uri: str
    notes: list[str] = field(default_factory=list)

    def restore(self, dump: Dump, workdir: Path) -> Restored:
        binary = shutil.which("mongorestore")
        if binary is None:
            restored = mongorestore.restore(self.client[self.database], dump)
            restored.restorer = "built-in restorer (no mongorestore on this host's PATH)"
            return restored
        where = f"on this host ({binary})"
        try:
            probe = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        except OSError as exc:
            raise mongorestore.ToolCannotRun(f"mongorestore {where} does not run: {exc}") from None
        version = tool_version(probe.returncode, probe.stdout + probe.stderr, where)
        mongorestore.run_binary(mongorestore.command(dump, str(dump.path), self.database, [binary, f"--uri={self.uri}"]),
                                where)
        return Restored(restorer=f"mongorestore {where} ({version})")


@contextmanager
def uri_target(uri: str, database: str, timeout_s: float = 600.0) -> Iterator[UriTarget]:
    """Connect to ``uri``; refuse ``database`` if it holds data; mark it as this run's; drop what killed drills
    left (sweep_databases); drop ``database`` at the end.

    ``timeout_s``: the longest wait for one answer ([restore] server_timeout_s).
    """
    hosts = ",".join(f"{h}:{p}" for h, p in parse_uri(uri)["nodelist"])
    where = f"MongoDB {hosts} database {database}"
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=TIMEOUT_MS, socketTimeoutMS=timeout_s * 1000)
    try:
        try:  # first, so a name a killed drill left is free again
            notes = [f"removed {name}, left by a killed run" for name in sweep_databases(client)]
        except PyMongoError as exc:  # e.g. a user not allowed to list databases: the drill itself can still run
            notes = [f"could not look for databases left by killed drills: {describe(exc) or exc}"]
        existing = client[database].list_collection_names()
        if existing:
            raise Unreachable(f"refusing to restore into {where}: it already holds data "
                              f"({len(existing)} collections, e.g. {sorted(existing)[0]})")
        try:
            # The marker first: from here on, should this run be killed, the next drill drops the database.
            client[database][OWNER_COLLECTION].insert_one({"_id": "owner", "owner": this_run()})
            yield UriTarget(client=client, database=database, where=where, uri=uri, notes=notes)
        finally:
            try:
                client.drop_database(database)
            except PyMongoError as exc:
                raise Unreachable(f"could not drop {where} after the drill (drop it by hand): "
                                  f"{describe(exc) or exc}") from None
    finally:
        client.close()


DRILL_LABEL = "org.opschecks.restore-drill"  # on every drill container: how a leftover is found and removed
OWNER_LABEL = "org.opschecks.owner"  # <host>:<pid>:<pid start time>: whether the run that started it still lives


@dataclass
class ContainerTarget:
    """A throwaway MongoDB container (testcontainers); ``mongorestore`` runs inside it when the image has one."""

    client: MongoClient
    database: str
    where: str
    container: MongoDbContainer
    notes: list[str] = field(default_factory=list)

    def restore(self, dump: Dump, workdir: Path) -> Restored:
        wrapped = self.container.get_wrapped_container()
        with _engine_errors(f"the restore into {self.where}"):
            if not _has_mongorestore(wrapped):
                # An image without the tool (a Mongo-compatible server): restore through the mapped port.
                restored = mongorestore.restore(self.client[self.database], dump)
                restored.restorer = "built-in restorer through the mapped port (the image has no mongorestore)"
                return restored
            version = tool_version(*wrapped.exec_run(["mongorestore", "--version"]), f"in {self.where}")
            # Copy the dump in as a tar stream (put_archive), so remote Docker hosts work too.
            bundle = workdir / "dump-for-container.tar"
            with tarfile.open(bundle, "w") as tar:
                tar.add(dump.path, arcname=f"restore-drill/{dump.path.name}")
            with bundle.open("rb") as fh:
                if not wrapped.put_archive("/", fh):
                    raise Unreachable(f"could not copy the dump into {self.where}")
            bundle.unlink()
            c = self.container
            auth = ["mongorestore", f"--username={c.username}", f"--password={c.password}",
                    "--authenticationDatabase=admin"]
            code, output = wrapped.exec_run(
                mongorestore.command(dump, f"/restore-drill/{dump.path.name}", self.database, auth))
        mongorestore.check_exit(code, output.decode(errors="replace"), f"in {self.where}")
        return Restored(restorer=f"mongorestore in the container ({version})")


def _has_mongorestore(container: Container) -> bool:
    """Whether ``mongorestore`` is on the container's PATH (as the official mongo images have it)."""
    code, _ = container.exec_run(["sh", "-c", "command -v mongorestore"])
    return code == 0


def tool_version(code: int, output: bytes | str, where: str) -> str:
    """The first line of ``mongorestore --version``; a tool that cannot even say that cannot run (ToolCannotRun).

    Engines report a failed exec differently (Docker 126/127, Podman 1 for a
    missing interpreter), so the probe's success, not its exit code, decides.
    """
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    lines = text.strip().splitlines()
    if code != 0 or not lines:
        tail = " | ".join(lines[-3:]) or "no output"
        raise mongorestore.ToolCannotRun(f"mongorestore {where} does not run: `mongorestore --version` exited {code}: "
                                         f"{tail}; nothing was learnt about the backup")
    return lines[0].strip()


def engine_address() -> str:
    """Where the container engine is, for messages: $DOCKER_HOST or Docker's default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@contextmanager
def container_target(image: str, database: str, timeout_s: float = 600.0) -> Iterator[ContainerTarget]:
    """Start ``image`` with testcontainers; the container is removed at the end, on SIGTERM too.

    Each container carries a unique DRILL_LABEL, so removal also finds one whose
    start was interrupted before testcontainers knew its ID.
    """
    token = secrets.token_hex(8)
    container = MongoDbContainer(image).with_kwargs(labels={DRILL_LABEL: token, OWNER_LABEL: this_run()})
    where = f"container {image}"
    with _sigterm_interrupts():
        try:
            with _engine_errors(f"starting {where}"):
                swept = sweep_orphans()
                container.start()
            client: MongoClient = MongoClient(container.get_connection_url(), serverSelectionTimeoutMS=TIMEOUT_MS,
                                              socketTimeoutMS=timeout_s * 1000)
            try:
                yield ContainerTarget(client=client, database=database, where=where, container=container,
                                      notes=[f"removed {name}, left by a killed run" for name in swept])
            finally:
                client.close()
        finally:
            _remove(container, token, where)


def sweep_orphans() -> list[str]:
    """Remove drill containers of this host whose run is gone (see opschecks/areas/restore/orphans.py); returns what it removed."""
    engine = docker.from_env()
    try:
        removed = []
        for leftover in engine.containers.list(all=True, filters={"label": DRILL_LABEL}):
            label = leftover.labels.get(OWNER_LABEL, "")
            if orphaned(label):
                try:
                    leftover.remove(force=True, v=True)
                except docker.errors.NotFound:  # another drill's sweep (an xdist worker's) removed it first
                    continue
                removed.append(f"container {leftover.name} ({label})")
        return removed
    finally:
        engine.close()


def _remove(container: MongoDbContainer, token: str, where: str) -> None:
    """Remove the drill's container; a Ctrl-C or SIGTERM meanwhile is honoured once it is gone."""
    with interrupts.held():
        with _engine_errors(f"removing {where} (labelled {DRILL_LABEL}={token})"):
            container.stop()
            engine = docker.from_env()
            try:
                for leftover in engine.containers.list(all=True, filters={"label": f"{DRILL_LABEL}={token}"}):
                    leftover.remove(force=True, v=True)
            finally:
                engine.close()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Make SIGTERM (how a scheduled job is stopped) unwind like Ctrl-C while a drill's MongoDB exists, so it is removed.

    Only when nothing else handles SIGTERM and only in the main thread (where
    Python runs signal handlers); otherwise the existing handling stands.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _engine_errors(doing: str) -> Iterator[None]:
    """The container engine failing (gone, image missing, API error) is one line naming the engine."""
    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
        reason = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
        raise Unreachable(f"container engine at {engine_address()} failed {doing}: {reason}") from None


URI_ENV_VAR = "OPSCHECKS_MONGO_URI"


@contextmanager
def open_target(env: str, image: str, database: str, uri_option: str | None,
                uri_env: str | None, timeout_s: float = 600.0) -> Iterator[MongoTarget]:
    """The drill's MongoDB: ``--mongo-uri`` if given, else a container if Docker answers, else $OPSCHECKS_MONGO_URI.

    An explicit ``--mongo-uri`` wins over Docker because the user asked for it;
    the environment variable is only the fallback. SIGTERM unwinds like Ctrl-C
    meanwhile, so the container or database is removed when a job is stopped.
    """
    with _sigterm_interrupts():
        with _open_target(env, image, database, uri_option, uri_env, timeout_s) as target:
            yield target


@contextmanager
def _open_target(env: str, image: str, database: str, uri_option: str | None,
                 uri_env: str | None, timeout_s: float) -> Iterator[MongoTarget]:
    if uri_option:
        with uri_target(uri_option, fresh_database_name(), timeout_s) as target:
            yield target
    elif docker_reachable():
        with container_target(image, database, timeout_s) as target:
            yield target
    elif uri_env:
        with uri_target(uri_env, fresh_database_name(), timeout_s) as target:
            yield target
    else:
        raise Unreachable(f"no MongoDB to restore into: Docker is not reachable (start it, or set DOCKER_HOST: "
                          f"scripts/podman-engine.sh sets up Podman) "
                          f"and no --mongo-uri URI or ${URI_ENV_VAR} was given")
