"""The sandbox: the whole checklist's infrastructure on loopback, for newcomers and for the suite's tests.

- moto's server mode: a real S3/CloudWatch/EC2/tagging API endpoint;
- SecantusDB: a real MongoDB wire-protocol server on WiredTiger (its own process), for restore drills;
- a fake Kubernetes API (kubeapi.py) behind a generated kubeconfig;
- per environment, a loopback Ingest UI/broker and API over TLS (ingest.py), signed by a CA the config trusts.

Every server binds 127.0.0.1 on a free port; ``stop`` shuts them all down and
removes the temp dir, and ``running`` guarantees that on error and Ctrl-C.
SIGKILL runs no clean-up, so the temp dir names its owner (the host, PID and
PID start time: opschecks/areas/restore/orphans.py) and the next start removes
those whose owner is gone; ``Sandbox.swept`` says what it removed. SecantusDB,
the one server in a process of its own, runs in its own session: a terminal's
Ctrl-C reaches the foreground process group only, and the suite, not the
signal, stops the database its teardown still uses.
Each part of the seed data is announced through ``step`` so ``pytest --sandbox``
and ``python -m opschecks sandbox`` can say what they are doing (the servers
start in a second or two).

Seed data is a function of the clock (``opschecks.clock``, which the sandbox
may shift by days) and, for backups, of each backup's own date; the ledger
the sandbox's config names is emptied at every start, so runs never exhaust
the backups to drill or compare with a previous sandbox's drills.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from opschecks import clock
from opschecks.areas.restore import orphans
from opschecks.sandbox.ingest import FakeIngest, make_certificates
from opschecks.sandbox.kubeapi import FakeKubeAPI
from opschecks.sandbox.seed import BACKUP_DAYS, BUCKET, live_database, seed_backups, seed_kube, seed_live
from opschecks.sandbox.cost_explorer import FakeCostExplorer
from opschecks.sandbox.eks_api import FakeEKS, catalog
from opschecks.sandbox.seed_cluster import eks_name, monthly_costs, seed_cluster_aws, seed_cluster_kube
from opschecks.sandbox.seed_usage import WAIVERS_FILE, seed_usage
from opschecks.sandbox.upload_config import upload_table

ENVS = ("dev", "staging", "prod")
REGION = "us-east-1"
INGEST_TOKEN = "sandbox-ingest-token"  # what the sandbox's Ingest API takes as a bearer token for writes
INGEST_TIME_SCALE = 0.5  # the sandbox's validator: Valid about 0.5 s after a submission is created
SEEDED_SUBMISSIONS = 3  # each env's Ingest lists these before any check runs
MOTO_ACCOUNT = "123456789012"  # what moto answers STS GetCallerIdentity with by default
LEDGER = Path("reports") / "sandbox-ledger.sqlite"  # under the project root: python -m opschecks due --sandbox
TEMP_PREFIX = "opschecks-sandbox-"  # the sandbox's temp dir under $TMPDIR (it names its owner: orphans.OWNER_FILE)
# Each pytest --sandbox run records in its own file here, so two runs in one clone never empty each other's
# ledger; a finished run's is then published as LEDGER (the latest finished run's, what due --sandbox reads).
RUN_LEDGERS = Path("reports") / "sandbox-ledgers"
STALE_RUN_LEDGER_S = 7 * 24 * 3600  # a run ledger left by a killed run is removed by a run this much later

Step = Callable[[str], AbstractContextManager[object]]  # announces a step, and its end when the block exits


@contextmanager
def silent(_: str) -> Iterator[None]:
    yield


@dataclass
class Sandbox:
    root: Path
    aws_endpoint: str
    mongo_uri: str
    kube: FakeKubeAPI
    kubeconfig: Path
    config_path: Path
    ledger: Path
    now: dt.datetime
    _stack: ExitStack = field(repr=False)
    ingest: dict[str, FakeIngest] = field(default_factory=dict)  # per env
    cost_explorer: FakeCostExplorer | None = None  # moto serves no GetCostForecast
    eks: FakeEKS | None = None  # moto serves no DescribeClusterVersions (nor upgradePolicy)
    swept: list[str] = field(default_factory=list)  # temp dirs of killed sandboxes this start removed

    def swept_line(self) -> str | None:
        """One line naming what a killed sandbox left and this start removed (None: nothing)."""
        if not self.swept:
            return None
        return f"sandbox: removed what {len(self.swept)} killed sandbox run(s) left: {'; '.join(self.swept)}"

    @property
    def env_vars(self) -> dict[str, str | None]:
        """The variables that point boto3, the kubernetes client and the suite at the sandbox (None: unset)."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_PROFILE": None,
            "AWS_SESSION_TOKEN": None,
            "KUBECONFIG": str(self.kubeconfig),
            "OPSCHECKS_CONFIG": str(self.config_path),
            "OPSCHECKS_MONGO_URI": self.mongo_uri,
            "AWS_ENDPOINT_URL_COST_EXPLORER": self.cost_explorer.url if self.cost_explorer else None,
            "AWS_ENDPOINT_URL_EKS": self.eks.url if self.eks else None,
            clock.SHIFT_VAR: os.environ.get(clock.SHIFT_VAR) or None,
        }

    def s3(self):  # noqa: ANN201 (a boto3 client)
        return self.client("s3")

    def client(self, service: str):  # noqa: ANN201 (a boto3 client)
        endpoint = self.eks.url if service == "eks" and self.eks else self.aws_endpoint
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id="sandbox", aws_secret_access_key="sandbox")

    def stop(self) -> None:
        self._stack.close()


