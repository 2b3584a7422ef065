"""The sandbox's upload drill: the example infrastructure script (examples/upload_service) run against moto."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "upload_service" / "upload_infra.py"
EXPECTED_TYPES = ["s3:bucket", "sqs:queue", "secretsmanager:secret", "iam:role", "logs:log-group",
                  "lambda:function", "apigateway:restapis", "batch:job-definition"]


def upload_table(env: str, stage: str, aws_endpoint: str) -> list[str]:
    """TOML lines of ``[env.<env>.upload_service]``: drill the example service's ``stage`` (set up, probe, tear down)."""
    def command(action: str) -> str:
        return _toml([sys.executable, str(SCRIPT), action, "--stage", stage])

    return [
        f"[env.{env}.upload_service]",
        f"setup_command = {command('setup')}",
        f"teardown_command = {command('teardown')}",
        "setup_timeout_s = 120",
        "teardown_timeout_s = 120",
        # The example's set-up publishes health.json in its upload-area bucket.
        f"health_url = {_toml(f'{aws_endpoint}/upload-{stage}-area/health.json')}",
        "health_timeout_s = 10",
        f'tag_filters = {{ Name = "upload", Env = {_toml(stage)} }}',
        f"name_prefixes = {_toml([f'upload-{stage}-', f'dcp-upload-{stage}-'])}",
        f"expected_types = {_toml(EXPECTED_TYPES)}",
    ]


def _toml(value: str | list[str]) -> str:
    return json.dumps(value)  # a JSON string or array of strings is valid TOML
