"""The sprint drill: the legacy upload service stood up and torn down, leaving nothing behind (docs/upload_service.md)."""

from opschecks.areas.area import Area
from opschecks.areas.upload_service.codes import CODES
from opschecks.areas.upload_service.settings import UploadSettings

AREA = Area("upload_service", UploadSettings, CODES, opt_in=True, old_table="upload")