def start(seed: bool = True, now: dt.datetime | None = None, ledger: Path | None = None,
          step: Step = silent) -> Sandbox:
    """Start every server (and seed them unless ``seed`` is False); the caller must ``stop()``.

    ``ledger``: the SQLite ledger the sandbox's config names, emptied now (default: one in the temp dir).
    """
    now = now or clock.now()
    stack = ExitStack()
    try:
        swept = orphans.sweep_temp_dirs(TEMP_PREFIX)  # what killed sandboxes left (their owner is gone)
        root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        (root / orphans.OWNER_FILE).write_text(orphans.this_run())

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        host, port = moto.get_host_and_port()

        mongo_uri = _start_secantus(root, stack)

        kube = FakeKubeAPI()
        kube.start()
        stack.callback(kube.stop)
        kubeconfig = kube.write_kubeconfig(root / "kubeconfig", {f"sandbox-{env}": env for env in ENVS})

        ledger = reset_ledger(ledger) if ledger is not None else root / "ledger.sqlite"
        sandbox = Sandbox(root=root, aws_endpoint=f"http://{host}:{port}", mongo_uri=mongo_uri, kube=kube,
                          kubeconfig=kubeconfig, config_path=root / "opschecks.toml", ledger=ledger, now=now,
                          _stack=stack, swept=swept)
        sandbox.cost_explorer = FakeCostExplorer(*monthly_costs(now))
        sandbox.cost_explorer.start()
        stack.callback(sandbox.cost_explorer.stop)
        sandbox.eks = FakeEKS(sandbox.aws_endpoint, catalog(now, standard=["1.30", "1.31", "1.32"],
                                                           extended=["1.29", "1.28"], unsupported=["1.27", "1.26"]))
        sandbox.eks.start()
        stack.callback(sandbox.eks.stop)
        certs = make_certificates(root / "tls")
        (root / "ingest-token").write_text(INGEST_TOKEN)
        for env in ENVS:
            sandbox.ingest[env] = FakeIngest(certs, INGEST_TOKEN, time_scale=INGEST_TIME_SCALE)
            sandbox.ingest[env].start()
            stack.callback(sandbox.ingest[env].stop)
        sandbox.config_path.write_text(config_text(sandbox.aws_endpoint, ledger, sandbox.ingest, root, mongo_uri))
        if seed:
            seed_all(sandbox, step)
        return sandbox
    except BaseException:
        stack.close()
        raise


def seed_all(sandbox: Sandbox, step: Step = silent) -> None:
    """The whole healthy picture: backups in S3, three clusters, the account's usage."""
    with step(f"seeding {len(ENVS) * BACKUP_DAYS} backups (real mongodump tarballs) into s3://{BUCKET}/ "
              "and the live databases they were dumped from"):
        seed_backups(sandbox.s3(), list(ENVS), sandbox.now)
        seed_live(sandbox.mongo_uri, list(ENVS), sandbox.now)
    with step(f"seeding {len(ENVS)} clusters: pods, workloads, backup CronJobs, nodes, volumes"):
        for env in ENVS:
            seed_kube(sandbox.kube, env, env, sandbox.now)
            seed_cluster_kube(sandbox.kube, env, env, sandbox.now)
    with step("seeding AWS usage: CloudWatch history, account resources, waivers, EKS clusters, node CPU"):
        seed_usage(sandbox)
        seed_cluster_aws(sandbox.client, list(ENVS), sandbox.now)  # config_text names the EKS clusters
    with step(f"seeding {SEEDED_SUBMISSIONS} earlier submissions in each env's Ingest"):
        # A real Ingest lists its history; an empty prod listing is E2E006 (min_submissions is 1 there).
        for ingest in sandbox.ingest.values():
            for _ in range(SEEDED_SUBMISSIONS):
                ingest.create()


def reset_ledger(path: Path) -> Path:
    """Empty the sandbox's ledger (with SQLite's side files) so this sandbox's runs start afresh; its absolute path."""
    path = path.resolve()
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                  path.with_name(path.name + "-journal")):
        stale.unlink(missing_ok=True)
    return path


