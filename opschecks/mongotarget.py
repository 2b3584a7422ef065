"""Where a restore drill restores to: a throwaway MongoDB container, or a MongoDB the user gives by URI.

Both offer one interface: a pymongo ``client``, the ``database`` the drill
restores into, ``where`` (for messages, without credentials) and
``restore(dump, workdir)``. Both are context managers that remove what they
made (container; database) on success, failure and Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import docker
from pymongo import MongoClient
from pymongo.uri_parser import parse_uri
from testcontainers.community.mongodb import MongoDbContainer

from opschecks import mongorestore
from opschecks.errors import Unreachable
from opschecks.mongorestore import Dump, Restored

TIMEOUT_MS = 10_000


class MongoTarget(Protocol):
    client: MongoClient
    database: str
    where: str

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


def fresh_database_name(env: str, now: dt.datetime | None = None) -> str:
    """A database name no one else uses: ``restore_drill_<env>_<UTC time>_<random>``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"restore_drill_{env}_{now:%Y%m%d%H%M%S}_{secrets.token_hex(3)}"[:63]


@dataclass
class UriTarget:
    """A MongoDB given by URI; the drill restores into a fresh database of its own."""

    client: MongoClient
    database: str
    where: str
    uri: str

    def restore(self, dump: Dump, workdir: Path) -> Restored:
        binary = shutil.which("mongorestore")
        if binary is None:
            return mongorestore.restore(self.client[self.database], dump)
        mongorestore.run_binary(mongorestore.command(dump, str(dump.path), self.database, [binary, f"--uri={self.uri}"]))
        return Restored()


@contextmanager
def uri_target(uri: str, database: str) -> Iterator[UriTarget]:
    """Connect to ``uri``; refuse ``database`` if it holds data; drop it at the end."""
    hosts = ",".join(f"{h}:{p}" for h, p in parse_uri(uri)["nodelist"])
    where = f"MongoDB {hosts} database {database}"
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=TIMEOUT_MS)
    try:
        existing = client[database].list_collection_names()
        if existing:
            raise Unreachable(f"refusing to restore into {where}: it already holds data "
                              f"({len(existing)} collections, e.g. {sorted(existing)[0]})")
        try:
            yield UriTarget(client=client, database=database, where=where, uri=uri)
        finally:
            client.drop_database(database)
    finally:
        client.close()


@dataclass
class ContainerTarget:
    """A throwaway MongoDB in Docker (testcontainers); ``mongorestore`` runs inside it."""

    client: MongoClient
    database: str
    where: str
    container: MongoDbContainer

    def restore(self, dump: Dump, workdir: Path) -> Restored:
        # Copy the dump in as a tar stream (put_archive), so remote Docker hosts work too.
        bundle = workdir / "dump-for-container.tar"
        with tarfile.open(bundle, "w") as tar:
            tar.add(dump.path, arcname=f"restore-drill/{dump.path.name}")
        wrapped = self.container.get_wrapped_container()
        with bundle.open("rb") as fh:
            if not wrapped.put_archive("/", fh):
                raise Unreachable(f"could not copy the dump into {self.where}")
        bundle.unlink()
        c = self.container
        auth = ["mongorestore", f"--username={c.username}", f"--password={c.password}", "--authenticationDatabase=admin"]
        code, output = wrapped.exec_run(
            mongorestore.command(dump, f"/restore-drill/{dump.path.name}", self.database, auth))
        mongorestore.check_exit(code, output.decode(errors="replace"))
        return Restored()


@contextmanager
def container_target(image: str, database: str) -> Iterator[ContainerTarget]:
    """Start ``image`` with testcontainers; the container is removed at the end (and by Ryuk if we die)."""
    container = MongoDbContainer(image)
    try:
        container.start()
        client: MongoClient = MongoClient(container.get_connection_url(), serverSelectionTimeoutMS=TIMEOUT_MS)
        try:
            yield ContainerTarget(client=client, database=database, where=f"container {image}", container=container)
        finally:
            client.close()
    finally:
        container.stop()


URI_ENV_VAR = "OPSCHECKS_MONGO_URI"


@contextmanager
def open_target(env: str, image: str, database: str, uri_option: str | None,
                uri_env: str | None) -> Iterator[MongoTarget]:
    """The drill's MongoDB: ``--mongo-uri`` if given, else a container if Docker answers, else $OPSCHECKS_MONGO_URI.

    An explicit ``--mongo-uri`` wins over Docker because the user asked for it;
    the environment variable (the sandbox sets it) is only the fallback.
    """
    if uri_option:
        with uri_target(uri_option, fresh_database_name(env)) as target:
            yield target
    elif docker_reachable():
        with container_target(image, database) as target:
            yield target
    elif uri_env:
        with uri_target(uri_env, fresh_database_name(env)) as target:
            yield target
    else:
        raise Unreachable(f"no MongoDB to restore into: Docker is not reachable (start it or set DOCKER_HOST) "
                          f"and no --mongo-uri URI or ${URI_ENV_VAR} was given")
