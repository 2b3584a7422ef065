"""The upload drill's settings (``[env.<name>.upload_service]``), a leaf."""

from __future__ import annotations

from dataclasses import dataclass, field

@dataclass(frozen=True)
class UploadSettings:
    setup_command: list[str]  # argv, run without a shell, e.g. ["make", "-C", "upload", "deploy"]
    teardown_command: list[str]
    workdir: str | None = None  # where the commands run; default: the current directory
    # The legacy Terraform + Aurora took tens of minutes each way (Lambda ENIs linger on the way down).
    setup_timeout_s: float = 3600.0
    teardown_timeout_s: float = 3600.0
    health_url: str | None = None  # probed after set-up; must answer 2xx
    health_timeout_s: float = 120.0  # keep probing this long after set-up
    # How the service's resources are found (see opschecks.areas.upload_service.inventory): every tag filter must match.
    tag_filters: dict[str, str | list[str]] = field(default_factory=dict)  # e.g. {Name = "upload", Env = "dev"}
    name_prefixes: list[str] = field(default_factory=list)  # e.g. ["upload-dev-", "dcp-upload-dev-"]
    expected_types: list[str] = field(default_factory=list)  # types the set-up must create, e.g. "sqs:queue"
    # ARNs (fnmatch patterns) of long-lived resources the filters find that are not the drill's: they must be
    # there before and after; anything else found after the teardown is a leftover.
    shared_resources: list[str] = field(default_factory=list)

    @property
    def filters(self) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else list(v) for k, v in self.tag_filters.items()}