def run_ledger(project: Path) -> Path:
    """A new, empty ledger of this run's own under the project root (reports/sandbox-ledgers/<UTC time>-<pid>.sqlite);
    run ledgers a killed run left over a week ago are removed."""
    folder = (project / RUN_LEDGERS).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STALE_RUN_LEDGER_S
    for old in folder.glob("*.sqlite*"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return reset_ledger(folder / f"{stamp}-{os.getpid()}.sqlite")


def publish_ledger(run: Path, project: Path) -> Path | None:
    """The run is over: its ledger becomes LEDGER (a consistent copy, renamed into place, so a reader never sees
    half of it and a run still writing its own file is not touched), and its own file is removed. None when the
    run recorded nothing (stopped before any check): LEDGER stays the previous finished run's."""
    target = (project / LEDGER).resolve()
    if not run.exists():
        return None
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    source, copy = sqlite3.connect(run), sqlite3.connect(tmp)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file: no -wal for the rename to orphan
    finally:
        source.close()
        copy.close()
    reset_ledger(target)  # the previous one's side files go with it
    tmp.replace(target)
    reset_ledger(run)
    return target


def _start_secantus(root: Path, stack: ExitStack) -> str:
    """Start SecantusDB in its own process on a free port; return its URI.

    Its own process, so a restore drill's inserts use the second core and a stop
    frees the port at once (the in-process server's accept thread holds it). It dies
    with this process even when that is killed outright (opschecks.sandbox.child).
    Its own session too: a terminal's Ctrl-C goes to the whole foreground process
    group, and would kill it while the run's teardown (a drill dropping its
    database) still needs it; the stack's ``stop`` ends it on every other path.
    """
    log = root / "secantusdb.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "opschecks.sandbox.child", str(os.getpid()), "--",
             sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", "0",
             "--storage-path", str(root / "mongo"), "--log-level", "INFO"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    stack.callback(_terminate, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())
        if match:
            return f"mongodb://127.0.0.1:{match[1]}/"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"SecantusDB did not start: {log.read_text()[-500:]}")


def _terminate(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running(seed: bool = True, now: dt.datetime | None = None, ledger: Path | None = None,
            step: Step = silent) -> Iterator[Sandbox]:
    sandbox = start(seed=seed, now=now, ledger=ledger, step=step)
    try:
        yield sandbox
    finally:
        sandbox.stop()


def e2e_table(env: str, ingest: FakeIngest | None, root: Path, round_trip: bool) -> list[str]:
    """TOML lines of ``[env.<env>.e2e]`` (and its round trip) for the sandbox's Ingest of ``env``; without one
    (``due --sandbox``, which starts no server), the same tables pointing nowhere, so the same tasks exist."""
    if ingest is None:
        lines = [f"[env.{env}.e2e]", 'ui_url = "https://127.0.0.1:1/"', 'api_url = "https://127.0.0.1:1/"']
    else:
        lines = [f"[env.{env}.e2e]", f'ui_url = "{ingest.ui_url}"', f'api_url = "{ingest.api_url}"',
                 f'ca_bundle = "{ingest.certs.ca_file}"']
    if round_trip:
        lines += [f"[env.{env}.e2e.round_trip]", f'token_file = "{root / "ingest-token"}"', "deadline_s = 20",
                  "poll_s = 0.2"]
    return lines


def config_text(aws_endpoint: str, ledger: Path, ingest: dict[str, FakeIngest] | None = None,
                root: Path | None = None, mongo_uri: str | None = None) -> str:
    """The suite's config for the sandbox: the three environments, each its own kube context and EKS cluster
    (``ingest``: each env's loopback Ingest, for the e2e tables; without it, as ``due --sandbox`` reads it,
    with the same tasks but no server behind them)."""
    lines = [
        "# Generated by the sandbox: three environments on loopback servers.",
        "[defaults]",
        f'aws_region = "{REGION}"',
        "",
        "[defaults.aws_usage]",
        f'waivers_file = "{WAIVERS_FILE}"  # written when the usage picture is seeded',
        "",
        "[ledger]",
        f"path = {json.dumps(str(ledger))}",
    ]
    for env in ENVS:
        lines += ["", f"[env.{env}]", f'kube_context = "sandbox-{env}"']
        if env != "prod":  # the upload drill runs in dev and staging only
            # moto's one account; prod (protected by its name) declares none, as all three share it here.
            lines.append(f'aws_account_id = "{MOTO_ACCOUNT}"')
            lines += upload_table(env, env, aws_endpoint)
        lines += e2e_table(env, (ingest or {}).get(env), root or ledger.parent, round_trip=env != "prod")
        lines += [f"[env.{env}.cluster]", f'eks_cluster = "{eks_name(env)}"']
        if mongo_uri:  # the live database the seeded backups were dumped from (seed_live)
            lines += [f"[env.{env}.restore]", f"live_uri = {json.dumps(mongo_uri)}",
                      f'live_database = "{live_database(env)}"']
    return "\n".join(lines) + "\n"
