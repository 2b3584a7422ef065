"""Publish a run's reports to S3 (``pytest --publish s3://bucket/prefix``), where a scheduled job leaves them.

Each run gets its own folder, ``<prefix>/<YYYY-MM-DD>/<HHMMSS>-<run id>/``, and
``<prefix>/latest/`` is overwritten with the same files, so a link to the last
report never changes. Uploads use boto3's managed transfer.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
from pathlib import Path

import boto3

from opschecks import aws

_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?")


class PublishError(ValueError):
    """A --publish value that is not s3://bucket/prefix."""


def parse(uri: str) -> tuple[str, str]:
    match = _URI.fullmatch(uri)
    if match is None:
        raise PublishError(f"--publish: expected s3://bucket/prefix, found {uri!r}")
    return match["bucket"], (match["prefix"] or "").strip("/")


def run_folder(prefix: str, started: dt.datetime, run_id: str) -> str:
    started = started.astimezone(dt.timezone.utc)
    return "/".join(filter(None, [prefix, started.strftime("%Y-%m-%d"), f"{started:%H%M%S}-{run_id}"]))


def publish(uri: str, files: list[Path], started: dt.datetime, run_id: str, api_timeout_s: float,
            session: boto3.Session | None = None) -> list[str]:
    """Upload the files that exist to the run's folder and to latest/; the s3:// URIs written.

    The client waits ``api_timeout_s`` as the checks' clients do: a plain session's botocore default (60 s
    per answer) made a silent S3 add two minutes to the run."""
    bucket, prefix = parse(uri)
    s3 = aws.client(session or boto3.Session(), "s3", config=aws.RETRIES.merge(aws.timeouts(api_timeout_s)))
    written = []
    for folder in (run_folder(prefix, started, run_id), "/".join(filter(None, [prefix, "latest"]))):
        for path in files:
            if not path.is_file():
                continue
            key = f"{folder}/{path.name}"
            content_type = mimetypes.guess_type(path.name)[0] or "text/plain"
            s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type})
            written.append(f"s3://{bucket}/{key}")
    return written
