"""End to end: the Ingest UI, broker and API answer; a test submission round trip (docs/e2e.md)."""

from opschecks.areas.area import Area
from opschecks.areas.e2e.codes import CODES
from opschecks.areas.e2e.settings import E2ESettings

AREA = Area("e2e", E2ESettings, CODES)
